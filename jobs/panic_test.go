package jobs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/state"
)

// panicLooker is a Looker whose Run, or whose result body, panics: a bug
// or a response nothing foresaw.
type panicLooker struct{ inRun bool }

func (p panicLooker) Run(context.Context, lookerapi.Source, lookerapi.RunOptions) (*lookerapi.Result, error) {
	if p.inRun {
		panic("looker client bug")
	}
	return &lookerapi.Result{Body: io.NopCloser(panicBody{})}, nil
}

type panicBody struct{}

func (panicBody) Read([]byte) (int, error) { panic("body reader bug") }

// TestPanicFailsTheRunNotTheProcess: a panic in the run's goroutine or in
// the conversion's goroutines fails that run, with the panic and its stack
// in the run's saved log, publishes nothing, and leaves the runner working.
func TestPanicFailsTheRunNotTheProcess(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		looker panicLooker
		format string
		want   string
	}{
		"in run":              {panicLooker{inRun: true}, "csv", "looker client bug"},
		"in csv passthrough":  {panicLooker{}, "csv", "body reader bug"},
		"in parquet decoding": {panicLooker{}, "parquet", "body reader bug"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 10)
			b.runner.Looker = tc.looker
			job := b.job(t, "hostile", "source: {look_id: '42'}\nformat: "+tc.format+"\ndestination: '$DIR/out.data'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, "panic: "+tc.want)
			lines, err := b.store.RunLog(context.Background(), run.ID)
			require.NoError(t, err)
			var stack bool
			for _, l := range lines {
				stack = stack || (l.Message == "run panicked" && strings.Contains(l.Fields, "goroutine"))
			}
			require.True(t, stack, "the run's log holds the stack: %v", lines)
			_, err = os.Stat(filepath.Join(b.dir, "out.data"))
			require.ErrorIs(t, err, os.ErrNotExist, "nothing published")

			// The runner keeps working.
			b.runner.Looker = b.client
			good := b.job(t, "good", "source: {look_id: '42'}\nformat: csv\ndestination: '$DIR/good.csv'")
			run, err = b.run(context.Background(), good, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)
		})
	}
}

// wideLooker answers every run with a json_bi result of cols columns,
// generated as it streams.
type wideLooker struct{ cols int }

func (w wideLooker) Run(context.Context, lookerapi.Source, lookerapi.RunOptions) (*lookerapi.Result, error) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriter(pw)
		bw.WriteString(`{"metadata":{"fields":{"dimensions":[`)
		for i := range w.cols {
			if i > 0 {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"name":"v.f%d","label":"F%d","type":"string","category":"dimension","sql":null,"view":"v","dimension_group":null,"field_group_label":null,"view_label":"V","field_group_variant":"F%d","hidden":false,"description":null}`, i, i, i)
		}
		bw.WriteString(`],"measures":[],"pivots":[],"table_calculations":[]},"pivots":[],"has_subtotals":false,"has_totals":false,"columns_truncated":"false","filter_expression":null,"filters":{},"sql":null,"big_query_metadata":{"total_bytes_processed":0,"backend_cache_hit":false}},"rows":[]}`)
		pw.CloseWithError(bw.Flush())
	}()
	return &lookerapi.Result{Body: pr, ContentType: "application/json", Timezone: "UTC"}, nil
}

// TestSeventyThousandColumnsFailTheRun: a result far wider than any real
// export (which made the Parquet library panic) fails its run with a
// clear error; the runner goes on working.
func TestSeventyThousandColumnsFailTheRun(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"parquet", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 10)
			b.runner.Looker = wideLooker{cols: 70000}
			job := b.job(t, "wide", "source: {look_id: '42'}\nformat: "+format+"\ndestination: '$DIR/out.data'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, "70,000 columns")
			require.Contains(t, run.Error, "10,000")
			require.NoFileExists(t, filepath.Join(b.dir, "out.data"))

			b.runner.Looker = b.client
			run, err = b.run(context.Background(), b.job(t, "good", "source: {look_id: '42'}\nformat: "+format+"\ndestination: '$DIR/good.data'"), scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)
		})
	}
}
