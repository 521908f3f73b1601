package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/state"
)

// Looker runs a source and streams its result. *lookerapi.Client is one.
type Looker interface {
	Run(ctx context.Context, src lookerapi.Source, opts lookerapi.RunOptions) (*lookerapi.Result, error)
}

// SinkFor returns the sink that handles a destination URI.
type SinkFor func(ctx context.Context, uri string) (sinks.Sink, error)

// ErrShutdown is the cancellation cause used when the daemon stops and its
// drain timeout has passed: such runs are recorded as interrupted.
var ErrShutdown = errors.New("exporter is shutting down")

// Error classes recorded with failed runs.
const (
	ClassRetryable = "retryable" // a new attempt may succeed (429, 5xx, network)
	ClassPermanent = "permanent" // fix the job, the query or the permissions first
	ClassCancelled = "cancelled" // stopped by a signal, a timeout or a shutdown
)

// Progress is updated while a run streams. Read it from any goroutine.
type Progress struct {
	Rows  atomic.Int64 // rows converted so far
	Bytes atomic.Int64 // bytes written to the destination so far
}

// Observer is told about runs as they start and end: metrics, alerts and
// the status page hang off it. Calls are made synchronously from the run's
// goroutine, so implementations must be quick and safe for concurrent use.
type Observer interface {
	RunStarted(run state.Run)
	// RunFinished gets the run as recorded; err is the run's failure.
	RunFinished(run state.Run, err error)
}

// InFlightRun is a run in progress.
type InFlightRun struct {
	Run      state.Run
	Progress *Progress
}

// Runner executes single runs. It is safe for concurrent use.
type Runner struct {
	Looker    Looker
	Sinks     SinkFor
	Store     state.Store
	Log       *zap.Logger
	Now       func() time.Time // nil means time.Now
	Observers []Observer

	inFlight sync.Map // run id -> InFlightRun
}

// InFlight lists the runs in progress, oldest first.
func (r *Runner) InFlight() []InFlightRun {
	var out []InFlightRun
	r.inFlight.Range(func(_, v any) bool {
		out = append(out, v.(InFlightRun))
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Run.StartedAt.Before(out[j].Run.StartedAt) })
	return out
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// RunOptions adjust one run.
type RunOptions struct {
	Progress *Progress // optional; updated as the run streams
}

// Run performs one attempt of job at the scheduled time and records it. It
// returns the recorded run; the error is the run's failure, if any (the run
// is recorded either way, unless the store itself failed).
func (r *Runner) Run(ctx context.Context, job *config.Job, scheduled time.Time, opts RunOptions) (state.Run, error) {
	scheduled = scheduled.In(job.Location)
	run, err := r.Store.StartRun(ctx, job.Name, scheduled, r.now())
	if err != nil {
		return state.Run{}, fmt.Errorf("job %s: record run start: %w", job.Name, err)
	}
	log := r.Log.With(zap.String("job", job.Name), zap.String("run_id", run.ID), zap.Int("attempt", run.Attempt))
	log.Info("run started", zap.Time("scheduled_time", scheduled), zap.Stringer("source", job.Source))
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	r.inFlight.Store(run.ID, InFlightRun{Run: run, Progress: opts.Progress})
	for _, o := range r.Observers {
		o.RunStarted(run)
	}

	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, job.Timeout, fmt.Errorf("run timed out after %s (the job's timeout)", job.Timeout))
		defer cancel()
	}
	uri, err := r.export(ctx, log, job, run, scheduled, opts.Progress)

	res := state.Result{Status: state.Succeeded, Rows: opts.Progress.Rows.Load(), Bytes: opts.Progress.Bytes.Load()}
	if uri != "" {
		res.URIs = []string{uri}
	}
	if err != nil {
		res.Status, res.ErrorClass = classify(ctx, err)
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		err = fmt.Errorf("job %s run %s: %w", job.Name, run.ID, err)
		res.Error = err.Error()
	}
	// Record the outcome even when ctx is cancelled: that is when it matters.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := r.Store.FinishRun(fctx, run.ID, res, r.now()); ferr != nil {
		log.Error("record run outcome failed", zap.Error(ferr))
		if err == nil {
			err = fmt.Errorf("job %s run %s: record outcome: %w", job.Name, run.ID, ferr)
		}
	}
	if done, gerr := r.Store.GetRun(fctx, run.ID); gerr == nil {
		run = done
	}
	r.inFlight.Delete(run.ID)
	for _, o := range r.Observers {
		o.RunFinished(run, err)
	}
	fields := []zap.Field{zap.String("status", string(res.Status)), zap.Int64("rows", res.Rows), zap.Int64("bytes", res.Bytes), zap.Duration("duration", run.FinishedAt.Sub(run.StartedAt))}
	if err != nil {
		log.Error("run failed", append(fields, zap.String("error_class", res.ErrorClass), zap.Error(err))...)
		return run, err
	}
	log.Info("run succeeded", append(fields, zap.String("uri", uri))...)
	return run, nil
}

func classify(ctx context.Context, err error) (state.Status, string) {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrShutdown):
		return state.Interrupted, ClassCancelled
	case ctx.Err() != nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return state.Failed, ClassCancelled
	case lookerapi.IsRetryable(err), sinks.Retryable(err):
		return state.Failed, ClassRetryable
	}
	return state.Failed, ClassPermanent
}

// export streams the result to the destination and commits it. It returns
// the committed URI.
func (r *Runner) export(ctx context.Context, log *zap.Logger, job *config.Job, run state.Run, scheduled time.Time, p *Progress) (string, error) {
	dest, err := job.Destination.Render(config.TemplateData{Job: job.Name, RunID: run.ID, ScheduledTime: scheduled, Attempt: run.Attempt})
	if err != nil {
		return "", err
	}
	sink, err := r.Sinks(ctx, dest)
	if err != nil {
		return "", err
	}
	res, err := r.Looker.Run(ctx, job.Source, job.Run)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	log.Debug("looker result streaming", zap.String("content_type", res.ContentType), zap.String("query_id", res.QueryID))

	w, err := sink.Create(ctx, dest, writeOptions(job, run, scheduled, res.ContentType))
	if err != nil {
		return "", fmt.Errorf("open destination %s: %w", dest, err)
	}
	defer w.Abort() //nolint:errcheck // a no-op after a successful Close
	cw := &countingWriter{w: w, n: &p.Bytes}
	if err := convert(ctx, job, res.Body, cw, &p.Rows); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("commit %s: %w", w.URI(), err)
	}
	return w.URI(), nil
}

func writeOptions(job *config.Job, run state.Run, scheduled time.Time, lookerContentType string) sinks.WriteOptions {
	return sinks.WriteOptions{
		ContentType: contentType(job, lookerContentType),
		IfExists:    job.IfExists,
		Metadata: map[string]string{
			"exporter-job":            job.Name,
			"exporter-run-id":         run.ID,
			"exporter-attempt":        fmt.Sprint(run.Attempt),
			"exporter-scheduled-time": scheduled.UTC().Format(time.RFC3339),
			"exporter-source":         job.Source.String(),
		},
	}
}

// SinkForScheme routes gs:// URIs to gcs and everything else (file:// and
// plain paths) to local.
func SinkForScheme(gcs func(ctx context.Context) (sinks.Sink, error), local sinks.Sink) SinkFor {
	return func(ctx context.Context, uri string) (sinks.Sink, error) {
		if strings.HasPrefix(uri, "gs://") {
			if gcs == nil {
				return nil, fmt.Errorf("destination %s: GCS is not configured", uri)
			}
			return gcs(ctx)
		}
		if u, err := url.Parse(uri); err == nil && u.Scheme != "" && u.Scheme != "file" {
			return nil, fmt.Errorf("destination %s: unsupported scheme %q; use gs://, file:// or a path", uri, u.Scheme)
		}
		return local, nil
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
