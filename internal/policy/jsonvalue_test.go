package policy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hardened-authz/hardened-authz/policies"
)

// standardValue is what the engine built before decodeDataValue:
// encoding/json with UseNumber, then ast.InterfaceToValue.
func standardValue(b []byte) (ast.Value, error) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}

func TestDecodeDataValueAsStandard(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `{"a": [1, -2, 3.5, 1e3, -0.25E-2, 0, 12345678901234567890123]}`,
		`{"s": "plain", "e": "tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00", "u": "héllo ☃"}`,
		`{"bad utf8": "` + "\xff\xfe" + `"}`,
		`{"dup": 1, "dup": 2}`, `{"t": true, "f": false, "n": null}`,
		" \n\t{\"nested\": {\"deep\": [[{}], [[]], {\"x\": [null]}]}}\r\n",
		`{"a": 1} trailing data is ignored, as json.Decoder does`,
		`"top-level string"`, `42`,
	}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "data.json") {
			b, err := fs.ReadFile(policies.FS, p)
			if err != nil {
				return err
			}
			docs = append(docs, string(b))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docs {
		want, err := standardValue([]byte(doc))
		if err != nil {
			t.Fatalf("%.40q: %v", doc, err)
		}
		got, err := decodeDataValue([]byte(doc))
		if err != nil {
			t.Fatalf("%.40q: %v", doc, err)
		}
		if ast.Compare(got, want) != 0 {
			t.Errorf("%.40q: got %v, want %v", doc, got, want)
		}
	}
}

func TestDecodeDataValueErrorsAsStandard(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a": }`, `{"a": 1,}`, `[1,]`, `{'a': 1}`, `{"a": 01}`, `{"a": 1.}`,
		`{"a": -}`, `{"a": 1e}`, `{"a": tru}`, `{"a": "x` + "\n" + `"}`, `{"a": "\x"}`, `{"a": "\u12"}`,
		`{"a": NaN}`, `{"a": [1 2]}`, `{"a" 1}`,
	} {
		_, want := standardValue([]byte(doc))
		_, got := decodeDataValue([]byte(doc))
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("%q: got error %v, want %v", doc, got, want)
		}
	}
}

func FuzzDecodeDataValue(f *testing.F) {
	for _, s := range []string{`{"a": [1, "b", null, true, {"c": -1.5e3}]}`, `"\u00e9"`, `[`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		want, werr := standardValue([]byte(doc))
		got, gerr := decodeDataValue([]byte(doc))
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: error %v, standard decoder's %v", doc, gerr, werr)
		}
		if werr == nil && ast.Compare(got, want) != 0 {
			t.Fatalf("%q: got %v, want %v", doc, got, want)
		}
	})
}

func BenchmarkDecodeCatalog(b *testing.B) {
	raw, err := fs.ReadFile(policies.FS, "catalog/data.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeDataValue(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("via-go-values", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := standardValue(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A data file in a subdirectory merges into the object a data file above
// it set at that key, as when both were decoded into Go maps; a key that
// both set is refused.
func TestMergeDataNested(t *testing.T) {
	files := []file{
		{name: "a/data.json", kind: kindData, dataDir: []string{"a"}, content: []byte(`{"x": {"p": 1}, "n": 2}`)},
		{name: "a/x/data.json", kind: kindData, dataDir: []string{"a", "x"}, content: []byte(`{"q": "r"}`)},
	}
	d := mergeAll(files)
	if d.err != nil {
		t.Fatal(d.err)
	}
	got, err := ast.InterfaceToValue(d.data)
	if err != nil {
		t.Fatal(err)
	}
	want := ast.MustParseTerm(`{"a": {"x": {"p": 1, "q": "r"}, "n": 2}}`).Value
	if ast.Compare(got, want) != 0 {
		t.Errorf("got %v, want %v", got, want)
	}

	files = append(files, file{name: "b/a/x/data.json", kind: kindData, dataDir: []string{"a", "x"}, content: []byte(`{"p": 3}`)})
	if d := mergeAll(files); d.err == nil || d.failed != 2 || !strings.Contains(d.err.Error(), `key "p" is defined twice`) {
		t.Errorf("a key set twice: %+v", d)
	}
}
