package jobs

import (
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

// ErrTruncated marks a run whose row count says it was cut short, with
// on_truncation: fail.
var ErrTruncated = errors.New("the result was probably truncated")

// appliedLimit is the limit the run sent (-1: all rows), or 0 when it sent
// none and the saved query's limit applied.
func appliedLimit(job *config.Job, res *lookerapi.Result) int64 {
	if res.AppliedLimit != 0 || job.Run.SavedLimit {
		return res.AppliedLimit
	}
	return job.Run.Limit
}

// savedLimit is the saved query's limit as a number; 0 when it has none
// (or it is not a number).
func savedLimit(res *lookerapi.Result) int64 {
	n, err := strconv.ParseInt(res.SavedLimit, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// logLimits says once, at the start of a run, when the job's limit
// overrides the limit saved with the Look or query (a Look saved as a
// top 10 becomes a full dump with limit -1; `limit: saved` keeps it).
func logLimits(log *zap.Logger, job *config.Job, res *lookerapi.Result) {
	applied := appliedLimit(job, res)
	if res.SavedLimit == "" || applied == 0 || strconv.FormatInt(applied, 10) == res.SavedLimit {
		return
	}
	log.Info("the job's limit overrides the saved query's",
		zap.Int64("limit", applied), zap.String("saved_limit", res.SavedLimit),
		zap.String("what_to_do", "set limit: saved on the job to keep the Look's own limit"))
}

// checkTruncation looks at the row count of a finished conversion. A run
// was most likely cut short when it returned exactly the limit it
// applied, exactly the saved query's limit (limit: saved), or exactly one
// of Looker's documented caps while it asked for more: 5,000 (runs
// without a limit, and results Looker cannot stream: table calculations,
// totals, row totals, running totals and percent-of measures, pivots the
// database cannot do) or 50,000 (the legacy "all results" cap). See NOTES
// §13.7. It logs a warning, or with on_truncation: fail returns an error
// wrapping ErrTruncated, which the caller returns before committing
// anything.
func checkTruncation(log *zap.Logger, job *config.Job, res *lookerapi.Result, rows int64) error {
	applied, saved := appliedLimit(job, res), savedLimit(res)
	asked := applied // what the run asked for; -1 all
	if applied == 0 {
		asked = saved
		if saved <= 0 {
			asked = lookerapi.DefaultRowLimit // no limit at all: Looker's default
		}
	}
	capped := func(limit int64) bool { return rows == limit && (asked < 0 || asked > limit) }
	var why string
	switch {
	case applied > 0 && rows == applied:
		why = fmt.Sprintf("the run returned exactly its limit of %d rows, so there are probably more; raise limit (or set limit: -1 for all rows)", applied)
	case applied == 0 && saved > 0 && rows == saved:
		why = fmt.Sprintf("the run returned exactly the saved query's limit of %d rows (limit: saved), so there are probably more; set limit on the job to override it", saved)
	case applied == 0 && saved <= 0 && rows == lookerapi.DefaultRowLimit:
		why = fmt.Sprintf("the saved query has no limit, so Looker applied its default of %d rows; set limit: -1 on the job for all rows", rows)
	case capped(lookerapi.DefaultRowLimit), capped(lookerapi.LegacyAllResultsCap):
		why = fmt.Sprintf("the run asked for %s and got exactly %d, a cap Looker applies to results it cannot stream "+
			"(table calculations, totals, row totals, running_total and percent_of measures, pivots the database cannot do, databases without streaming); "+
			"`exporter check` shows whether the source streams: move table calculations into LookML, drop totals, "+
			"or split the export (e.g. by a date filter) into parts of fewer rows", limitWords(asked), rows)
	default:
		return nil
	}
	if job.OnTruncation == "fail" {
		return fmt.Errorf("%w: %s (the job says on_truncation: fail; nothing was published)", ErrTruncated, why)
	}
	log.Warn("result probably truncated", zap.Int64("rows", rows), zap.Int64("limit", applied), zap.String("saved_limit", res.SavedLimit), zap.String("why", why),
		zap.String("what_to_do", "fix the job, or set on_truncation: fail to fail such runs instead of publishing them"))
	return nil
}

func limitWords(limit int64) string {
	if limit < 0 {
		return "all rows (limit -1)"
	}
	return fmt.Sprintf("%d rows", limit)
}
