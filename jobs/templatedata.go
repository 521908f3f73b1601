package jobs

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// templateData is what the destination and source templates of run see.
// LastSuccessTime is the scheduled time of the job's latest succeeded run
// before this one, or PrevScheduledTime when there is none (or the store
// cannot tell through a store outage of two leases). A job with only a
// trigger has no fire times: its PrevScheduledTime is LastSuccessTime
// (zero when none succeeded). TriggeredAt is config.Job.TriggeredAt.
// The store is read only for a job whose templates can see the latest
// success (config.Job.SeesLastSuccess), or that has only a trigger.
func (r *Runner) templateData(ctx context.Context, log *zap.Logger, job *config.Job, run state.Run, scheduled time.Time, opts RunOptions) config.TemplateData {
	prev := job.Schedule.Prev(scheduled)
	last := prev
	// Read only when a template can see it: a store round trip per run
	// that most jobs, whose templates never name it, would pay for nothing.
	if job.Schedule == nil || job.SeesLastSuccess() {
		if ls, err := r.lastSuccess(ctx, log, job.Name, opts); err == nil && ls.ScheduledTime.Before(run.ScheduledTime) {
			last = ls.ScheduledTime.In(job.Location)
		}
	}
	if job.Schedule == nil {
		prev = last // fired by its trigger only: the data interval starts at the latest success's triggered_at
	}
	return config.TemplateData{
		Job:               job.Name,
		RunID:             run.ID,
		ScheduledTime:     scheduled,
		Attempt:           run.Attempt,
		PrevScheduledTime: prev,
		LastSuccessTime:   last,
		TriggeredAt:       job.TriggeredAt(scheduled),
	}
}
