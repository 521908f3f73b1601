package lookerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Field is one column of a result as LookML describes it.
type Field struct {
	Name     string // "orders.created_date"; a table calculation's name ("amount_with_vat")
	Label    string // "Orders Created Date"
	Type     string // LookML type: "date_date", "number", "count", ...; "" when unknown
	Category string // "dimension", "measure", "table_calculation"
	// ConvertTZ is the explore's convert_tz: false for a datetime Looker
	// renders as stored, without converting it to the query's zone; nil
	// when not stated (LookML's default: converted).
	ConvertTZ *bool
}

// Local reports whether f is declared convert_tz: no: its values are
// wall-clock times, not instants in the query's zone.
func (f Field) Local() bool { return f.ConvertTZ != nil && !*f.ConvertTZ }

// Explore is the field list of a LookML explore.
type Explore struct {
	Model          string
	Name           string
	ConnectionName string  // the database connection the explore's queries run on
	Fields         []Field // dimensions, then measures, in LookML order

	// byName indexes Fields by name (the last of a name wins), built once
	// for an explore the client caches, so that a run looks its fields
	// up without indexing an explore of hundreds of fields anew; nil in
	// an Explore made otherwise (see index).
	byName map[string]int
}

// index returns ex's fields by name: the one built when the explore was
// read, or a new one.
func (ex *Explore) index() map[string]int {
	if ex.byName != nil {
		return ex.byName
	}
	m := make(map[string]int, len(ex.Fields))
	for i, f := range ex.Fields {
		m[f.Name] = i
	}
	return m
}

// Explore fetches an explore's fields:
// GET /lookml_models/{lookml_model_name}/explores/{explore_name}.
func (c *Client) Explore(ctx context.Context, model, explore string) (*Explore, error) {
	e, err := c.explore(ctx, model, explore, "")
	if err != nil {
		return nil, err
	}
	own := *e // the caller's to modify; the cached one is shared
	own.Fields = slices.Clone(e.Fields)
	own.byName = nil // it would not follow the caller's changes
	return &own, nil
}

// explore reads an explore's fields as user as ("" the API user), at most
// once per MetadataTTL; the *Explore is shared and must not be modified.
func (c *Client) explore(ctx context.Context, model, explore, as string) (*Explore, error) {
	if model == "" || explore == "" {
		return nil, &Error{Op: "lookml_model_explore", Message: "the model and the explore name are both needed"}
	}
	key := model + "\x00" + explore + "\x00" + as
	if e, ok := c.explores.get(key, c.clock.Now()); ok {
		return e, nil
	}
	r := &request{op: "lookml_model_explore", method: http.MethodGet,
		path:  "/lookml_models/" + url.PathEscape(model) + "/explores/" + url.PathEscape(explore),
		query: url.Values{"fields": {"id,name,model_name,connection_name,fields"}}, as: as}
	type field struct {
		Name      string `json:"name"`
		Label     string `json:"label"`
		Type      string `json:"type"`
		Category  string `json:"category"`
		ConvertTZ *bool  `json:"convert_tz"`
	}
	var raw struct {
		Name           string `json:"name"`
		ConnectionName string `json:"connection_name"`
		Fields         struct {
			Dimensions []field `json:"dimensions"`
			Measures   []field `json:"measures"`
		} `json:"fields"`
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	e := &Explore{Model: model, Name: explore, ConnectionName: raw.ConnectionName}
	for _, list := range [][]field{raw.Fields.Dimensions, raw.Fields.Measures} {
		for _, f := range list {
			e.Fields = append(e.Fields, Field(f))
		}
	}
	e.byName = e.index()
	c.explores.put(key, e, c.clock.Now())
	return e, nil
}

// Resolved is what a source runs, found without running it.
type Resolved struct {
	Source    string // e.g. "look 42"
	LookID    string
	LookTitle string
	QueryID   string // "" for inline and SQL Runner queries
	Model     string // "" for SQL Runner queries
	View      string // the explore
	Query     *Query // nil for SQL Runner queries
	// Fields are the result's columns in order, with their LookML types;
	// nil for SQL Runner queries, whose columns are known only once the SQL
	// runs.
	Fields []Field
	// Streams reports whether Looker can stream the result (NOTES §13.7).
	// When it cannot (NotStreaming says why: table calculations, totals,
	// row totals, subtotals, running_total / percent_of_* measures, a
	// dialect without streaming), Looker computes the whole result in
	// memory and caps it (DefaultRowLimit; LegacyAllResultsCap for legacy
	// "all results"), whatever the limit.
	Streams      bool
	NotStreaming []string
	// Timezone and TimezoneSource are the zone a run renders datetimes in
	// and where it comes from, as in Result. Timezone is "" for SQL Runner
	// and when the zone cannot be told (Problems then says to set
	// query_timezone on the job).
	Timezone       string
	TimezoneSource string
	SavedLimit     string   // the saved query's limit; "" when none, or for inline and SQL Runner queries
	Problems       []string // fields the explore does not know, an unknown time zone, and the like
}

// Resolve is ResolveRun with only RunOptions.RunAs set: as, when set,
// makes the calls as that user. The zone it reports is the one a run
// without a job query_timezone would use.
func (c *Client) Resolve(ctx context.Context, src Source, as string) (*Resolved, error) {
	return c.ResolveRun(ctx, src, RunOptions{RunAs: as})
}

// ResolveRun finds what src run with opts runs, without running it: a
// Look's query (GET /looks/{id}), a saved query (GET /queries/{id} or
// /queries/slug/{slug}) or the inline query, the zone its datetimes come
// in (opts.QueryTimezone, the query's own, or GET /setting; see Run), the
// types of its fields (GET /lookml_models/{model}/explores/{explore}),
// and whether the result can stream (which also reads the explore's
// connection: GET /connections/{name}). A SQL Runner slug is checked to
// exist (GET /sql_queries/{slug}); SQL text is not run. Nothing is
// created in Looker.
func (c *Client) ResolveRun(ctx context.Context, src Source, opts RunOptions) (*Resolved, error) {
	if src.DashboardID != "" {
		return nil, &Error{Source: src.String(), Op: "resolve", Message: "a dashboard has no one query: read it with Dashboard and TileQueries"}
	}
	if n := countSet(src); n != 1 {
		return nil, &Error{Op: "resolve", Message: fmt.Sprintf("the source must set exactly one of look id, query id, query slug, query or sql; %d are set", n)}
	}
	as := opts.RunAs
	res := &Resolved{Source: src.String(), Streams: true}
	var q *Query
	switch {
	case src.SQL != nil:
		if src.SQL.Slug != "" {
			r := &request{op: "sql_query", method: http.MethodGet, path: "/sql_queries/" + url.PathEscape(src.SQL.Slug), as: as}
			var out struct {
				Slug string `json:"slug"`
			}
			if err := c.getJSON(ctx, r, &out); err != nil {
				return nil, withSource(err, res.Source)
			}
		}
		res.Model = src.SQL.Model
		res.TimezoneSource = ZoneSourceSQLRunner
		return res, nil
	case src.Query != nil:
		z, err := inlineZone(*src.Query, opts)
		if err != nil {
			res.Problems = append(res.Problems, err.Error())
		}
		res.Timezone, res.TimezoneSource = z.zone, z.source
		q = src.Query
	default:
		s, err := c.fetchSaved(ctx, src, as)
		if err != nil {
			return nil, withSource(err, res.Source)
		}
		res.LookID, res.LookTitle, res.QueryID, res.SavedLimit = s.lookID, s.lookTitle, s.id, s.query.Limit
		z, err := c.chooseZone(ctx, s, opts.QueryTimezone)
		switch {
		case IsRetryable(err):
			return nil, withSource(err, res.Source)
		case err != nil:
			res.Problems = append(res.Problems, err.Error())
		default:
			res.Timezone, res.TimezoneSource = z.zone, z.source
		}
		q = &s.query
		if opts.filtered() && err == nil {
			// What a run sends: the saved query with the job's filters
			// (not created here).
			d, _, err := deriveBody(s, z, opts)
			if err != nil {
				return nil, withSource(err, res.Source)
			}
			q = &d.Query
		}
	}
	res.Query, res.Model, res.View = q, q.Model, q.View

	ex, err := c.explore(ctx, q.Model, q.View, as)
	if err != nil {
		return nil, withSource(err, res.Source)
	}
	var problems []string
	res.Fields, problems = queryFields(*q, ex)
	res.Problems = append(res.Problems, problems...)
	if err := c.resolveStreaming(ctx, res, *q, ex, as); err != nil {
		return nil, withSource(err, res.Source)
	}
	return res, nil
}

// queryFields looks q's fields up in the explore and in q's dynamic
// fields, in q's order; fields found in neither are returned with their
// name only and reported as problems.
func queryFields(q Query, ex *Explore) ([]Field, []string) {
	byName := ex.index()
	var fields []Field
	var problems []string
	dyn, err := DynamicFields(q.DynamicFields)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, name := range q.Fields {
		if i, ok := byName[name]; ok {
			fields = append(fields, ex.Fields[i])
		} else if f, ok := dyn[name]; ok {
			fields = append(fields, f)
		} else {
			fields = append(fields, Field{Name: name})
			problems = append(problems, fmt.Sprintf("field %s is not in explore %s/%s", name, q.Model, q.View))
		}
	}
	return fields, problems
}

// DynamicFields parses a Query's dynamic_fields (a JSON string listing
// table calculations and custom fields) into fields by name. Table
// calculations get Category "table_calculation" and their _type_hint as
// Type ("number" when absent); custom dimensions and measures get their
// category and LookML type.
func DynamicFields(s string) (map[string]Field, error) {
	out := map[string]Field{}
	if strings.TrimSpace(s) == "" || s == "null" {
		return out, nil
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return out, fmt.Errorf("dynamic_fields is not a JSON array of objects: %v", err)
	}
	str := func(m map[string]any, k string) string {
		v, _ := m[k].(string)
		return v
	}
	for _, m := range list {
		var f Field
		switch {
		case str(m, "table_calculation") != "":
			f = Field{Name: str(m, "table_calculation"), Category: "table_calculation", Type: nonEmpty(str(m, "_type_hint"), "number")}
		case str(m, "measure") != "":
			f = Field{Name: str(m, "measure"), Category: "measure", Type: str(m, "type")}
		case str(m, "dimension") != "":
			f = Field{Name: str(m, "dimension"), Category: "dimension", Type: nonEmpty(str(m, "type"), str(m, "_type_hint"))}
		default:
			continue
		}
		f.Label = str(m, "label")
		out[f.Name] = f
	}
	return out, nil
}
