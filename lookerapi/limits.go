package lookerapi

import (
	"fmt"
)

// DefaultRowLimit is the row cap Looker applies silently: to a query run
// without a limit (neither the run's limit parameter nor the query's own
// limit), and the cap browser display and Explore-saved Looks carry
// (NOTES §9, §13.7). A run that returns exactly this many rows was most
// likely cut short.
const DefaultRowLimit = 5000

// LegacyAllResultsCap is the documented cap on "all results" for results
// Looker cannot stream (table calculations, totals, running_total and
// percent_of_* measures, dialects without streaming) when the legacy
// "allow unlimited downloads" feature is off (NOTES §9, §13.7). How many
// rows the API returns for such results is not documented; a row count
// equal to DefaultRowLimit or to this cap means the result was most likely
// cut short.
const LegacyAllResultsCap = 50000

// limitParam is the limit parameter a run sends, and whether it sends one:
// none with RunOptions.SavedLimit (the saved query's limit applies), else
// RunOptions.Limit with 0 meaning -1 (all results).
func limitParam(o RunOptions) (int64, bool) {
	if o.SavedLimit {
		return 0, false
	}
	if o.Limit == 0 {
		return -1, true
	}
	return o.Limit, true
}

// checkLimit rejects run options that ask for two limits at once.
func checkLimit(o RunOptions) error {
	if o.SavedLimit && o.Limit != 0 {
		return &Error{Op: "run", Message: fmt.Sprintf("the run asks for the saved query's limit and for limit %d at once; set one of them", o.Limit)}
	}
	return nil
}

// appliedLimit is Result.AppliedLimit: the limit sent, 0 when none was.
func appliedLimit(o RunOptions, sql bool) int64 {
	if l, ok := limitParam(o); ok && !sql {
		return l
	}
	return 0
}
