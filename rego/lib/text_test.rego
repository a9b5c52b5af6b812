package hardened.lib.text

test_basename if {
	basename("/usr/bin/curl") == "curl"
	basename("curl") == "curl"
	basename("/nodejs/bin/node") == "node"
	basename("") == ""
}

test_truncate_keeps_short_strings if {
	truncate("abc", 3) == "abc"
	truncate("", 3) == ""
}

test_truncate_cuts_long_strings if {
	truncate("abcdef", 4) == "abc…"
	count(truncate(concat("", [x | some _ in numbers.range(1, 500); x := "x"]), 80)) == 80
}

test_quote_plain if {
	quote("service:app") == `"service:app"`
}

test_quote_keeps_html_characters if {
	quote("r=>r.ok&&x<1") == `"r=>r.ok&&x<1"`
}

test_quote_escapes if {
	quote(`a"b\c`) == `"a\"b\\c"`
	quote("a\nb") == `"a\nb"`
	json.unmarshal(quote(`say "hi" \ bye`)) == `say "hi" \ bye`
}

test_exec_array if {
	exec_array(["CMD", "curl", "-f", "http://localhost:3000/health"]) == `["CMD", "curl", "-f", "http://localhost:3000/health"]`
	json.unmarshal(exec_array(["CMD", `a"b`])) == ["CMD", `a"b`]
	exec_array([]) == "[]"
}

test_duration_seconds if {
	duration(30000000000) == "30s"
	duration(3000000000) == "3s"
	duration(10000000000) == "10s"
}

test_duration_minutes_hours if {
	duration(90000000000) == "1m30s"
	duration(60000000000) == "1m"
	duration(3600000000000) == "1h"
	duration(3661000000000) == "1h1m1s"
	duration(7200000000000 * 30) == "60h"
}

test_duration_sub_second if {
	duration(1500000000) == "1500ms"
	duration(250000000) == "250ms"
	duration(1500) == "1500ns"
	duration(2000) == "2us"
}

test_duration_unset_is_undefined if {
	not duration(0)
	not duration(-1)
}
