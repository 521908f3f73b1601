package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// RunInfo is a run as the API, the CLI's --output json and the pages show
// it.
type RunInfo struct {
	ID              string     `json:"id"`
	Job             string     `json:"job"`
	ScheduledTime   time.Time  `json:"scheduled_time"`
	Attempt         int        `json:"attempt"`
	Status          string     `json:"status"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	DurationSeconds float64    `json:"duration_seconds"`
	Rows            int64      `json:"rows"`
	Bytes           int64      `json:"bytes"`
	URIs            []string   `json:"uris"`
	QueryIDs        []string   `json:"query_ids,omitempty"`
	ErrorClass      string     `json:"error_class,omitempty"`
	Error           string     `json:"error,omitempty"` // for a skipped run, the reason
	ContentHash     string     `json:"content_hash,omitempty"`
	Replica         string     `json:"replica,omitempty"`
	InFlight        bool       `json:"in_flight,omitempty"` // running in this process; rows and bytes are live
	// WaitingForSlot: the run waits for one of Looker's query slots
	// (looker.max_concurrent_queries).
	WaitingForSlot bool `json:"waiting_for_slot,omitempty"`
}

// NewRunInfo converts a recorded run; now measures the duration of a run
// still going.
func NewRunInfo(r state.Run, now time.Time) RunInfo {
	ri := RunInfo{ID: r.ID, Job: r.Job, ScheduledTime: r.ScheduledTime, Attempt: r.Attempt, Status: string(r.Status),
		StartedAt: r.StartedAt, Rows: r.Rows, Bytes: r.Bytes, URIs: r.URIs, QueryIDs: r.QueryIDs,
		ErrorClass: r.ErrorClass, Error: r.Error, ContentHash: r.ContentHash, Replica: r.Replica}
	if ri.URIs == nil {
		ri.URIs = []string{}
	}
	end := now
	if !r.FinishedAt.IsZero() {
		f := r.FinishedAt
		ri.FinishedAt = &f
		end = f
	}
	if !r.StartedAt.IsZero() {
		ri.DurationSeconds = end.Sub(r.StartedAt).Seconds()
	}
	return ri
}

// LogLineInfo is one log line of a run.
type LogLineInfo struct {
	Time    time.Time       `json:"time"`
	Level   string          `json:"level"`
	Message string          `json:"message"`
	Fields  json.RawMessage `json:"fields"`
}

// NewLogLines converts stored log lines.
func NewLogLines(lines []state.LogLine) []LogLineInfo {
	out := make([]LogLineInfo, 0, len(lines))
	for _, l := range lines {
		f := json.RawMessage(l.Fields)
		if !json.Valid(f) {
			f, _ = json.Marshal(l.Fields)
		}
		out = append(out, LogLineInfo{Time: l.Time, Level: l.Level, Message: l.Message, Fields: f})
	}
	return out
}

// JobInfo is a job with its schedule and latest runs.
type JobInfo struct {
	Name         string      `json:"name"`
	Description  string      `json:"description,omitempty"`
	Schedule     string      `json:"schedule"`
	ScheduleText string      `json:"schedule_text"`
	Timezone     string      `json:"timezone"`
	NextRuns     []string    `json:"next_runs"` // RFC 3339 in the job's time zone
	Source       string      `json:"source"`
	Format       string      `json:"format"`
	Compression  string      `json:"compression"`
	Destination  string      `json:"destination"`
	MaxStaleness string      `json:"max_staleness,omitempty"`
	LastRun      *RunInfo    `json:"last_run"`
	LastSuccess  *RunInfo    `json:"last_success"`
	Running      []RunInfo   `json:"running"`
	NextTimes    []time.Time `json:"-"` // NextRuns as times
	// Health is what the on-call page sorts and counts by (see health):
	// "failing", "stale", "ok" or "never" (no run has checked the data
	// yet, and none failed).
	Health string `json:"health"`
	// StaleAfter is when the job is, or will be, stale without a new
	// success (config.Job.StaleAfter); omitted when never.
	StaleAfter *time.Time `json:"stale_after,omitempty"`

	Trigger *jobs.TriggerInfo `json:"trigger,omitempty"` // a datagroup trigger and its last value
}

// NextFires returns the next n fire times of job after t, in its zone.
func NextFires(job *config.Job, t time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t = job.Schedule.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.In(job.Location))
	}
	return out
}

func (s *Server) jobInfo(ctx context.Context, j *config.Job, now time.Time) (JobInfo, error) {
	ji := JobInfo{Name: j.Name, Description: j.Description, Schedule: j.ScheduleSpec, ScheduleText: j.Schedule.Words(),
		Timezone: j.Location.String(), Source: j.Source.String(), Format: string(j.Plan.Format), Compression: string(j.Plan.Compression),
		Running: []RunInfo{}, NextRuns: []string{}}
	if j.Destination != nil {
		ji.Destination = j.Destination.String()
	}
	if j.MaxStaleness > 0 {
		ji.MaxStaleness = j.MaxStaleness.String()
	}
	ji.NextTimes = NextFires(j, now, 3)
	for _, t := range ji.NextTimes {
		ji.NextRuns = append(ji.NextRuns, t.Format(time.RFC3339))
	}
	var err error
	if ji.Trigger, err = jobs.NewTriggerInfo(ctx, s.opts.Store, j, s.opts.Triggers); err != nil {
		return ji, err
	}
	runs, err := s.opts.Store.ListRuns(ctx, state.ListOptions{Job: j.Name, Limit: 10})
	if err != nil {
		return ji, err
	}
	if len(runs) > 0 {
		ri := s.runInfo(runs[0], now)
		ji.LastRun = &ri
	}
	checked, err := s.opts.Store.LastChecked(ctx, j.Name)
	switch {
	case errors.Is(err, state.ErrNotFound):
		checked = state.Run{}
	case err != nil:
		return ji, err
	}
	ji.Health, ji.StaleAfter = health(j, runs, checked, now)
	ls, err := s.opts.Store.LastSuccess(ctx, j.Name)
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return ji, err
	default:
		ri := NewRunInfo(ls, now)
		ji.LastSuccess = &ri
	}
	for _, f := range s.opts.Runner.InFlight() {
		if f.Run.Job == j.Name {
			ji.Running = append(ji.Running, s.inFlightInfo(f, now))
		}
	}
	return ji, nil
}

// Health values of JobInfo.
const (
	HealthFailing = "failing"
	HealthStale   = "stale"
	HealthOK      = "ok"
	HealthNever   = "never"
)

// health says whether a job needs someone:
//   - failing: its latest finished run (newest first in runs; runs still
//     going and runs skipped for a reason other than the send condition do
//     not count) failed or was interrupted;
//   - stale: not failing, but its data was last checked (checked: the
//     store's LastChecked, zero when none) longer ago than
//     config.Job.StaleAfter allows: max_staleness when set, else two fires
//     of its schedule (the staleness alerts use the same rule);
//   - never: nothing checked its data yet and nothing failed;
//   - ok otherwise.
func health(j *config.Job, runs []state.Run, checked state.Run, now time.Time) (string, *time.Time) {
	for _, r := range runs {
		if r.Status == state.Failed || r.Status == state.Interrupted {
			return HealthFailing, staleAfter(j, checked)
		}
		if r.Status == state.Succeeded || r.Checked() {
			break
		}
	}
	if checked.ID == "" {
		return HealthNever, nil
	}
	after := staleAfter(j, checked)
	if after != nil && now.After(*after) {
		return HealthStale, after
	}
	return HealthOK, after
}

func staleAfter(j *config.Job, checked state.Run) *time.Time {
	if checked.ID == "" {
		return nil
	}
	t := j.StaleAfter(checked.ScheduledTime)
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// runInfo is NewRunInfo with live progress for runs in flight here.
func (s *Server) runInfo(r state.Run, now time.Time) RunInfo {
	if r.Status == state.Running {
		for _, f := range s.opts.Runner.InFlight() {
			if f.Run.ID == r.ID {
				return s.inFlightInfo(f, now)
			}
		}
	}
	return NewRunInfo(r, now)
}

func (s *Server) inFlightInfo(f jobs.InFlightRun, now time.Time) RunInfo {
	ri := NewRunInfo(f.Run, now)
	ri.InFlight = true
	if f.Progress != nil {
		ri.Rows, ri.Bytes = f.Progress.Rows.Load(), f.Progress.Bytes.Load()
		ri.WaitingForSlot = f.Progress.WaitingForSlot.Load()
	}
	return ri
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) *config.Job {
	name := r.PathValue("job")
	j := s.jobNamed(name)
	if j == nil {
		s.notFound(w, r, "no job named "+strconv.Quote(name)+" in "+s.opts.Config.Path)
	}
	return j
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	if isAPI(r) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
		return
	}
	s.renderError(w, r, http.StatusNotFound, msg)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error("status server: "+what+" failed", zap.String("path", r.URL.Path), zap.Error(err))
	msg := what + " failed: " + err.Error()
	if isAPI(r) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": msg})
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, msg)
}

func isAPI(r *http.Request) bool { return len(r.URL.Path) >= 5 && r.URL.Path[:5] == "/api/" }

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Clock.Now()
	jobs := s.jobs()
	out := make([]JobInfo, 0, len(jobs))
	for _, j := range jobs {
		ji, err := s.jobInfo(r.Context(), j, now)
		if err != nil {
			s.internal(w, r, "read runs of job "+j.Name, err)
			return
		}
		out = append(out, ji)
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) {
	j := s.job(w, r)
	if j == nil {
		return
	}
	ji, err := s.jobInfo(r.Context(), j, s.opts.Clock.Now())
	if err != nil {
		s.internal(w, r, "read runs of job "+j.Name, err)
		return
	}
	writeJSON(w, http.StatusOK, ji)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	opts := state.ListOptions{Job: r.URL.Query().Get("job"), Limit: 50}
	if opts.Job != "" && s.jobNamed(opts.Job) == nil {
		// Runs of a job removed from the config are still listed.
		s.log.Debug("listing runs of a job not in the config", zap.String("job", opts.Job))
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 1000"})
			return
		}
		opts.Limit = n
	}
	runs, err := s.opts.Store.ListRuns(r.Context(), opts)
	if err != nil {
		s.internal(w, r, "list runs", err)
		return
	}
	now := s.opts.Clock.Now()
	out := make([]RunInfo, 0, len(runs))
	for _, run := range runs {
		out = append(out, s.runInfo(run, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) (state.Run, bool) {
	id := r.PathValue("id")
	run, err := s.opts.Store.GetRun(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		s.notFound(w, r, "no run with id "+strconv.Quote(id))
		return run, false
	}
	if err != nil {
		s.internal(w, r, "read run "+id, err)
		return run, false
	}
	return run, true
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.getRun(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.runInfo(run, s.opts.Clock.Now()))
}

// runLog returns the saved log of a run, or the live one while it runs
// here.
func (s *Server) runLog(ctx context.Context, run state.Run) ([]state.LogLine, error) {
	if run.Status == state.Running {
		for _, f := range s.opts.Runner.InFlight() {
			if f.Run.ID == run.ID && f.Log != nil {
				return f.Log.Lines(), nil
			}
		}
	}
	return s.opts.Store.RunLog(ctx, run.ID)
}

func (s *Server) apiRunLog(w http.ResponseWriter, r *http.Request) {
	run, ok := s.getRun(w, r)
	if !ok {
		return
	}
	lines, err := s.runLog(r.Context(), run)
	if err != nil {
		s.internal(w, r, "read the log of run "+run.ID, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": run.ID, "lines": NewLogLines(lines)})
}

func (s *Server) apiRunNow(w http.ResponseWriter, r *http.Request) {
	j := s.job(w, r)
	if j == nil {
		return
	}
	run, err := s.RunNow(r.Context(), j)
	switch {
	case errors.Is(err, ErrBusy):
		writeJSON(w, http.StatusConflict, map[string]any{"error": "job " + j.Name + " has a run in flight (" + holder(run) + "); wait for it to finish",
			"run_id": run.ID, "replica": run.Replica})
		return
	case err != nil:
		s.internal(w, r, "start a run of "+j.Name, err)
		return
	}
	s.log.Info("run started from the API", zap.String("job", j.Name), zap.String("run_id", run.ID))
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": run.ID, "run": NewRunInfo(run, s.opts.Clock.Now())})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// holder names who runs run: its id and replica.
func holder(run state.Run) string {
	if run.Replica == "" {
		return "run " + run.ID + ", started without a lease"
	}
	return fmt.Sprintf("run %s, held by replica %q", run.ID, run.Replica)
}
