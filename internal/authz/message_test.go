package authz

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hardened-authz/hardened-authz/internal/createreq"
)

func TestBodyErrorMessage(t *testing.T) {
	json := "application/json"
	tests := []struct {
		name    string
		err     error
		headers map[string]string
		want    []string
		not     []string
	}{
		{"over dockerd's 1 MiB", createreq.ErrNoBody,
			map[string]string{"Content-Type": json, "Content-Length": "1572864"},
			[]string{"HA091: ", "1572864 bytes (1.5 MiB)", "under 1 MiB", "29.3.1"}, nil},
		{"exactly 1 MiB is dropped too", createreq.ErrNoBody,
			map[string]string{"Content-Type": json, "Content-Length": "1048576"},
			[]string{"1048576 bytes (1.0 MiB)"}, nil},
		{"headers in another case", createreq.ErrNoBody,
			map[string]string{"content-type": json, "CONTENT-LENGTH": "2000000"},
			[]string{"2000000 bytes"}, nil},
		{"just under the limit is no size problem", createreq.ErrNoBody,
			map[string]string{"Content-Type": json, "Content-Length": "1048575"},
			[]string{"without its JSON body"}, []string{"MiB)"}},
		{"empty body", createreq.ErrNoBody,
			map[string]string{"Content-Type": json, "Content-Length": "0"},
			[]string{"without its JSON body", "Content-Type: application/json"}, []string{"bytes"}},
		{"chunked", createreq.ErrNoBody,
			map[string]string{"Content-Type": "application/json; charset=utf-8"},
			[]string{"without a Content-Length (chunked)", "CVE-2024-41110", "under 1 MiB"}, nil},
		{"no Content-Type", createreq.ErrNoBody,
			map[string]string{"Content-Length": "120"},
			[]string{"without a Content-Type", "Content-Type: application/json"}, nil},
		{"other Content-Type", createreq.ErrNoBody,
			map[string]string{"Content-Type": "text/plain", "Content-Length": "120"},
			[]string{`Content-Type "text/plain"`}, nil},
		{"garbled Content-Length", createreq.ErrNoBody,
			map[string]string{"Content-Type": json, "Content-Length": "lots"},
			[]string{"without its JSON body"}, []string{"lots"}},
		{"no headers at all", createreq.ErrNoBody, nil,
			[]string{"without a Content-Type"}, nil},
		{"decode error", fmt.Errorf("container create body does not decode: %w", errors.New("json: cannot unmarshal number into Go struct field containerConfigWrapper.Cmd of type []string")),
			map[string]string{"Content-Type": json, "Content-Length": "20"},
			[]string{"HA091: the container create body cannot be checked: container create body does not decode", "Cmd of type []string", "Send a valid"}, nil},
		{"decode error quoting a secret", errors.New(`invalid port 'http://admin:s3cret@h/'`), nil,
			[]string{"<redacted>"}, []string{"s3cret"}},
		{"huge decode error", errors.New("invalid port '" + strings.Repeat("é", 1<<20) + "'"), nil,
			[]string{"…"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := BodyErrorMessage(tt.err, tt.headers)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(msg, n) {
					t.Errorf("message has %q:\n%s", n, msg)
				}
			}
			if !strings.HasPrefix(msg, RuleBadCreateBody+": ") || len(msg) > 1024 || !utf8.ValidString(msg) {
				t.Errorf("message is not one bounded HA091 message (%d bytes):\n%.2000s", len(msg), msg)
			}
		})
	}
}
