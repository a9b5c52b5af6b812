# METADATA
# title: Text helpers
# description: |
#   Small string helpers shared by the libraries and the rules: path basename,
#   bounded excerpts, double-quoted strings for YAML/JSON snippets, compose
#   durations and exec-form arrays rendered the way people write them.
package hardened.lib.text

# basename("/usr/bin/curl") == "curl"; basename("curl") == "curl".
basename(p) := regex.replace(p, `(?s)^.*/`, "")

# truncate(s, n): s itself when it has at most n characters, else its first
# n-1 characters followed by "…".
truncate(s, n) := s if count(s) <= n

else := concat("", [substring(s, 0, n - 1), "…"])

# quote(s): s as a double-quoted string, valid in both JSON and YAML.
# Unlike json.marshal it does not escape <, > and & (which would make a
# snippet such as `r=>r.ok` unreadable). Control characters are escaped as
# JSON does, so the result stays a single line.
quote(s) := concat("", ["\"", s, "\""]) if not regex.match(_escaped, s)

else := concat("", ["\"", strings.replace_n(_escapes, s), "\""])

# A character quote must escape (strings.replace_n is costly: skip it when
# there is none).
_escaped := `[\\"\n\r\t]`

_escapes := {
	"\\": "\\\\",
	"\"": "\\\"",
	"\n": "\\n",
	"\r": "\\r",
	"\t": "\\t",
}

# exec_array(["CMD", "curl", "-f", "http://x"]) ==
#   `["CMD", "curl", "-f", "http://x"]` (the spacing people write in compose
# files; also valid JSON).
exec_array(arr) := concat("", [`["`, concat(`", "`, arr), `"]`]) if {
	count(arr) > 0
	not regex.match(_escaped, concat("", arr))
} else := concat("", ["[", concat(", ", [quote(s) | some s in arr]), "]"])

# duration(ns) renders a Go/compose duration: 30000000000 -> "30s",
# 90000000000 -> "1m30s", 3600000000000 -> "1h", 1500000000 -> "1500ms".
# Undefined for 0 or negative values (unset).
duration(ns) := _hms(ns / 1000000000) if {
	ns > 0
	ns % 1000000000 == 0
} else := sprintf("%dms", [ns / 1000000]) if {
	ns > 0
	ns % 1000000 == 0
} else := sprintf("%dus", [ns / 1000]) if {
	ns > 0
	ns % 1000 == 0
} else := sprintf("%dns", [ns]) if {
	ns > 0
	ns % 1000 != 0
}

_hms(secs) := sprintf("%ds", [secs]) if secs < 60

else := concat("", [p |
	some u in [["h", 3600, 1000000000000], ["m", 60, 60], ["s", 1, 60]]
	n := floor(secs / u[1]) % u[2]
	n > 0
	p := sprintf("%d%s", [n, u[0]])
])
