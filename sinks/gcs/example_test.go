package gcs_test

import (
	"context"
	"fmt"
	"io"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
)

func ExampleSink_Create() {
	// In production: client, err := gcs.NewClient(ctx, cfg.CredentialsFile)
	srv := fakestorage.NewServer(nil)
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "exports"})
	client := srv.Client()
	defer client.Close()

	ctx := context.Background()
	s := gcs.New(client, zap.NewNop(), gcs.Options{ChunkSize: 8 << 20})
	w, err := s.Create(ctx, "gs://exports/daily/2024-01-02.csv", sinks.WriteOptions{
		ContentType: "text/csv",
		Metadata:    map[string]string{"job": "daily"},
	})
	if err != nil {
		panic(err)
	}
	defer w.Abort() //nolint:errcheck // no-op after a successful Close
	if _, err := io.WriteString(w, "id,amount\n1,9.99\n"); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	attrs, err := client.Bucket("exports").Object("daily/2024-01-02.csv").Attrs(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(w.URI(), attrs.Size, attrs.ContentType, attrs.Metadata["job"])
	// Output: gs://exports/daily/2024-01-02.csv 17 text/csv daily
}
