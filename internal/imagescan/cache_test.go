package imagescan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

func sizedIndex(n int) *imageindex.Index {
	entries := map[string]imageindex.Entry{"/bin": {Type: imageindex.TypeDir, Mode: 0o755}}
	for i := range n {
		entries[fmt.Sprintf("/bin/tool%d", i)] = imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755}
	}
	return imageindex.FromEntries(entries)
}

// TestCacheIsBoundedByBytes: the least recently used indexes go when the
// estimated bytes pass the bound; one index above it is still kept, alone.
func TestCacheIsBoundedByBytes(t *testing.T) {
	s := New(nil, "", nil)
	one := sizedIndex(100)
	s.maxBytes = 3*one.SizeEstimate() + 10
	ids := []string{idA, idB, idC}
	s.mu.Lock()
	for _, id := range ids {
		s.put(id, sizedIndex(100))
	}
	s.get(idA) // B is now the least recently used
	s.put(idD, sizedIndex(100))
	_, hasA := s.cached[idA]
	_, hasB := s.cached[idB]
	s.mu.Unlock()
	if !hasA || hasB || len(s.cached) != 3 {
		t.Errorf("after a fourth index: A kept %v, B kept %v, %d cached; want A kept, B evicted, 3", hasA, hasB, len(s.cached))
	}
	if st := s.Stats(); st.CachedBytes > s.maxBytes {
		t.Errorf("CachedBytes = %d, over the bound %d", st.CachedBytes, s.maxBytes)
	}
	big := "sha256:" + strings.Repeat("e", 64)
	s.mu.Lock()
	s.put(big, sizedIndex(1000))
	n := len(s.cached)
	s.mu.Unlock()
	if n != 1 || s.Stats().CachedBytes <= s.maxBytes {
		t.Errorf("an index above the bound: %d cached, want it alone", n)
	}
}
