package publish_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/sinks/publish"
)

// A run split into parts of at most two rows: three complete files, then
// the manifest, then _SUCCESS.
func ExampleSplitter() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	dest := localfs.URI(filepath.Join(dir, "dt=2026-01-02", "orders.csv"))

	set, err := publish.Begin(ctx, localfs.New(zap.NewNop()), publish.Options{Dest: dest, Split: true, Manifest: true})
	if err != nil {
		panic(err)
	}
	defer set.Abort() //nolint:errcheck // a no-op after Commit
	sp := publish.NewSplitter(ctx, set, publish.Limits{MaxRows: 2}, func(w io.Writer) (publish.Encoder[string], error) {
		return &lineEncoder{w: w}, nil // writes "id\n", then a line per row
	})
	for _, row := range []string{"1", "2", "3", "4", "5"} {
		if err := sp.WriteRow(row); err != nil {
			panic(err) // the deferred Abort removes the parts already committed
		}
	}
	if err := sp.Close(); err != nil {
		panic(err)
	}
	if err := set.Commit(ctx, &publish.Manifest{Job: "orders"}); err != nil {
		panic(err)
	}
	for _, f := range set.Files() {
		fmt.Println(f.Name, f.Rows, f.Size)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "dt=2026-01-02", "_*"))
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	// Output:
	// orders-part-00000.csv 2 7
	// orders-part-00001.csv 2 7
	// orders-part-00002.csv 1 5
	// _SUCCESS
	// _manifest.json
}
