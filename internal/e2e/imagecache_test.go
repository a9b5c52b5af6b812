//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// The plugin remembers image inspects (--image-cache-ttl, 10 s by
// default), and forgets them when the daemon reports an image event: a
// tag moved to another image is judged by the image it names now, well
// before the remembered inspect would expire.
func TestRetaggedImageIsJudgedByItsNewImage(t *testing.T) {
	tag := "e2e-retag/app:" + randomHex(3)
	first, second := "e2e-retag-a-"+randomHex(3), "e2e-retag-b-"+randomHex(3)
	t.Cleanup(func() {
		docker(t, 30*time.Second, "rm", "-f", first, second)
		docker(t, 30*time.Second, "rmi", tag)
	})
	health := []string{"--health-cmd", "wget -q -O- http://localhost:3000/ || exit 1"}

	// The tag names the -dev busybox image, which has a shell and wget.
	mustDocker(t, 30*time.Second, "tag", ImageBusyboxDev, tag)
	offset := suite.Plugin.LogSize()
	mustDocker(t, 60*time.Second, append(append([]string{"create", "--name", first}, health...), tag, "sleep", "1000")...)
	requireDecision(t, offset, true, "")

	// Now it names the runtime node image, which has no shell: the same
	// create must be denied, though the first inspect is seconds old.
	mustDocker(t, 30*time.Second, "tag", ImageNode, tag)
	time.Sleep(time.Second) // the tag event's way through the event stream
	offset = suite.Plugin.LogSize()
	res := docker(t, 60*time.Second, append(append([]string{"create", "--name", second}, health...), tag, "sleep", "1000")...)
	if res.OK() {
		t.Fatalf("the create on the retagged image was allowed: the plugin judged the image the tag named before\n%s", res)
	}
	requireDecision(t, offset, false, "HA001")
}
