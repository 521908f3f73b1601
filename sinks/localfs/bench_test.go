package localfs_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

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
