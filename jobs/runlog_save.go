package jobs

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/runlog"
)

// saveRunLog stores the run's captured log lines, even when ctx is
// cancelled (an interrupted run's log matters most). A failure is logged:
// the run itself is already recorded.
func (r *Runner) saveRunLog(ctx context.Context, runID string, buf *runlog.Buffer) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Store.SaveRunLog(sctx, runID, buf.Lines()); err != nil {
		r.Log.Error("save run log failed", zap.String("run_id", runID), zap.Error(err))
	}
}
