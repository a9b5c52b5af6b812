package authz

import (
	"context"
	"fmt"
	"runtime"
)

// DefaultMaxEvaluations is how many evaluations a Gate lets run at once by
// default: evaluation is CPU-bound, so more than the machine has cores only
// makes every one of them slower.
var DefaultMaxEvaluations = 2 * runtime.GOMAXPROCS(0)

// Gate bounds the evaluations that run at once. A decision that cannot get
// in before its deadline is denied then, never later: an overloaded plugin
// must still answer dockerd in time, and the fast path never waits here.
type Gate struct{ slots chan struct{} }

// NewGate returns a gate for n evaluations at once (at least one).
func NewGate(n int) *Gate { return &Gate{slots: make(chan struct{}, max(n, 1))} }

// Enter waits for a slot until ctx is done; release it when the evaluation
// ends. A nil Gate lets every evaluation in.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waited for one of %d evaluation slots until the deadline: %w", cap(g.slots), ctx.Err())
	}
}
