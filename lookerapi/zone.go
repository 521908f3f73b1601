package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/lookerapi/zones"
)

// ErrTimezoneUnknown means the client cannot tell which time zone Looker
// renders a query's datetimes in (NOTES §13.1): the saved query has no
// query_timezone, the job sets none, and Looker's settings do not say (or
// the API user may not read them). Permanent; the error says to set
// query_timezone on the job.
var ErrTimezoneUnknown = errors.New("the query's time zone is unknown")

// Time zone sources, the words of Result.TimezoneSource and
// Resolved.TimezoneSource that do not name a source.
const (
	ZoneSourceJob         = "job query_timezone"
	ZoneSourceInline      = "query_timezone of the inline query"
	ZoneSourceDefault     = "UTC, the exporter's default for the queries it creates"
	ZoneSourceApplication = "application time zone (GET /setting)"
	ZoneSourceSQLRunner   = "SQL Runner does not convert (sql_timezone)"
)

// readOnlyQueryKeys are the Query properties the spec marks read-only,
// plus those Looker says to clear when creating a query through the API
// (filter_config: UI state; client_id: Looker generates a new one).
var readOnlyQueryKeys = []string{"can", "id", "slug", "share_url", "expanded_share_url", "url",
	"has_table_calculations", "filter_config", "client_id"}

// checkZone validates an IANA time zone name. what names where it came
// from, for the error.
func checkZone(zone, what string) error {
	if zone == "Local" || strings.TrimSpace(zone) != zone {
		return &Error{Op: "run", Message: fmt.Sprintf("%s %q is not an IANA time zone name such as Europe/Berlin or UTC", what, zone)}
	}
	if _, err := zones.Load(zone); err != nil {
		return &Error{Op: "run", Message: fmt.Sprintf("%s %q is not an IANA time zone name such as Europe/Berlin or UTC", what, zone), Err: err}
	}
	return nil
}

// savedSource is the saved query behind a Look, query id or slug, as
// Looker sent it.
type savedSource struct {
	name      string // "look 42's query", "query 123", "query slug AbC"
	lookID    string
	lookTitle string
	id        string // the query id
	query     Query
	raw       map[string]json.RawMessage // every property, to re-create the query
}

// fetchSaved reads the saved query of a Look (GET /looks/{id} with its
// query), a query id (GET /queries/{id}) or a slug (GET /queries/slug/{slug}).
func (c *Client) fetchSaved(ctx context.Context, src Source, as string) (*savedSource, error) {
	s := &savedSource{}
	var raw json.RawMessage
	switch {
	case src.LookID != "":
		if err := c.getJSON(ctx, &request{op: "look", method: http.MethodGet, path: "/looks/" + url.PathEscape(src.LookID),
			query: url.Values{"fields": {"id,title,query_id,query"}}, as: as}, &raw); err != nil {
			return nil, err
		}
		var l struct {
			ID      json.RawMessage `json:"id"`
			Title   string          `json:"title"`
			QueryID json.RawMessage `json:"query_id"`
			Query   json.RawMessage `json:"query"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, &Error{Op: "look", Method: http.MethodGet, Path: "/api/4.0/looks/" + src.LookID, Message: "decoding the Look", Err: err}
		}
		s.name, s.lookID, s.lookTitle, s.id = "look "+src.LookID+"'s query", nonEmpty(idString(l.ID), src.LookID), l.Title, idString(l.QueryID)
		raw = l.Query
		if len(raw) == 0 || string(raw) == "null" {
			if s.id == "" {
				return nil, &Error{Op: "look", Method: http.MethodGet, Path: "/api/4.0/looks/" + src.LookID, Message: "Looker returned the Look without a query_id"}
			}
			raw = nil
			if err := c.getJSON(ctx, &request{op: "query", method: http.MethodGet, path: "/queries/" + url.PathEscape(s.id), as: as}, &raw); err != nil {
				return nil, err
			}
		}
	case src.QueryID != "":
		s.name = "query " + src.QueryID
		if err := c.getJSON(ctx, &request{op: "query", method: http.MethodGet, path: "/queries/" + url.PathEscape(src.QueryID), as: as}, &raw); err != nil {
			return nil, err
		}
	case src.QuerySlug != "":
		s.name = "query slug " + src.QuerySlug
		if err := c.getJSON(ctx, &request{op: "query_for_slug", method: http.MethodGet, path: "/queries/slug/" + url.PathEscape(src.QuerySlug), as: as}, &raw); err != nil {
			return nil, err
		}
	default:
		return nil, &Error{Op: "run", Message: "only Looks and saved queries have a saved query"}
	}
	var q struct {
		ID json.RawMessage `json:"id"`
		Query
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, &Error{Op: "query", Message: "decoding " + s.name, Err: err}
	}
	if err := json.Unmarshal(raw, &s.raw); err != nil {
		return nil, &Error{Op: "query", Message: "decoding " + s.name, Err: err}
	}
	s.query = q.Query
	if id := idString(q.ID); id != "" {
		s.id = id
	}
	if s.id == "" {
		return nil, &Error{Op: "query", Message: "Looker returned " + s.name + " without an id"}
	}
	return s, nil
}

// inlineZone is the zone an inline query runs in: the job's
// query_timezone, else the query's own, else UTC. The client always sends
// it, so Looker's fallbacks never apply.
func inlineZone(q Query, opts RunOptions) (zoneChoice, error) {
	z := zoneChoice{zone: "UTC", source: ZoneSourceDefault}
	switch {
	case opts.QueryTimezone != "":
		z = zoneChoice{zone: opts.QueryTimezone, source: ZoneSourceJob}
	case q.QueryTimezone != "":
		z = zoneChoice{zone: q.QueryTimezone, source: ZoneSourceInline}
	}
	if err := checkZone(z.zone, "the "+z.source); err != nil {
		return zoneChoice{source: z.source}, err
	}
	return z, nil
}

// zoneChoice is the zone a run renders datetimes in and where it comes
// from. pin means the saved query must be re-created with that zone.
type zoneChoice struct {
	zone, source string
	pin          bool
}

// chooseZone decides the zone a saved query runs in (NOTES §13.1):
//
//   - the job's query_timezone (job), when set: the saved query as is when
//     it has the same zone, else re-created with it;
//   - else the saved query's query_timezone;
//   - else Looker's fallback, read from GET /setting: with user-specific
//     time zones on, the API user's zone, which API 4.0 does not expose
//     (fail); with them off, the application time zone, or (an undocumented
//     variant) the connection's query zone. Because the client cannot tell
//     those two apart, it pins the query to the application zone.
func (c *Client) chooseZone(ctx context.Context, s *savedSource, job string) (zoneChoice, error) {
	saved := s.query.QueryTimezone
	switch {
	case job != "":
		if err := checkZone(job, "the job's query_timezone"); err != nil {
			return zoneChoice{}, err
		}
		if job == saved {
			return zoneChoice{zone: job, source: ZoneSourceJob + " (the same as " + s.name + ")"}, nil
		}
		return zoneChoice{zone: job, source: ZoneSourceJob, pin: true}, nil
	case saved != "":
		if err := checkZone(saved, "the query_timezone of "+s.name); err != nil {
			return zoneChoice{}, err
		}
		return zoneChoice{zone: saved, source: "query_timezone of " + s.name}, nil
	}
	zone, err := c.applicationZone(ctx, s.name)
	if err != nil {
		return zoneChoice{}, err
	}
	return zoneChoice{zone: zone, source: ZoneSourceApplication, pin: true}, nil
}

// applicationZone reads Looker's fallback zone for queries without
// query_timezone: GET /setting?fields=timezone,allow_user_timezones, as
// the API user (an admin's setting), at most once per MetadataTTL.
func (c *Client) applicationZone(ctx context.Context, what string) (string, error) {
	if z, ok := c.appZones.get("", c.clock.Now()); ok {
		return z, nil
	}
	const fix = "; set query_timezone: <IANA zone> on the job"
	r := &request{op: "get_setting", method: http.MethodGet, path: "/setting",
		query: url.Values{"fields": {"timezone,allow_user_timezones"}}}
	var set struct {
		Timezone           *string `json:"timezone"`
		AllowUserTimezones *bool   `json:"allow_user_timezones"`
	}
	if err := c.getJSON(ctx, r, &set); err != nil {
		var e *Error
		if errors.As(err, &e) && (e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusNotFound) {
			return "", &Error{Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: e.StatusCode, Err: ErrTimezoneUnknown,
				Message: fmt.Sprintf("%s has no query_timezone and Looker does not show the API user its time zone settings (%s: an admin's setting)%s",
					what, nonEmpty(e.Message, http.StatusText(e.StatusCode)), fix)}
		}
		return "", err
	}
	unknown := func(why string) error {
		return &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Err: ErrTimezoneUnknown,
			Message: what + " has no query_timezone and " + why + fix}
	}
	switch {
	case set.AllowUserTimezones == nil || set.Timezone == nil:
		return "", unknown("Looker's settings do not say which time zone applies (no timezone or allow_user_timezones in GET /setting)")
	case *set.AllowUserTimezones:
		return "", unknown("user-specific time zones are on in Looker (Admin > Settings), so it runs in the zone of the user running it, which API 4.0 does not show")
	case *set.Timezone == "":
		return "", unknown("Looker's settings name no application time zone")
	}
	if err := checkZone(*set.Timezone, "Looker's application time zone"); err != nil {
		return "", unknown(err.(*Error).Message)
	}
	c.appZones.put("", *set.Timezone, c.clock.Now())
	return *set.Timezone, nil
}

// runPlan is what Run found out before running: what to run, in which
// zone, and what the result must look like.
type runPlan struct {
	src         Source // what runs: the source, or its query re-created in another zone
	queryID     string // the query id src runs, when known
	lookID      string // the Look src runs, when it runs as the Look
	zone        zoneChoice
	savedLimit  string
	localFields []string
	labels      []string      // the expected csv/txt header; nil when not known
	fields      []Field       // the query's columns, from its explore; nil when not known
	pivoted     bool          // the query has pivots, totals or subtotals
	derived     *DerivedQuery // the query created for the run (another zone, the job's filters); nil when none
}

// plan resolves the time zone of a run (see Run) and, for LookML queries,
// reads the explore for the fields' labels and convert_tz.
func (c *Client) plan(ctx context.Context, src Source, opts RunOptions) (*runPlan, error) {
	p := &runPlan{src: src}
	var q *Query
	switch {
	case src.SQL != nil:
		p.zone = zoneChoice{source: ZoneSourceSQLRunner}
		return p, nil
	case src.Query != nil:
		inline := *src.Query
		var err error
		if p.zone, err = inlineZone(inline, opts); err != nil {
			return nil, err
		}
		inline.QueryTimezone = p.zone.zone
		p.src = Source{Query: &inline}
		q = &inline
	default:
		s, err := c.fetchSaved(ctx, src, opts.RunAs)
		if err != nil {
			return nil, err
		}
		if p.zone, err = c.chooseZone(ctx, s, opts.QueryTimezone); err != nil {
			return nil, err
		}
		p.savedLimit, p.queryID = s.query.Limit, s.id
		switch {
		case p.zone.pin || opts.filtered():
			d, err := c.derive(ctx, s, p.zone, opts)
			if err != nil {
				return nil, err
			}
			p.queryID, p.derived = d.QueryID, d
			p.src = Source{QueryID: p.queryID}
			s.query = d.Query
		case src.LookID != "":
			p.lookID = s.lookID
		default:
			p.src = Source{QueryID: s.id} // a slug runs by the id it names
		}
		q = &s.query
	}
	ex, err := c.explore(ctx, q.Model, q.View, opts.RunAs)
	if err != nil {
		if IsRetryable(err) || ctx.Err() != nil {
			// A run that was stopped (or may work if tried again) ends
			// here; only an explore Looker refuses is run without.
			return nil, err
		}
		// The run itself reports what is wrong with the query (an unknown
		// model or explore) better; it runs without the labels and
		// convert_tz facts.
		c.log.Info("explore not readable; the run's csv header and convert_tz fields are not checked",
			zap.String("model", q.Model), zap.String("explore", q.View), zap.Error(err))
		return p, nil
	}
	fields, problems := queryFields(*q, ex)
	for _, f := range fields {
		if f.Local() {
			p.localFields = append(p.localFields, f.Name)
		}
	}
	p.labels = expectedHeader(*q, fields, opts)
	if len(problems) == 0 {
		p.fields = fields
	}
	// Pivots make columns of values; totals and subtotals add rows that
	// are not rows of the result (whether csv carries them is not
	// documented).
	p.pivoted = len(q.Pivots) > 0 || q.Total || q.RowTotal != "" || len(q.Subtotals) > 0
	return p, nil
}

// knownColumns returns the result's columns when the client knows them
// for sure (see Result.Fields): every field of the query found in its
// explore with a LookML type, no pivots (they make columns of values) or
// totals, no table calculations (their types are hints), values
// unformatted and no visualization applied (it may hide or rename
// columns). Nil otherwise.
func (p *runPlan) knownColumns(opts RunOptions) []Field {
	if p.fields == nil || p.pivoted || (opts.ApplyFormatting != nil && *opts.ApplyFormatting) || (opts.ApplyVis != nil && *opts.ApplyVis) {
		return nil
	}
	for _, f := range p.fields {
		if f.Type == "" || f.Category == "table_calculation" {
			return nil
		}
	}
	return p.fields
}

// typedColumns returns the columns of a csv result when a run may take
// csv for ResultFormat (see RunOptions.TypedCSV): the columns known, and
// the csv header they must match too. Nil otherwise.
func (p *runPlan) typedColumns(opts RunOptions) []Field {
	if !opts.TypedCSV || p.labels == nil || len(p.fields) != len(p.labels) {
		return nil
	}
	return p.knownColumns(opts)
}

// expectedHeader is the header a csv or txt result of q must start with:
// the fields' labels, or nil when that is not known for sure (pivots add
// header rows; apply_vis may rename columns; unknown fields).
func expectedHeader(q Query, fields []Field, opts RunOptions) []string {
	if len(q.Pivots) > 0 || (opts.ApplyVis != nil && *opts.ApplyVis) || len(fields) == 0 {
		return nil
	}
	labels := make([]string, len(fields))
	for i, f := range fields {
		if f.Label == "" {
			return nil
		}
		labels[i] = f.Label
	}
	return labels
}

// finish fills the result's zone, limit and field facts and arms the
// in-band check of its body with the expected header.
func (p *runPlan) finish(res *Result, opts RunOptions) *Result {
	res.Timezone, res.TimezoneSource = p.zone.zone, p.zone.source
	res.SavedLimit = p.savedLimit
	res.AppliedLimit = appliedLimit(opts, p.src.SQL != nil)
	res.LocalFields = p.localFields
	res.Format = opts.ResultFormat
	res.Fields = p.knownColumns(opts)
	return res
}
