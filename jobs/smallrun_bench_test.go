package jobs_test

import (
	"context"
	"os"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// BenchmarkSmallRun is one small run (a 20-row Look to a csv file of its
// own folder, recorded in a SQLite store) through the whole run path, as
// each run of a burst of scheduled jobs makes it. Its allocations per run
// are what the daemon's garbage collector pays for in BenchmarkBurst
// (cmd/exporter); they count the sandbox Looker's too, which runs in this
// process. So does goroutines/op, the goroutines started per run: each is
// a hand-off the Go scheduler makes, which on a busy daemon often wakes a
// thread. Compare builds with benchstat:
//
//	go test ./jobs -run '^$' -bench SmallRun -count 10
func BenchmarkSmallRun(b *testing.B) {
	bn := setup(b, 20)
	job := bn.job(b, "small", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/{{ .RunID }}/data.csv'")
	ctx := context.Background()
	b.ReportAllocs()
	started := goroutinesCreated()
	for i := 0; b.Loop(); i++ {
		run, err := bn.run(ctx, job, scheduled.Add(time.Duration(i)*time.Minute), jobs.RunOptions{})
		require.NoError(b, err)
		require.Equal(b, state.Succeeded, run.Status, run.Error)
		b.StopTimer()
		require.NoError(b, os.RemoveAll(strings.TrimSuffix(strings.TrimPrefix(run.URIs[0], "file://"), "/data.csv")))
		b.StartTimer()
	}
	b.ReportMetric(float64(goroutinesCreated()-started)/float64(b.N), "goroutines/op")
}

// goroutinesCreated is how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
