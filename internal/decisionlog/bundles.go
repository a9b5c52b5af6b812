package decisionlog

import "slices"

// appendBundles writes the OPA bundles a decision was made under as OPA's
// decision logs do, `"bundles":{"NAME":{"revision":"R"}}`, so that a
// collector of OPA decision logs reads them where it expects them;
// nothing when there are none.
func appendBundles(b []byte, bundles map[string]string) []byte {
	if len(bundles) == 0 {
		return b
	}
	names := make([]string, 0, len(bundles))
	for n := range bundles {
		names = append(names, n)
	}
	slices.Sort(names)
	b = append(b, `,"bundles":{`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, cut(n, maxField))
		b = append(b, `:{"revision":`...)
		b = appendString(b, cut(bundles[n], maxField))
		b = append(b, '}')
	}
	return append(b, '}')
}
