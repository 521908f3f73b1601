package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "exporter-state")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	fire := time.Date(2025, time.June, 1, 6, 0, 0, 0, time.UTC)
	run, err := s.StartRun(ctx, "daily-sales", fire, fire.Add(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	err = s.FinishRun(ctx, run.ID, state.Result{
		Status: state.Succeeded,
		Rows:   1200,
		Bytes:  48_000,
		URIs:   []string{"gs://exports/daily-sales/2025-06-01.csv.gz"},
	}, fire.Add(9*time.Second))
	if err != nil {
		log.Fatal(err)
	}

	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Job, got.Attempt, got.Status, got.Rows, got.FinishedAt.Sub(got.StartedAt))
	// Output: daily-sales 1 succeeded 1200 7s
}
