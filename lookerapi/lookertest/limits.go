package lookertest

import "strings"

// DefaultRowCap is how many rows a run without a limit parameter (and no
// saved limit) returns at most: "no limit on a query means 5,000"
// (NOTES §9, §13.7; cloud.google.com/looker/docs/best-practices/row-limits-in-looker),
// and the default Options.NonStreamingCap.
const DefaultRowCap = 5000

// dialectName is the dialect of connection "warehouse".
const dialectName = "postgres"

// canPivotInDB is whether the dialect computes pivots in the database
// (LookmlModelExplore.can_pivot_in_db). PostgreSQL does, so pivots do not
// stop a sandbox result from streaming.
const canPivotInDB = true

// SetRows changes the orders table to its first n rows (n >= 0; 0
// empties it): later runs return the new data, as when a warehouse loads
// or deletes rows. It overrides Options.Rows.
func (s *Server) SetRows(n int) { s.rows.Store(int64(max(n, 0))) }

// Rows is how many rows a streaming run returns given the limit the run
// asked for (or the saved query's limit): 0 (none) caps at DefaultRowCap,
// -1 returns all of Options.Rows, n > 0 caps at n. A result Looker cannot
// stream is further capped at Options.NonStreamingCap. SQL Runner runs
// return Rows(-1) unless their SQL ends in LIMIT n. Output row i is table
// row i (see Value), except for queries with filters the sandbox applies,
// which return only the matching rows.
func (s *Server) Rows(limit int64) int {
	n := int(s.rows.Load())
	switch {
	case limit == 0:
		return min(n, DefaultRowCap)
	case limit < 0:
		return n
	default:
		return int(min(int64(n), limit))
	}
}

// streamingDialect is Dialect.supports_streaming of connection "warehouse".
func (s *Server) streamingDialect() bool {
	return s.opts.StreamingDialect == nil || *s.opts.StreamingDialect
}

// streams reports whether Looker can stream q's result. It cannot (and
// computes it in memory, capped) with table calculations, totals, row
// totals, subtotals, running_total / percent_of_total /
// percent_of_previous measures, pivots the database cannot compute, or a
// dialect without streaming (Dialect.supports_streaming false). Sources:
// cloud.google.com/looker/docs/best-practices/row-limits-in-looker
// ("table calculations are the most common reason a result does not
// stream"), the archived note on legacy unlimited downloads (Looker 4.14)
// listing row totals, table calculations, percent_of_total /
// percent_of_previous / running_total measures, non-streaming dialects and
// Looker-side pivots (NOTES §9, §13.7). Subtotals are computed by Looker
// too [inf].
func (s *Server) streams(q Query, sh *shape) bool {
	if !s.streamingDialect() {
		return false
	}
	if q.Total || strings.TrimSpace(q.RowTotal) != "" || len(q.Subtotals) > 0 {
		return false
	}
	if hasTableCalcs(q) || len(sh.pivots) > 0 && !canPivotInDB {
		return false
	}
	for _, d := range sh.defs {
		switch d.Type {
		case "running_total", "percent_of_total", "percent_of_previous":
			return false
		}
		if d.Category == "table_calculation" {
			return false
		}
	}
	return true
}
