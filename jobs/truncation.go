package jobs

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

// ErrTruncated marks a run that returned exactly its row limit (or
// Looker's 5,000-row cap) with on_truncation: fail.
var ErrTruncated = errors.New("the result was probably truncated")

// checkTruncation looks at the row count of a finished conversion: a run
// that returned exactly its limit, or exactly lookerapi.DefaultRowLimit
// rows when it asked for all (limit -1: Looker caps results it cannot
// stream, such as those with table calculations, pivots or totals, at
// 5,000 rows without saying so), was most likely cut short. It logs a
// warning, or with on_truncation: fail returns an error wrapping
// ErrTruncated, which the caller returns before committing anything.
func checkTruncation(log *zap.Logger, job *config.Job, rows int64) error {
	limit := job.Run.Limit
	var why string
	switch {
	case limit > 0 && rows == limit:
		why = fmt.Sprintf("the run returned exactly its limit of %d rows, so there are probably more; raise limit (or set limit: -1 for all rows)", limit)
	case limit < 0 && rows == lookerapi.DefaultRowLimit:
		why = fmt.Sprintf("the run asked for all rows (limit -1) and got exactly %d, Looker's cap for results it cannot stream "+
			"(table calculations, pivots, totals, row totals, subtotals); `exporter check` shows whether the source streams: "+
			"move table calculations into LookML dimensions or measures, drop pivots and totals, or split the export "+
			"(e.g. by a date filter) into parts of fewer than %d rows", rows, lookerapi.DefaultRowLimit)
	default:
		return nil
	}
	if job.OnTruncation == "fail" {
		return fmt.Errorf("%w: %s (the job says on_truncation: fail; nothing was published)", ErrTruncated, why)
	}
	log.Warn("result probably truncated", zap.Int64("rows", rows), zap.Int64("limit", limit), zap.String("why", why),
		zap.String("what_to_do", "fix the job, or set on_truncation: fail to fail such runs instead of publishing them"))
	return nil
}
