package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/runlog"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/publish"
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

	// WaitingForSlot is set while the run waits for one of Looker's query
	// slots (looker.max_concurrent_queries, per Looker user).
	WaitingForSlot atomic.Bool

	queryID atomic.Pointer[string] // the Looker query id, once known
	// queryIDs are the queries of a run of several (a dashboard's tiles),
	// once each ran; they are recorded instead of queryID.
	queryIDs atomic.Pointer[[]string]
	schema   atomic.Pointer[string] // the output schema as JSON, once known
	hash     atomic.Pointer[string] // the content hash, once every row was read
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
	Log      *runlog.Buffer // the run's log so far
}

// Runner executes single runs. It is safe for concurrent use.
type Runner struct {
	Looker    Looker
	Sinks     SinkFor
	Store     state.Store
	Log       *zap.Logger
	Clock     Clock // nil means RealClock; the default of everything built on the Runner
	Observers []Observer
	// LogLines is how many log lines of each run are kept and saved with
	// it (state.Store.SaveRunLog); 0 means runlog.DefaultLines.
	LogLines int

	inFlight sync.Map // run id -> InFlightRun
	checked  sync.Map // check scope -> time.Time its check passed (checkDestination)
}

// DestinationCheckTTL is how long a passed destination check
// (sinks.Checker) of a scope, a directory or a bucket, is trusted, on the
// run's clock: runs writing there every minute or more often pay one probe
// a minute, a daily job alone one per run.
// A failed check is never cached, so a bucket created after a failure is
// seen by the next run.
const DestinationCheckTTL = time.Minute

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

func (r *Runner) clock() Clock { return orReal(r.Clock) }

// RunOptions adjust one run.
type RunOptions struct {
	Progress *Progress // optional; updated as the run streams
	// OnStart, if set, is called with the run once it is recorded, before
	// any work: it tells a caller running Run in the background its run id.
	OnStart func(state.Run)
	// AcceptSchemaChange lets a job with on_schema_change: fail publish a
	// result whose schema differs from its last success; the new schema
	// becomes the baseline.
	AcceptSchemaChange bool

	// Set by the Scheduler that runs the attempt: the clock, lease and
	// jitter the final record's retries follow (storeRetry). Unset, they
	// are Runner.Clock, config.DefaultLease and math/rand/v2. The clock
	// also stamps the run's log lines and its manifest.
	clock  Clock
	lease  time.Duration
	jitter func() float64
	// slot, when set, releases the run slot (Scheduler.MaxConcurrentRuns)
	// the caller took for the first attempt, which then takes none.
	slot func()
}

// Execute performs run, an attempt of job already recorded as Running (by
// Claim or Retry, whose lease the caller holds), and records its outcome.
// It returns the recorded run; the error is the run's failure, if any.
// The outcome is recorded even when ctx is done, and FinishRun is retried
// with backoff through a store outage of up to two leases; if the store
// stays down longer the trouble is logged, never returned as the run's
// error, and the run as known here is returned. opts.Progress, when given,
// restarts from zero.
func (r *Runner) Execute(ctx context.Context, job *config.Job, run state.Run, opts RunOptions) (state.Run, error) {
	scheduled := run.ScheduledTime.In(job.Location)
	if opts.clock == nil {
		opts.clock = r.clock()
	}
	clock := opts.clock
	logBuf := runlog.NewBuffer(r.LogLines)
	logSaved := false
	defer func() {
		if !logSaved { // FinishRun stores it, unless the store was down
			r.saveRunLog(ctx, run.ID, logBuf)
		}
	}()
	log := r.Log.WithOptions(logClock(clock), runlog.Tee(logBuf)).With(zap.String("job", job.Name), zap.String("run_id", run.ID), zap.Int("attempt", run.Attempt))
	log.Info("run started", zap.Time("scheduled_time", scheduled), zap.Stringer("source", job.Source))
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	opts.Progress.Rows.Store(0) // a retry starts over
	opts.Progress.Bytes.Store(0)
	opts.Progress.hash.Store(nil)
	opts.Progress.queryIDs.Store(nil)
	r.inFlight.Store(run.ID, InFlightRun{Run: run, Progress: opts.Progress, Log: logBuf})
	if opts.OnStart != nil {
		opts.OnStart(run)
	}
	for _, o := range r.Observers {
		o.RunStarted(run)
	}

	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, job.Timeout, fmt.Errorf("run timed out after %s (the job's timeout)", job.Timeout))
		defer cancel()
	}
	uris, err := r.safeExport(ctx, log, job, run, scheduled, opts)

	res := state.Result{Status: state.Succeeded, Rows: opts.Progress.Rows.Load(), Bytes: opts.Progress.Bytes.Load(), URIs: uris}
	if q := opts.Progress.queryID.Load(); q != nil && *q != "" {
		res.QueryIDs = []string{*q}
	}
	if ids := opts.Progress.queryIDs.Load(); ids != nil {
		res.QueryIDs = *ids
	}
	if s := opts.Progress.schema.Load(); s != nil {
		res.Schema = *s
	}
	if h := opts.Progress.hash.Load(); h != nil {
		res.ContentHash = *h
	}
	var skip *skipError
	if errors.As(err, &skip) {
		// The send condition did not hold: a run that did its work and
		// published nothing, as asked. Not a failure.
		res.Status, res.ErrorClass, res.Error, res.URIs, res.Bytes = state.Skipped, state.ClassCondition, skip.reason, nil, 0
		err = nil
	}
	if err != nil {
		res.Status, res.ErrorClass = classify(ctx, err)
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		// Cause first: the job and run id are the run's own columns and the
		// log's fields, never a prefix, so views that truncate the error
		// (status page, history, Slack) still show what went wrong.
		res.Error = errorText(err)
	}
	// The outcome's log line is written before the outcome is recorded, so
	// that the run's stored log, saved with the outcome in one call, ends
	// with it. The run ended now, however long recording it takes.
	finished := clock.Now()
	fields := []zap.Field{zap.String("status", string(res.Status)), zap.Int64("rows", res.Rows), zap.Int64("bytes", res.Bytes), zap.Duration("duration", finished.Sub(run.StartedAt))}
	switch {
	case err != nil:
		log.Error("run failed", append(fields, zap.String("error_class", res.ErrorClass), zap.Error(err))...)
	case res.Status == state.Skipped:
		log.Info("run skipped; nothing was published", append(fields, zap.String("reason", res.Error), zap.String("content_hash", res.ContentHash))...)
	default:
		log.Info("run succeeded", append(fields, zap.Strings("uris", uris))...)
	}
	res.Log = logBuf.Lines()
	// Record the outcome even when ctx is cancelled: that is when it
	// matters. A store that is briefly down is waited for (storeRetry); the
	// store's trouble is logged and never becomes the run's error.
	fctx := context.WithoutCancel(ctx)
	var recorded state.Run
	ferr := storeRetry(fctx, clock, storeOutage(opts.lease), opts.jitter, log, "FinishRun", func() error {
		cctx, cancel := context.WithTimeout(fctx, 30*time.Second)
		defer cancel()
		var err error
		recorded, err = r.Store.FinishRun(cctx, run.ID, res, finished)
		return err
	})
	if ferr != nil {
		log.Error("record run outcome failed; the run's lease will expire and it will be run again", zap.Error(ferr))
		// A try whose answer was lost may have recorded it all the same.
		gctx, cancel := context.WithTimeout(fctx, 30*time.Second)
		defer cancel()
		if done, gerr := r.Store.GetRun(gctx, run.ID); gerr == nil && done.Status.Terminal() {
			recorded = done
		}
	} else {
		logSaved = true // with the outcome
	}
	if recorded.Status.Terminal() {
		run = recorded
	} else {
		// Not recorded (or not readable): report the outcome as the run knows it.
		run.Status, run.FinishedAt, run.Rows, run.Bytes, run.URIs = res.Status, finished, res.Rows, res.Bytes, res.URIs
		run.ErrorClass, run.Error, run.QueryIDs, run.Schema, run.ContentHash = res.ErrorClass, res.Error, res.QueryIDs, res.Schema, res.ContentHash
	}
	r.inFlight.Delete(run.ID)
	for _, o := range r.Observers {
		o.RunFinished(run, err)
	}
	return run, err
}

// safeExport is export with a panic, anywhere in the run's goroutine or
// in the conversion's, turned into the run's failure (with the stack in
// the run's log), so that one response no code foresaw fails one run and
// never the daemon.
func (r *Runner) safeExport(ctx context.Context, log *zap.Logger, job *config.Job, run state.Run, scheduled time.Time, opts RunOptions) (uris []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			uris, err = nil, formats.Recovered(p)
		}
		if pe := (*formats.PanicError)(nil); errors.As(err, &pe) {
			log.Error("run panicked", zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
		}
	}()
	return r.export(ctx, log, job, run, scheduled, opts)
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

// export streams the result to the destination and commits it: the data
// files (one, or parts when the job splits), then, unless the job turns it
// off, _manifest.json and _SUCCESS (see package sinks/publish). On failure
// nothing is announced and committed parts are removed. A job with a send
// condition or min_rows holds every file uncommitted until the rows have
// streamed and the condition is checked (publish.Options.Hold), so a run
// that does not publish (a *skipError, ErrTooFewRows) leaves the
// destination untouched. It returns the committed data files' URIs, only
// on success.
func (r *Runner) export(ctx context.Context, log *zap.Logger, job *config.Job, run state.Run, scheduled time.Time, opts RunOptions) ([]string, error) {
	p := opts.Progress
	td := r.templateData(ctx, log, job, run, scheduled, opts)
	spec, err := job.RenderRun(td)
	if err != nil {
		return nil, err
	}
	spec.Run.Log = log
	spec.Run.OnSlotWait = p.WaitingForSlot.Store // the client logs the wait in the run's log
	if job.TileFiles() {
		return r.exportDashboard(ctx, log, job, run, scheduled, opts, td, spec)
	}
	dest, err := job.RenderDestination(td)
	if err != nil {
		return nil, err
	}
	sink, err := r.Sinks(ctx, dest)
	if err != nil {
		return nil, err
	}
	// Before the query: a missing bucket fails in milliseconds, not after
	// Looker ran the whole query.
	if err := confine(sink, dest, job.Output.Root); err != nil {
		return nil, err
	}
	if err := r.checkDestination(ctx, log, opts.clock, sink, dest); err != nil {
		return nil, err
	}
	res, err := r.result(ctx, job, spec)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	log.Debug("looker result streaming", zap.String("content_type", res.ContentType), zap.String("query_id", res.QueryID))
	p.queryID.Store(&res.QueryID)
	zone, err := resultZone(log, job, res)
	if err != nil {
		return nil, err
	}
	logLimits(log, job, res)

	wopts := writeOptions(job, run, scheduled, res.ContentType)
	out, err := publish.Begin(ctx, sink, publish.Options{
		Dest: dest, Split: job.Output.Split(), Manifest: job.Output.Manifest,
		WriteOptions: wopts, Bytes: &p.Bytes, Now: opts.clock.Now, Log: log,
		Hold: job.Plan.Conditional(), Sidecars: sidecars(job),
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if aerr := out.Abort(); aerr != nil { // a no-op after a successful Commit
			log.Warn("clean up the output of the failed run", zap.Error(aerr))
		}
	}()
	var info outputInfo
	if err := convert(ctx, job, res, out, &p.Rows, &info, zone); err != nil {
		return nil, err
	}
	warnInvalidUTF8(log, &info)
	if err := checkTruncation(log, job, res, p.Rows.Load()); err != nil {
		return nil, err // before Commit: nothing is published
	}
	if err := r.checkSchema(ctx, log, job, info.schema, opts); err != nil {
		return nil, err // before Commit: nothing is published
	}
	if h := info.contentHash(); h != "" {
		p.hash.Store(&h)
	}
	if err := r.checkCondition(ctx, log, job, p.Rows.Load(), info.contentHash(), opts); err != nil {
		return nil, err // before Commit: nothing is published
	}
	if err := writeBigQuerySchema(job, out, &info); err != nil {
		return nil, err
	}
	m := newManifest(job, run, scheduled, res, wopts.ContentType, &info)
	m.Source.Filters, m.Source.FilterExpression = spec.Run.Filters, spec.Run.FilterExpression
	if err := out.Commit(ctx, m); err != nil {
		return nil, err
	}
	return out.URIs(), nil
}

// checkDestination asks a sink that is a sinks.Checker whether uri can be
// written, unless a check of the same scope (sinks.Checker.CheckScope: the
// directory probed, the bucket) passed within DestinationCheckTTL. A burst
// of jobs writing below one directory, or into one bucket, checks it once.
func (r *Runner) checkDestination(ctx context.Context, log *zap.Logger, clock Clock, sink sinks.Sink, uri string) error {
	c, ok := sink.(sinks.Checker)
	if !ok {
		return nil
	}
	scope := c.CheckScope(uri)
	now := clock.Now()
	if at, ok := r.checked.Load(scope); ok && now.Sub(at.(time.Time)) < DestinationCheckTTL {
		return nil
	}
	if err := c.Check(ctx, uri); err != nil {
		return err
	}
	log.Debug("destination checked", zap.String("scope", scope))
	r.checked.Store(scope, now)
	return nil
}

// confine refuses a local destination that leaves the job's root through a
// symlink (sinks.Confiner); the sink's Create checks again.
func confine(sink sinks.Sink, uri, root string) error {
	c, ok := sink.(sinks.Confiner)
	if !ok || root == "" {
		return nil
	}
	return c.Confine(uri, root)
}

func writeOptions(job *config.Job, run state.Run, scheduled time.Time, lookerContentType string) sinks.WriteOptions {
	return sinks.WriteOptions{
		ContentType: job.Plan.ObjectType(lookerContentType),
		IfExists:    job.IfExists,
		Root:        job.Output.Root, // a local file must not leave it through a symlink
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
