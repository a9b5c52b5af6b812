package input

import "testing"

func TestLocalProbePort(t *testing.T) {
	for u, want := range map[string]string{
		"http://localhost:3000/health": "3000",
		"http://127.0.0.1/":            "80",
		"https://[::1]/":               "443",
		"http://0.0.0.0:8080/":         "8080",
		"http://127.1:3000/":           "3000",
		"http://app:3000/":             "",
		"http://localhost.example/":    "",
		"":                             "",
	} {
		c := &Container{Healthcheck: Healthcheck{ProbeURL: u}}
		if got := c.LocalProbePort(); got != want {
			t.Errorf("LocalProbePort(%q) = %q, want %q", u, got, want)
		}
	}
}
