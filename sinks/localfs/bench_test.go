package localfs_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/sinks/sinktest"
)

var benchSize = flag.Int64("localfs.size", 1<<30, "bytes per object in BenchmarkLocalfs1GiB")

// BenchmarkLocalfs1GiB streams 1 GiB (or -localfs.size bytes) into a file
// under the test's temp dir (TMPDIR): buffered writes, fsync, rename.
func BenchmarkLocalfs1GiB(b *testing.B) {
	dir := b.TempDir()
	s := localfs.New(zap.NewNop())
	sinktest.Benchmark(b, s, func(i int) string { return filepath.Join(dir, fmt.Sprintf("bench-%d.bin", i)) }, *benchSize,
		func(uri string) {
			path, err := localfs.Path(uri)
			if err == nil {
				err = os.Remove(path)
			}
			if err != nil {
				b.Fatal(err)
			}
		})
}

// BenchmarkLocalfs2GiB is the conformance suite's 2 GiB stream: one file
// of 2 GiB, to show that nothing in the write path grows with the size.
func BenchmarkLocalfs2GiB(b *testing.B) {
	dir := b.TempDir()
	s := localfs.New(zap.NewNop())
	sinktest.Benchmark(b, s, func(i int) string { return filepath.Join(dir, fmt.Sprintf("bench-%d.bin", i)) }, 2<<30,
		func(uri string) {
			path, err := localfs.Path(uri)
			if err == nil {
				err = os.Remove(path)
			}
			if err != nil {
				b.Fatal(err)
			}
		})
}

// BenchmarkLocalfsSmallFile writes the files of a run with a small result
// (data, _manifest.json, _SUCCESS are each a few hundred bytes): what a
// burst of runs costs per file, write buffer included (B/op).
func BenchmarkLocalfsSmallFile(b *testing.B) {
	dir := b.TempDir()
	s := localfs.New(zap.NewNop())
	data := make([]byte, 1600)
	b.ReportAllocs()
	for i := range b.N {
		w, err := s.Create(b.Context(), filepath.Join(dir, fmt.Sprintf("f%d.csv", i%16)), sinks.WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
