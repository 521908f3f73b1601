package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// ErrTooFewRows is the failure of a run with fewer rows than the job's
// min_rows.
var ErrTooFewRows = errors.New("too few rows")

// skipError ends a run whose send condition does not hold: nothing is
// published, and the run is recorded Skipped with the reason.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// checkCondition decides, after the last row and before anything is
// published, whether the run publishes: a *skipError when the job's send
// condition does not hold, ErrTooFewRows when it would publish fewer rows
// than min_rows, nil to publish. hash is the run's content hash.
func (r *Runner) checkCondition(ctx context.Context, log *zap.Logger, job *config.Job, rows int64, hash string, opts RunOptions) error {
	plan := job.Plan
	switch plan.When {
	case config.WhenResults:
		if rows == 0 {
			return &skipError{reason: "when: results: the result has no rows"}
		}
	case config.WhenNoResults:
		if rows > 0 {
			return &skipError{reason: fmt.Sprintf("when: no_results: the result has %d rows", rows)}
		}
	case config.WhenChanged:
		last, err := r.lastSuccess(ctx, log, job.Name, opts)
		switch {
		case errors.Is(err, state.ErrNotFound):
			log.Info("when: changed: no published run to compare with; publishing")
		case err != nil:
			return fmt.Errorf("when: changed: read the last published run to compare with: %w", err)
		case last.ContentHash == "":
			log.Info("when: changed: the last published run has no content hash (an exporter version before when: changed); publishing", zap.String("last_run_id", last.ID))
		case last.ContentHash == hash:
			return &skipError{reason: fmt.Sprintf("when: changed: same content as run %s published %s", last.ID, last.FinishedAt.UTC().Format(time.RFC3339))}
		default:
			log.Info("when: changed: the content differs from the last published run; publishing", zap.String("last_run_id", last.ID))
		}
	}
	if rows < plan.MinRows {
		return fmt.Errorf("%w: the result has %d rows, fewer than min_rows: %d, so nothing was published; check that the data the job reads has loaded and run it again (exporter run %s), or lower min_rows",
			ErrTooFewRows, rows, plan.MinRows, job.Name)
	}
	return nil
}
