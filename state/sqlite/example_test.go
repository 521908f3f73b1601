package sqlite_test

import (
	"context"
	"errors"
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
	run, claimed, err := s.Claim(ctx, "daily-sales", fire, "replica-a", fire.Add(2*time.Second), time.Minute)
	if err != nil || !claimed {
		log.Fatal("claim: ", err)
	}
	got, err := s.FinishRun(ctx, run.ID, state.Result{
		Status: state.Succeeded,
		Rows:   1200,
		Bytes:  48_000,
		URIs:   []string{"gs://exports/daily-sales/2025-06-01.csv.gz"},
	}, fire.Add(9*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Job, got.Attempt, got.Status, got.Rows, got.FinishedAt.Sub(got.StartedAt))
	// Output: daily-sales 1 succeeded 1200 7s
}

// Two replicas share a limit of two queries at once for one Looker user.
// A holder renews its slot while its query runs and releases it after; a
// replica that dies stops renewing, and its slot frees when its lease ends.
func ExampleStore_AcquireSlot() {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	const user, max, lease = "https://looker.example.com client-1", 2, 30 * time.Second
	now := time.Date(2025, time.June, 1, 6, 0, 0, 0, time.UTC)
	for _, holder := range []string{"replica-a run-1", "replica-b run-7", "replica-b run-8"} {
		ok, err := s.AcquireSlot(ctx, user, holder, max, now, lease)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(holder, ok)
	}

	// replica-a renews and finishes; replica-b dies holding run-7's slot.
	if err := s.RenewSlot(ctx, user, "replica-a run-1", now.Add(10*time.Second), lease); err != nil {
		log.Fatal(err)
	}
	if err := s.ReleaseSlot(ctx, user, "replica-a run-1"); err != nil {
		log.Fatal(err)
	}
	later := now.Add(lease)
	for _, holder := range []string{"replica-a run-2", "replica-a run-3"} {
		ok, err := s.AcquireSlot(ctx, user, holder, max, later, lease)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(holder, ok)
	}
	err = s.RenewSlot(ctx, user, "replica-b run-7", later, lease)
	fmt.Println(errors.Is(err, state.ErrSlotLost))
	// Output:
	// replica-a run-1 true
	// replica-b run-7 true
	// replica-b run-8 false
	// replica-a run-2 true
	// replica-a run-3 true
	// true
}
