package lookerapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// nonStreamingMeasureTypes are the LookML measure types Looker computes in
// its own memory after the database answers, so results that hold them
// do not stream (NOTES §9, §13.7).
var nonStreamingMeasureTypes = map[string]bool{
	"running_total":       true,
	"percent_of_total":    true,
	"percent_of_previous": true,
}

// Streams reports whether Looker can stream q's result as far as the query
// alone tells, and if not why: Looker computes results with table
// calculations, column totals, row totals or subtotals in memory (NOTES
// §13.7) and caps them (DefaultRowLimit; LegacyAllResultsCap for legacy
// "all results"). Measures of type running_total, percent_of_total or
// percent_of_previous and dialects without streaming also prevent it;
// those need the explore and the connection, which Resolve reads.
//
// Pivots are not a reason on their own: Looker documents pivots the
// database cannot do as non-streaming, but not when it pivots itself, so
// they count only with a dialect that does not stream (see Resolve).
func Streams(q Query) (bool, []string) {
	var why []string
	dyn, _ := DynamicFields(q.DynamicFields)
	var calcs []string
	for _, name := range q.Fields {
		if f, ok := dyn[name]; ok && f.Category == "table_calculation" {
			calcs = append(calcs, name)
		}
	}
	if len(calcs) > 0 {
		why = append(why, "table calculations ("+strings.Join(calcs, ", ")+")")
	}
	if q.Total {
		why = append(why, "column totals")
	}
	if q.RowTotal != "" {
		why = append(why, "row totals")
	}
	if len(q.Subtotals) > 0 {
		why = append(why, "subtotals")
	}
	return len(why) == 0, why
}

// streamability adds to Streams what the explore's field types and the
// connection's dialect tell. dialectStreams is nil when the dialect is
// not known.
func streamability(q Query, fields []Field, dialect string, dialectStreams *bool) (bool, []string) {
	_, why := Streams(q)
	var measures []string
	for _, f := range fields {
		if nonStreamingMeasureTypes[f.Type] {
			measures = append(measures, f.Name+" ("+f.Type+")")
		}
	}
	if len(measures) > 0 {
		why = append(why, "measures Looker computes itself ("+strings.Join(measures, ", ")+")")
	}
	if dialectStreams != nil && !*dialectStreams {
		w := "the connection's dialect does not stream"
		if dialect != "" {
			w = "the connection's dialect " + dialect + " does not stream"
		}
		if len(q.Pivots) > 0 {
			w += ", and Looker pivots in memory (" + strings.Join(q.Pivots, ", ") + ")"
		}
		why = append(why, w)
	}
	return len(why) == 0, why
}

// connectionDialect reads whether a connection's dialect streams:
// GET /connections/{connection_name}?fields=dialect.
func (c *Client) connectionDialect(ctx context.Context, name, as string) (dialect string, streams *bool, err error) {
	r := &request{op: "connection", method: http.MethodGet, path: "/connections/" + url.PathEscape(name),
		query: url.Values{"fields": {"dialect"}}, as: as}
	var out struct {
		Dialect *struct {
			Name              string `json:"name"`
			Label             string `json:"label"`
			SupportsStreaming *bool  `json:"supports_streaming"`
		} `json:"dialect"`
	}
	if err := c.getJSON(ctx, r, &out); err != nil {
		return "", nil, err
	}
	if out.Dialect == nil {
		return "", nil, nil
	}
	return nonEmpty(out.Dialect.Label, out.Dialect.Name), out.Dialect.SupportsStreaming, nil
}

// resolveStreaming fills res.Streams and res.NotStreaming for q. A
// connection the user may not read (403, 404: reading connections takes
// an admin's rights) leaves the dialect unknown, which is logged, not a
// problem: the run's truncation guard still catches a capped result.
// Other failures are returned.
func (c *Client) resolveStreaming(ctx context.Context, res *Resolved, q Query, ex *Explore, as string) error {
	var dialect string
	var streams *bool
	if ex.ConnectionName != "" {
		var err error
		dialect, streams, err = c.connectionDialect(ctx, ex.ConnectionName, as)
		var e *Error
		switch {
		case errors.As(err, &e) && (e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusNotFound):
			c.log.Info("dialect of the connection not readable; streaming judged without it",
				zap.String("source", res.Source), zap.String("connection", ex.ConnectionName), zap.Int("status", e.StatusCode))
		case err != nil:
			return err
		}
	}
	res.Streams, res.NotStreaming = streamability(q, res.Fields, dialect, streams)
	return nil
}
