package imageindex

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// bigLayer writes a one-layer image's layer of n executables in 100
// directories, the worst case for the index a cache keeps: every file is
// kept.
func bigLayer(w io.Writer, n int) {
	tw := tar.NewWriter(w)
	for d := 0; d < 100; d++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/pkg%03d/bin/", d), Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for i := 0; i < n; i++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/pkg%03d/bin/tool-%06d", i%100, i), Typeflag: tar.TypeReg, Mode: 0o755})
	}
	tw.Close()
}

// bigExport streams the legacy export of that image, as the daemon would:
// the 100 MiB layer is never in memory.
func bigExport(n int) io.ReadCloser {
	h := sha256.New()
	size := &countWriter{w: h}
	bigLayer(size, n)
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))
	config := []byte(`{"rootfs":{"type":"layers","diff_ids":["` + diffID + `"]}}`)
	manifest := []byte(`[{"Config":"c.json","RepoTags":["big:1"],"Layers":["l/layer.tar"]}]`)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "l/layer.tar", Typeflag: tar.TypeReg, Mode: 0o644, Size: size.n})
		bigLayer(tw, n)
		for _, f := range []struct {
			name string
			data []byte
		}{{"c.json", config}, {"manifest.json", manifest}} {
			tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data))})
			tw.Write(f.data)
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryOfALargeImage indexes a 200,000-executable image as imagescan
// does (Build, ExecEntries, FromEntries) and reports the heap the kept
// index holds after a GC, and the heap the whole scan asked the OS for.
func TestMemoryOfALargeImage(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes 200,000 files")
	}
	const n = 200_000
	debug.FreeOSMemory()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	base := heapAfterGC()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() { // the heap's high-water mark while the scan runs, sampled
		var max uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			max = maxU(max, m.HeapInuse)
			select {
			case <-stop:
				peak <- max
				return
			default:
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	export := bigExport(n)
	defer export.Close()
	full, err := Build(export, Options{VerifyDiffIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	fullHeap := heapAfterGC() - base
	entries := full.ExecEntries()
	kept := FromEntries(entries)
	full, entries = nil, nil
	close(stop)
	high := <-peak
	keptHeap := heapAfterGC() - base
	debug.FreeOSMemory() // as imagescan does after a scan this large
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	resident := (m1.HeapSys - m1.HeapReleased) - min(m1.HeapSys-m1.HeapReleased, m0.HeapSys-m0.HeapReleased)
	t.Logf("200,000 executables: full index %.1f MiB, kept index %.1f MiB (%d B/path, SizeEstimate %.1f MiB); heap in use (garbage included) at most %.1f MiB above the start's during the scan, resident heap %.1f MiB above the start's after it",
		mib(fullHeap), mib(keptHeap), keptHeap/n, mib(uint64(kept.SizeEstimate())), mib(high-min(high, base)), mib(resident))
	if keptHeap > 16<<20 {
		t.Errorf("the kept index of 200,000 executables holds %.1f MiB, more than 16", mib(keptHeap))
	}
	if est := uint64(kept.SizeEstimate()); est < keptHeap*3/4 || est > keptHeap*2 {
		t.Errorf("SizeEstimate %d is far from the heap the index holds, %d", est, keptHeap)
	}
	if p, ok := kept.LookPath("tool-199999", []string{"/opt/pkg099/bin"}); !ok || p != "/opt/pkg099/bin/tool-199999" {
		t.Errorf("LookPath = %q %v", p, ok)
	}
	runtime.KeepAlive(kept)
}

func maxU(a, b uint64) uint64 { return max(a, b) }

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
