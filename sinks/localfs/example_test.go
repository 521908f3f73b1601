package localfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// export is the shape every caller of a sink follows: defer Abort, return
// Close.
func export(ctx context.Context, s sinks.Sink, uri string, body io.Reader) error {
	w, err := s.Create(ctx, uri, sinks.WriteOptions{ContentType: "text/csv", IfExists: sinks.Fail})
	if err != nil {
		return err
	}
	defer w.Abort() //nolint:errcheck // no-op after a successful Close
	if _, err := io.Copy(w, body); err != nil {
		return err
	}
	return w.Close()
}

func ExampleSink_Create() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s := localfs.New(zap.NewNop())
	uri := localfs.URI(filepath.Join(dir, "dt=2024-01-02", "sales.csv"))

	err = export(context.Background(), s, uri, strings.NewReader("id,amount\n1,9.99\n"))
	fmt.Println("first:", err)
	err = export(context.Background(), s, uri, strings.NewReader("other"))
	fmt.Println("again:", errors.Is(err, sinks.ErrExists))

	data, _ := os.ReadFile(filepath.Join(dir, "dt=2024-01-02", "sales.csv"))
	fmt.Print(string(data))
	// Output:
	// first: <nil>
	// again: true
	// id,amount
	// 1,9.99
}
