package fleet

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeEvent: any line, even one the decision log would never write,
// is read into an event or refused with an error, never a panic; a line
// that decodes keeps its decision ID, and its other fields land in
// custom unless OPA's event has a place for them.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"decision_id":"d1","timestamp":"2026-01-02T03:04:05.000000006Z","path":"hardened/main/decision","labels":{"app":"hardened-authz"},"request":{"method":"POST"},"result":{"allow":false,"violations":[]},"rules":["HA002"],"policy_revision":"abc","bundles":{"fleet":{"revision":"v2"}},"input":{"container":{"labels":{"a":"<redacted>"}},"n":1.5e300}}` + "\n"))
	f.Add([]byte(`{"decision_id":""}`))
	f.Add([]byte(`{"decision_id":"x","bundles":[1],"input":{"a":`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		info, err := decodeEvent(line)
		if err != nil {
			return
		}
		if info.DecisionID == "" {
			t.Fatal("decoded an event without a decision_id")
		}
		for k := range info.Custom {
			if standardFields[k] {
				t.Fatalf("%s is in custom", k)
			}
		}
		if _, err := json.Marshal(info.Custom); err != nil {
			t.Fatalf("custom does not encode: %v", err)
		}
	})
}
