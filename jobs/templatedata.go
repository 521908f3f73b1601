package jobs

import (
	"context"
	"time"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// templateData is what the destination and source templates of run see.
// LastSuccessTime is the scheduled time of the job's latest succeeded run
// before this one, or PrevScheduledTime when there is none (or the store
// cannot tell).
func (r *Runner) templateData(ctx context.Context, job *config.Job, run state.Run, scheduled time.Time) config.TemplateData {
	prev := job.Schedule.Prev(scheduled)
	last := prev
	if ls, err := r.Store.LastSuccess(ctx, job.Name); err == nil && ls.ScheduledTime.Before(run.ScheduledTime) {
		last = ls.ScheduledTime.In(job.Location)
	}
	return config.TemplateData{
		Job:               job.Name,
		RunID:             run.ID,
		ScheduledTime:     scheduled,
		Attempt:           run.Attempt,
		PrevScheduledTime: prev,
		LastSuccessTime:   last,
	}
}
