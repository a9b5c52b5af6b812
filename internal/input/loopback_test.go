package input

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
)

func TestProbeLoopback(t *testing.T) {
	loopback := []string{
		// what the regex of probes_localhost already took
		"http://localhost:3000/health", "http://127.0.0.1/", "https://[::1]:8443", "http://LocalHost?x=1",
		"http://user:pw@localhost:3000/", "http://localhost:/", "http://localhost#x",
		// names
		"http://localhost./", "http://LOCALHOST.:3000/", "http://app.localhost:3000/", "http://a.b.Localhost./",
		"http://ip6-localhost:3000/", "http://ip6-loopback/", "http://IP6-LOCALHOST/",
		// 127.0.0.0/8 and 0.0.0.0 in every inet_aton spelling
		"http://0.0.0.0:3000/", "http://0/", "http://0.0/", "http://0x0/", "http://00000/",
		"http://127.1/", "http://127.0.1/", "http://127.0.0.2/", "http://127.255.255.255/",
		"http://0x7f.1/", "http://0X7F.0.0.1/", "http://0177.0.0.1/", "http://017700000001/",
		"http://2130706433/", "http://2130706432/", "http://0x7f000001:3000/", "http://127.0xff.0377.1/", "http://127.16777215/",
		// IPv6
		"http://[0:0:0:0:0:0:0:1]/", "http://[0000::0001]:3000/", "http://[::]/", "http://[0::0]:80",
		"http://[::ffff:127.0.0.1]/", "http://[::FFFF:7f00:1]/", "http://[::ffff:127.1.2.3]:3000/",
		"http://[::ffff:0.0.0.0]/", "http://[::1%25lo]:3000/",
		// percent-encoded host, as curl decodes it
		"http://%6c%6F%63%61%6c%68%6f%73%74:3000/", "http://%31%32%37.0.0.1/",
		// scheme in any case
		"HTTP://localhost/", "HttpS://0.0.0.0/",
	}
	for _, u := range loopback {
		if !probeLoopback(u) {
			t.Errorf("probeLoopback(%q) = false, want true", u)
		}
	}
	other := []string{
		"", "localhost", "ftp://localhost/", "http://", "http:///", "http://:3000/",
		// look-alikes
		"http://127.0.0.1.example.com/", "http://localhost.example/", "http://localhost.example.localhost.com/",
		"http://10.0.0.1/", "http://[::2]/", "http://app:3000/", "http://mylocalhost/", "http://localhostx/",
		"http://.localhost/", "http://ip6-localhost./", "http://ip6-localnet/", "http://ip6-allnodes/",
		"http://127.0.0.1@evil.example/", "http://localhost@10.0.0.1/", "http://a@b@localhost/",
		// not 127/8 or exactly 0.0.0.0
		"http://128.0.0.1/", "http://0.0.0.1/", "http://1/", "http://0x80000001/", "http://126.255.255.255/",
		"http://2113929215/", "http://4294967295/",
		// what neither inet_aton nor curl parse as an address
		"http://127.0.0.1./", "http://127./", "http://127..1/", "http://127.0.0.0.1/", "http://127.256.0.1/",
		"http://127.16777216/", "http://4294967296/", "http://08/", "http://0x/", "http://0x7g/",
		"http://+127.0.0.1/", "http://127.0.0.1x/", "http://99999999999999999999999/",
		// IPv6 look-alikes and bad brackets
		"http://[::ffff:10.0.0.1]/", "http://[::127.0.0.1]/", "http://[127.0.0.1]/", "http://[::1/",
		"http://[::1]x/", "http://[::1]:x/", "http://[fe80::1]/", "http://[::1:0]/", "http://::1/",
		// bad ports: curl fails, whatever the namespace
		"http://localhost:abc/", "http://127.0.0.1:-1/", "http://localhost:3000:1/",
		// bad escapes
		"http://%6c%6f%63%61%6c%68%6f%73%7/", "http://%zz/", "http://local%host/",
	}
	for _, u := range other {
		if probeLoopback(u) {
			t.Errorf("probeLoopback(%q) = true, want false", u)
		}
	}
}

// The field comes from the same probe_url the fixes use, for either form
// of healthcheck; an exec test the plugin cut has no probe_url, so no
// loopback either.
func TestHealthcheckProbeLoopback(t *testing.T) {
	for _, tc := range []struct {
		test []string
		want bool
	}{
		{[]string{"CMD", "curl", "-f", "http://0.0.0.0:3000/"}, true},
		{[]string{"CMD-SHELL", "curl -f http://127.1:3000/ || exit 1"}, true},
		{[]string{"CMD", "curl", "-f", "http://app:3000/"}, false},
		{[]string{"CMD", "true"}, false},
		{[]string{"NONE"}, false},
		{append([]string{"CMD", "curl", "http://localhost/"}, make([]string, MaxTestElements)...), false},
	} {
		cfg := &container.Config{Healthcheck: &container.HealthConfig{Test: tc.test}}
		h := healthcheckOf(cfg, imagefacts.Facts{})
		if h.ProbeLoopback != tc.want {
			t.Errorf("%.80q: probe_loopback %v (probe_url %q), want %v", tc.test, h.ProbeLoopback, h.ProbeURL, tc.want)
		}
	}
}

// A probe URL of MaxProbeURLBytes costs no allocation unless its host is
// percent-encoded.
func TestProbeLoopbackAllocations(t *testing.T) {
	long := "http://[::ffff:127.0.0.1]:3000/" + strings.Repeat("a", MaxProbeURLBytes)
	for _, u := range []string{long, "http://0x7f.1:3000/", "http://app.localhost./", "http://" + strings.Repeat("1.", 1000)} {
		if n := testing.AllocsPerRun(10, func() { probeLoopback(u) }); n != 0 {
			t.Errorf("probeLoopback(%.40q…) allocates %v times", u, n)
		}
	}
}

func BenchmarkProbeLoopback(b *testing.B) {
	for b.Loop() {
		probeLoopback("http://[0:0:0:0:0:0:0:1]:3000/health")
		probeLoopback("http://0.0.0.0:3000/health")
		probeLoopback("http://app:3000/health")
	}
}
