package hardened.lib.image

# A bind or volume over the program: nothing can say, not even the catalog.
test_program_under_a_bind_is_unknown if {
	inp := object.union(_on("dhi.io/node", "24"), {"image": {"programs": {"curl": {"found": false, "path": "", "resolved": "", "unknown": true, "hidden_by": "/usr/bin"}}}})
	program("curl") == {"source": "mount"} with input as inp
	image_program("curl") == {"source": "mount"} with input as inp
	has_program("curl") with input as inp
	not program_missing("curl") with input as inp
	not image_program_missing("curl") with input as inp
	program_source("curl") == "mount" with input as inp
}

# A tmpfs that hides the image's program: missing, from the index.
test_program_hidden_by_tmpfs_is_missing if {
	inp := object.union(_on("dhi.io/curl", "8"), {"image": {"programs": {"curl": {"found": false, "path": "", "resolved": "", "hidden_by": "/usr/bin"}}}})
	program_missing("curl") with input as inp
	program_source("curl") == "index" with input as inp
}

test_shell_under_a_bind_is_unknown if {
	inp := object.union(_on("dhi.io/node", "24"), {"image": {"programs": {"/bin/sh": {"found": false, "path": "", "resolved": "", "unknown": true, "hidden_by": "/bin"}}}})
	shell == {"source": "mount"} with input as inp
	has_shell with input as inp
}
