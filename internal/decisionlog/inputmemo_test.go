package decisionlog

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/hardened-authz/hardened-authz/internal/authz"
	"github.com/hardened-authz/hardened-authz/internal/authz/authztest"
)

// A create the policy set's cache answers is logged with the encoding of
// the input it was remembered under, masked as the first: the same
// input bytes, no secret, and no second walk of the input. A different
// create is encoded anew.
func TestCachedDecisionReusesTheEncodedInput(t *testing.T) {
	const secret = "envSecretValue1"
	var buf bytes.Buffer
	a := newAuthorizer(t)
	l := New(&buf, Options{})
	var seen []authz.Record
	a.Observer = authz.Observers{l, observerFunc(func(r authz.Record) { seen = append(seen, r) })}
	body := composeApp("dhi.io/node:25-debian13-sfw-ent-dev", "CMD", "curl", "-f", "http://localhost:3000/health")
	body["Env"] = []string{"DB_PASSWORD=" + secret}
	call := authztest.CreateCall(t, "memo-app", body)
	other := authztest.CreateCall(t, "memo-other", body)
	for _, c := range []authorization.Request{call, call, other} {
		a.AuthZReq(context.Background(), c)
	}
	lines := parseLines(t, buf.Bytes())
	if len(lines) != 3 || len(seen) != 3 {
		t.Fatalf("%d lines, %d records, want 3", len(lines), len(seen))
	}
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("a line carries the secret:\n%s", buf.String())
	}
	if !bytes.Equal(lines[0].Input, lines[1].Input) {
		t.Errorf("the repeated create's input differs:\n%s\n%s", lines[0].Input, lines[1].Input)
	}
	if bytes.Equal(lines[0].Input, lines[2].Input) || !bytes.Contains(lines[2].Input, []byte("memo-other")) {
		t.Errorf("another container's create was logged with the first one's input:\n%s", lines[2].Input)
	}
	first, _ := seen[0].Input()
	second, _ := seen[1].Input()
	if first != second {
		t.Error("the repeated create does not carry the input its decision was remembered under")
	}
	if _, ok := l.inputs.get(second); !ok {
		t.Error("the encoding of the remembered input was not kept")
	}
}

// observerFunc sees every decision.
type observerFunc func(authz.Record)

func (f observerFunc) Observe(_ context.Context, r authz.Record) { f(r) }
