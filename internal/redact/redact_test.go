package redact

import (
	"strings"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		// curl
		{"curl -u", `curl -fsS -u admin:s3cret http://localhost:3000/health`,
			`curl -fsS -u admin:<redacted> http://localhost:3000/health`},
		{"curl --user", `curl --user admin:s3cret http://localhost:3000/`,
			`curl --user admin:<redacted> http://localhost:3000/`},
		{"curl -u attached", `curl -uadmin:s3cret http://localhost/`,
			`curl -uadmin:<redacted> http://localhost/`},
		{"curl -u last in a cluster", `curl -fsu admin:s3cret http://localhost/`,
			`curl -fsu admin:<redacted> http://localhost/`},
		{"curl -u without password", `curl -u admin http://localhost/`,
			`curl -u admin http://localhost/`},
		{"curl -H double quotes", `curl -f -H "Authorization: Bearer abc.def.ghi" http://localhost:3000/`,
			`curl -f -H "Authorization: <redacted>" http://localhost:3000/`},
		{"curl -H single quotes", `curl -H 'X-Api-Key: 0123abcd' http://localhost/`,
			`curl -H 'X-Api-Key: <redacted>' http://localhost/`},
		{"curl --header unquoted", `curl --header X-Token:0123abcd http://localhost/`,
			`curl --header X-Token:<redacted> http://localhost/`},
		{"curl -H from a file", `curl -H @headers.txt http://localhost/`,
			`curl -H @headers.txt http://localhost/`},
		{"curl --oauth2-bearer", `curl --oauth2-bearer eyJhbGciOi.eyJzdWIi.c2ln http://localhost/`,
			`curl --oauth2-bearer <redacted> http://localhost/`},
		{"curl --proxy-user", `curl --proxy-user bob:hunter2 -x http://proxy:3128 http://localhost/`,
			`curl --proxy-user bob:<redacted> -x http://proxy:3128 http://localhost/`},
		{"curl -U", `curl -U bob:hunter2 -x http://proxy:3128 http://localhost/`,
			`curl -U bob:<redacted> -x http://proxy:3128 http://localhost/`},
		{"curl -E", `curl -E client.pem:certpass https://localhost/`,
			`curl -E client.pem:<redacted> https://localhost/`},
		{"curl --cert", `curl --cert /certs/client.crt:certpass --key /certs/client.key https://localhost/`,
			`curl --cert /certs/client.crt:<redacted> --key <redacted> https://localhost/`},
		{"curl --pass", `curl --key k.pem --pass keyphrase https://localhost/`,
			`curl --key <redacted> --pass <redacted> https://localhost/`},
		{"grep -E keeps its pattern", `curl -s http://localhost/status | grep -E 'status: ?ok'`,
			`curl -s http://localhost/status | grep -E 'status: ?ok'`},

		// wget
		{"wget --password=", `wget -q --user=admin --password=s3cret -O- http://localhost/`,
			`wget -q --user=admin --password=<redacted> -O- http://localhost/`},
		{"wget --http-password and --header=", `wget --http-password s3cret --header="Authorization: Bearer tok" http://localhost/`,
			`wget --http-password <redacted> --header="Authorization: <redacted>" http://localhost/`},
		{"wget --header= in an exec array", `["CMD", "wget", "-q", "--header=Authorization: Bearer tok123", "http://localhost/"]`,
			`["CMD", "wget", "-q", "--header=Authorization: <redacted>", "http://localhost/"]`},
		{"wget --proxy-password quoted", `wget --proxy-password='p a s s' http://localhost/`,
			`wget --proxy-password='<redacted>' http://localhost/`},
		{"wget flags without a value", `wget --auth-no-challenge --ask-password http://localhost/`,
			`wget --auth-no-challenge --ask-password http://localhost/`},

		// URLs
		{"userinfo", `http://admin:s3cret@localhost:3000/`, `http://<redacted>@localhost:3000/`},
		{"token as user", `git ls-remote https://ghp_abc123@github.com/org/repo`,
			`git ls-remote https://<redacted>@github.com/org/repo`},
		{"password only", `redis://:p4ss@redis:6379/0`, `redis://<redacted>@redis:6379/0`},
		{"password with an @", `http://admin:p@ss@localhost/`, `http://<redacted>@localhost/`},
		{"@ in the path stays", `http://localhost:3000/users/@me`, `http://localhost:3000/users/@me`},
		{"scheme-less userinfo", `curl -f admin:s3cret@localhost:3000/health`,
			`curl -f <redacted>@localhost:3000/health`},
		{"scheme-less with an @ in the password", `curl admin:p@ss@localhost/`, `curl <redacted>@localhost/`},
		{"authority cut short", `CMD-SHELL ("curl -f http://admin:s3cr…")`, `CMD-SHELL ("curl -f http://<redacted>…")`},
		{"path cut short", `probing http://localhost:3000/heal… from`, `probing http://localhost:3000/heal… from`},
		{"query token", `curl -f "http://localhost:3000/health?token=abc123&verbose=1"`,
			`curl -f "http://localhost:3000/health?token=<redacted>&verbose=1"`},
		{"query parameters", `https://api.example.com/v1/check?api_key=AIzaSyD&access_token=ya29.a0&X-Amz-Signature=deadbeef&page=2#top`,
			`https://api.example.com/v1/check?api_key=<redacted>&access_token=<redacted>&X-Amz-Signature=<redacted>&page=2#top`},
		{"query password and apikey", `http://h/?user=bob&password=hunter2&apikey=k1`,
			`http://h/?user=bob&password=<redacted>&apikey=<redacted>`},

		// Renderings
		{"exec array", `["CMD", "curl", "-u", "admin:s3cret", "-H", "Authorization: Bearer abc.def", "http://admin:s3cret@localhost:3000/"]`,
			`["CMD", "curl", "-u", "admin:<redacted>", "-H", "Authorization: <redacted>", "http://<redacted>@localhost:3000/"]`},
		{"go-quoted shell command", `CMD-SHELL ("curl -H \"Authorization: Bearer abc\" -u admin:pw http://localhost/")`,
			`CMD-SHELL ("curl -H \"Authorization: <redacted>\" -u admin:<redacted> http://localhost/")`},
		{"compose snippet", "  app-health:\n    image: dhi.io/curl:8-debian13-dev\n    network_mode: \"service:app\"\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://admin:s3cret@localhost:3000/\"]\n      interval: 30s",
			"  app-health:\n    image: dhi.io/curl:8-debian13-dev\n    network_mode: \"service:app\"\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://<redacted>@localhost:3000/\"]\n      interval: 30s"},
		{"docker run line", `docker run -d --name app-health --network container:app --memory 32m --health-cmd "curl -f http://admin:s3cret@localhost:3000/" --entrypoint sleep dhi.io/curl:8-debian13-dev infinity`,
			`docker run -d --name app-health --network container:app --memory 32m --health-cmd "curl -f http://<redacted>@localhost:3000/" --entrypoint sleep dhi.io/curl:8-debian13-dev infinity`},
		{"node fetch with a header", `["CMD", "node", "-e", "fetch('http://localhost:3000/', {headers: {Authorization: 'Bearer abc.def'}}).then(r=>process.exit(r.ok?0:1))"]`,
			`["CMD", "node", "-e", "fetch('http://localhost:3000/', {headers: {Authorization: 'Bearer <redacted>'}}).then(r=>process.exit(r.ok?0:1))"]`},
		{"basic credentials", `curl -H "Authorization: Basic YWRtaW46czNjcmV0" http://h/; echo Basic YWRtaW46czNjcmV0`,
			`curl -H "Authorization: <redacted>" http://h/; echo Basic <redacted>`},
		{"basic as a word", `Basic auth is off; basic authentication too`, `Basic auth is off; basic authentication too`},
		{"environment assignment", `PGPASSWORD=s3cret pg_isready -U postgres -h localhost`,
			`PGPASSWORD=<redacted> pg_isready -U postgres -h localhost`},
		{"quoted assignment in an exec array", `["CMD", "env", "API_TOKEN=a b c", "check"]`,
			`["CMD", "env", "API_TOKEN=<redacted>", "check"]`},

		// Programs with their own password options
		{"mysql -p", `mysqladmin ping -h localhost -uroot -ps3cret`, `mysqladmin ping -h localhost -uroot -p<redacted>`},
		{"mysql --password", `["CMD", "mysqladmin", "ping", "--password=s3cret"]`, `["CMD", "mysqladmin", "ping", "--password=<redacted>"]`},
		{"redis-cli -a", `redis-cli -a s3cret ping | grep PONG`, `redis-cli -a <redacted> ping | grep PONG`},
		{"-p and -a elsewhere", `nc -z -p3000 localhost && ls -a /tmp`, `nc -z -p3000 localhost && ls -a /tmp`},

		// Nothing to redact
		{"image digest", `dhi.io/node@sha256:0123456789abcdef`, `dhi.io/node@sha256:0123456789abcdef`},
		{"mail address", `ops@example.com`, `ops@example.com`},
		{"plain probe", `curl -f http://localhost:3000/health || exit 1`, `curl -f http://localhost:3000/health || exit 1`},
		{"already redacted", `curl -u admin:<redacted> -H "Authorization: <redacted>" http://<redacted>@h/?token=<redacted>`,
			`curl -u admin:<redacted> -H "Authorization: <redacted>" http://<redacted>@h/?token=<redacted>`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := String(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

// typical is what a deny message looks like on the common path: HA002 with
// its sidecar fix, and no secret in it.
const typical = `HA002: service "app" (image dhi.io/node:25-debian13-sfw-ent-dev): the healthcheck runs "curl", which this image does not contain; it would stay unhealthy forever.
Fix: Move the probe into a hardened curl sidecar (dhi.io/curl:8-debian13-dev) that shares the network namespace of service "app", and point depends_on ... condition: service_healthy at "app-health".
  app-health:
    image: dhi.io/curl:8-debian13-dev
    network_mode: "service:app"
    entrypoint: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:3000/health"]
      interval: 30s
      timeout: 3s
      retries: 3
      start_period: 10s
    mem_limit: 32m
  # Then remove the healthcheck from "app", and have services that wait for it use:
  #   depends_on: {app-health: {condition: service_healthy}}
Without a sidecar, let the image's own node make the request: in service "app" use  test: ["CMD", "node", "-e", "fetch('http://localhost:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]`

func TestTypicalMessageUnchanged(t *testing.T) {
	if got := String(typical); got != typical {
		t.Fatalf("a message without secrets changed:\n%s", got)
	}
	if n := testing.AllocsPerRun(100, func() { String(typical) }); n != 0 {
		t.Errorf("String allocates %v times on a message without secrets, want 0", n)
	}
}

func BenchmarkString(b *testing.B) {
	secret := strings.Replace(typical, "http://localhost:3000/health\"]", "http://admin:s3cret@localhost:3000/health\", \"-H\", \"Authorization: Bearer abc.def\"]", 1)
	for _, bc := range []struct{ name, in string }{
		{"typical", typical},
		{"short", `HA001: container "web" (image dhi.io/node:25): the healthcheck is CMD-SHELL ("curl -f http://localhost:3000/"), and this image has no shell (/bin/sh).`},
		{"with_secrets", secret},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				String(bc.in)
			}
		})
	}
}

// Whatever the input, the work stays linear: each of these 4 MiB inputs
// repeats what one rule looks at.
func TestStringHugeInputs(t *testing.T) {
	const size = 4 << 20
	for _, unit := range []string{
		"@", "a:@", "a:b@", "://", "://a@", "=", "token=", "a=", "-u ", "-u a:", `"-H", "`,
		"--password ", "Bearer ", "bearer", "\"", "\\\"", "-", "--", "x", "-pa mysql ",
		strings.Repeat("a", 300) + "@",
		// Every rule at once, so their spans interleave.
		"-u a:b http://c:d@e/?token=f&g=h Bearer i -H 'J: k' --password=l ",
	} {
		in := strings.Repeat(unit, size/len(unit))
		start := time.Now()
		out := String(in)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q×%d took %s", unit, size/len(unit), d)
		}
		if len(out) > 11*len(in) {
			t.Errorf("%q×%d grew to %d bytes", unit, size/len(unit), len(out))
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{
		typical,
		`["CMD", "curl", "-u", "admin:s3cret", "-H", "Authorization: Bearer abc.def", "http://admin:s3cret@localhost:3000/"]`,
		`wget --header="Authorization: Bearer tok" --password=x http://h/?token=y&a=b`,
		`"curl -H \"X: y\" a:b@c"`, `-u`, `-H "`, `=`, `@`, `://@`, `Bearer `, `-ps mysql`, `redis-cli -a`,
	} {
		f.Add(s, "s3cretValue")
		f.Add(s, "curl")
	}
	f.Fuzz(func(t *testing.T, text, secret string) {
		out := String(text) // must not panic
		if !strings.ContainsAny(text, "@=-:") && !strings.Contains(strings.ToLower(text), "bearer") &&
			!strings.Contains(strings.ToLower(text), "basic") && out != text {
			t.Fatalf("text without any trigger changed: %q -> %q", text, out)
		}
		// A secret planted on its own line, in each rendering, is gone
		// whatever surrounds it.
		if len(secret) < 4 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" ||
			strings.Contains(Marker, secret) {
			return
		}
		for _, form := range []string{
			"curl -u admin:%s http://h/",
			`["CMD", "curl", "-H", "Authorization: Bearer %s", "http://h/"]`,
			"http://admin:%s@h/",
			"wget --password=%s http://h/",
			"http://h/?access_token=%s",
		} {
			planted := text + "\n" + strings.Replace(form, "%s", secret, 1) + "\n" + text
			got := String(planted)
			// The secret may also be a word of the form ("curl") or of text.
			want := strings.Count(text+"\n"+strings.Replace(form, "%s", Marker, 1)+"\n"+text, secret)
			if strings.Count(got, secret) > want {
				t.Fatalf("secret %q survived in %q:\n%q", secret, form, got)
			}
		}
	})
}
