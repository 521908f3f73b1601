package lookertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample content served by every Server.
const (
	LookID    = "42" // Look "Orders export", runs QueryID
	LookTitle = "Orders export"
	QueryID   = "123"       // saved query on thelook/orders with every field of QueryFields
	QuerySlug = "AbC123xyz" // slug of QueryID
	// NonStreamingLookID is a Look whose query (NonStreamingQueryID) has a
	// table calculation, so Looker cannot stream it: the server computes
	// such a result whole and caps it at Options.NonStreamingCap rows,
	// even when the run asks for -1 (all rows).
	NonStreamingLookID    = "43"
	NonStreamingLookTitle = "Orders with VAT"
	NonStreamingQueryID   = "124"
	// StaleFilterConfigLookID is a Look whose query (filters
	// orders.status "complete", limit 500) carries a filter_config left by
	// the Explore UI that says "cancelled"; with Options.FilterConfigWins
	// running it as saved applies the filter_config.
	StaleFilterConfigLookID  = "44"
	StaleFilterConfigQueryID = "125"
	Model                    = modelName      // "thelook"
	ExploreName              = exploreName    // "orders"
	Connection               = connectionName // "warehouse", the SQL Runner connection
)

// QueryFields are the fields of QueryID (and so of LookID), in order.
var QueryFields = []string{
	"orders.id", "orders.created_date", "orders.created_time", "users.name", "users.email", "users.country",
	"orders.status", "orders.amount", "orders.quantity", "orders.is_first_purchase", "orders.discount",
	"orders.note", "products.category", "orders.count", "orders.total_amount",
}

// NonStreamingQueryFields are the fields of NonStreamingQueryID: explore
// fields and the table calculation "amount_with_vat" (orders.amount * 1.2).
var NonStreamingQueryFields = []string{"orders.id", "orders.created_date", "users.country", "orders.amount", "amount_with_vat"}

// nonStreamingDynamicFields is the dynamic_fields of NonStreamingQueryID,
// as Looker stores a table calculation.
const nonStreamingDynamicFields = `[{"category":"table_calculation","expression":"${orders.amount} * 1.2","label":"Amount with VAT","value_format":null,"value_format_name":"eur","_kind_hint":"dimension","table_calculation":"amount_with_vat","_type_hint":"number"}]`

// Query is a Looker query, written from the spec's Query schema
// (components/schemas/Query; json names as the spec). The read-only
// properties the server computes (id, slug, share_url, url, can,
// has_table_calculations) are not part of it.
type Query struct {
	Model             string            `json:"model"`                         // required
	View              string            `json:"view"`                          // required: the explore
	Fields            []string          `json:"fields,omitempty"`              // view.field names
	Pivots            []string          `json:"pivots,omitempty"`              // pivoted dimensions (also listed in Fields)
	FillFields        []string          `json:"fill_fields,omitempty"`         // accepted, not modelled
	Filters           map[string]string `json:"filters,omitempty"`             // filter expressions by field
	FilterExpression  string            `json:"filter_expression,omitempty"`   // custom filter: a subset evaluated (filters.go)
	Sorts             []string          `json:"sorts,omitempty"`               // accepted, not modelled
	Limit             string            `json:"limit,omitempty"`               // a string; "-1" means unlimited
	ColumnLimit       string            `json:"column_limit,omitempty"`        // accepted, not modelled
	Total             bool              `json:"total,omitempty"`               // column totals: not streamable
	RowTotal          string            `json:"row_total,omitempty"`           // row totals: not streamable
	Subtotals         []string          `json:"subtotals,omitempty"`           // not streamable
	VisConfig         map[string]any    `json:"vis_config,omitempty"`          // opaque
	FilterConfig      map[string]any    `json:"filter_config,omitempty"`       // opaque UI state
	VisibleUISections string            `json:"visible_ui_sections,omitempty"` // opaque
	DynamicFields     string            `json:"dynamic_fields,omitempty"`      // JSON: custom fields, table calculations
	ClientID          string            `json:"client_id,omitempty"`           // accepted, not modelled
	QueryTimezone     string            `json:"query_timezone,omitempty"`      // zone of datetime values; "" = fallbacks
}

// Source names what Server.Fields describes. Exactly one field is set.
type Source struct {
	LookID    string
	QueryID   string
	QuerySlug string
	Query     *Query
	SQLSlug   string // a SQL Runner query by slug
	SQL       string // SQL Runner text not saved yet (every SQL Runner query has the same columns)
}

type look struct {
	id, title, queryID string
}

type savedQuery struct {
	id, slug string
	q        Query
}

// addSamples stores the sample Looks and queries. s.mu need not be held:
// the server is not serving yet.
func (s *Server) addSamples() {
	s.addQuery(&savedQuery{id: QueryID, slug: QuerySlug, q: Query{
		Model: modelName, View: exploreName, Fields: slices.Clone(QueryFields), Sorts: []string{"orders.id"},
	}})
	s.addQuery(&savedQuery{id: NonStreamingQueryID, slug: "VaT124tc", q: Query{
		Model: modelName, View: exploreName, Fields: slices.Clone(NonStreamingQueryFields), Sorts: []string{"orders.id"},
		DynamicFields: nonStreamingDynamicFields,
	}})
	// A Look saved from the Explore UI keeps its filter UI state in
	// filter_config, which may disagree with filters (spec
	// Query.filter_config: "takes precedence over filters" in the UI).
	s.addQuery(&savedQuery{id: StaleFilterConfigQueryID, slug: "FcF125st", q: Query{
		Model: modelName, View: exploreName, Fields: slices.Clone(QueryFields), Sorts: []string{"orders.id"},
		Filters:      map[string]string{"orders.status": "complete"},
		FilterConfig: filterConfigOf(map[string]string{"orders.status": "cancelled"}),
		Limit:        "500",
	}})
	s.looks[StaleFilterConfigLookID] = &look{StaleFilterConfigLookID, "Completed orders", StaleFilterConfigQueryID}
	s.looks[LookID] = &look{LookID, LookTitle, QueryID}
	s.looks[NonStreamingLookID] = &look{NonStreamingLookID, NonStreamingLookTitle, NonStreamingQueryID}
}

// effectiveQuery is q as a run applies it: with Options.FilterConfigWins
// and a filter_config, its filters are those of the filter_config.
func (s *Server) effectiveQuery(q Query) Query {
	if !s.opts.FilterConfigWins || len(q.FilterConfig) == 0 {
		return q
	}
	q.Filters = filtersOfConfig(q.FilterConfig)
	return q
}

// filterConfigOf is a filter_config holding filters as the Explore UI
// stores "is equal to" conditions: per field, a list of conditions with a
// type and constant values. The spec calls the format opaque; this shape
// is the one seen in saved queries [inf].
func filterConfigOf(filters map[string]string) map[string]any {
	out := map[string]any{}
	for f, v := range filters {
		var values []any
		for _, c := range strings.Split(v, ",") {
			values = append(values, map[string]any{"constant": c})
		}
		out[f] = []any{map[string]any{"type": "=", "values": values, "id": 0, "error": false}}
	}
	return out
}

// filtersOfConfig reads the filters back out of a filter_config written
// like filterConfigOf's; conditions it cannot read are skipped.
func filtersOfConfig(fc map[string]any) map[string]string {
	out := map[string]string{}
	for f, conds := range fc {
		list, _ := conds.([]any)
		var vals []string
		for _, c := range list {
			m, _ := c.(map[string]any)
			vs, _ := m["values"].([]any)
			for _, v := range vs {
				vm, _ := v.(map[string]any)
				if s, ok := vm["constant"].(string); ok && s != "" {
					vals = append(vals, s)
				}
			}
		}
		if len(vals) > 0 {
			out[f] = strings.Join(vals, ",")
		}
	}
	return out
}

// addQuery stores q. s.mu must be held (or the server not started).
func (s *Server) addQuery(q *savedQuery) {
	s.queries[q.id] = q
	s.slugs[q.slug] = q.id
	key, _ := json.Marshal(q.q)
	s.queryKeys[string(key)] = q.id
}

// SaveQuery stores q as a new saved query (as POST /queries would; an
// identical query gives the existing id) and returns its id and slug. It
// panics on a query the explore cannot run: it is a test helper.
func (s *Server) SaveQuery(q Query) (queryID, slug string) {
	if _, err := resolveQuery(q); err != nil {
		panic("lookertest: SaveQuery: " + err.Error())
	}
	sq := s.saveQuery(q)
	return sq.id, sq.slug
}

func (s *Server) saveQuery(q Query) *savedQuery {
	key, _ := json.Marshal(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.queryKeys[string(key)]; ok {
		return s.queries[id]
	}
	s.nextQuery++
	sq := &savedQuery{id: strconv.Itoa(s.nextQuery), slug: randomString(10), q: q}
	s.addQuery(sq)
	return sq
}

// SaveLook stores a new Look running a new saved query q (with its own
// limit, query_timezone, ...) and returns both ids. It panics on a query
// the explore cannot run.
func (s *Server) SaveLook(q Query) (lookID, queryID string) {
	queryID, _ = s.SaveQuery(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextLook++
	lookID = strconv.Itoa(s.nextLook)
	s.looks[lookID] = &look{lookID, "Look " + lookID, queryID}
	return lookID, queryID
}

// Fields are the columns src returns, in order (for a pivoted query: its
// unpivoted columns, one per field).
func (s *Server) Fields(src Source) ([]Field, error) {
	var defs []*fieldDef
	switch {
	case src.LookID != "":
		s.mu.Lock()
		l, ok := s.looks[src.LookID]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no look %q", src.LookID)
		}
		return s.Fields(Source{QueryID: l.queryID})
	case src.QueryID != "":
		s.mu.Lock()
		q, ok := s.queries[src.QueryID]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no query %q", src.QueryID)
		}
		return s.Fields(Source{Query: &q.q})
	case src.QuerySlug != "":
		s.mu.Lock()
		id, ok := s.slugs[src.QuerySlug]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no query slug %q", src.QuerySlug)
		}
		return s.Fields(Source{QueryID: id})
	case src.Query != nil:
		sh, err := resolveQuery(*src.Query)
		if err != nil {
			return nil, err
		}
		defs = sh.defs
	case src.SQLSlug != "":
		s.mu.Lock()
		_, ok := s.sqlQueries[src.SQLSlug]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no SQL Runner query %q", src.SQLSlug)
		}
		defs = sqlColumns
	case src.SQL != "":
		defs = sqlColumns
	default:
		return nil, errors.New("lookertest: empty source")
	}
	out := make([]Field, len(defs))
	for i, d := range defs {
		out[i] = d.Field
	}
	return out, nil
}

// ---- endpoints ----

func (s *Server) lookQuery(c *call) (*look, *savedQuery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.looks[c.r.PathValue("look_id")]
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return nil, nil, false
	}
	return l, s.queries[l.queryID], true
}

// queryJSON is the spec's Query schema for a saved query.
func queryJSON(q *savedQuery) map[string]any {
	vis := q.q.VisConfig
	if vis == nil {
		vis = map[string]any{"type": "looker_grid"}
	}
	return map[string]any{
		"id": q.id, "slug": q.slug, "model": q.q.Model, "view": q.q.View, "fields": q.q.Fields,
		"pivots": q.q.Pivots, "fill_fields": q.q.FillFields, "filters": q.q.Filters,
		"filter_expression": nilIfEmpty(q.q.FilterExpression), "sorts": q.q.Sorts, "limit": nilIfEmpty(q.q.Limit),
		"column_limit": nilIfEmpty(q.q.ColumnLimit), "total": q.q.Total, "row_total": nilIfEmpty(q.q.RowTotal),
		"dynamic_fields": nilIfEmpty(q.q.DynamicFields), "query_timezone": nilIfEmpty(q.q.QueryTimezone),
		"vis_config": vis, "filter_config": q.q.FilterConfig, "client_id": nil,
		"has_table_calculations": hasTableCalcs(q.q), "subtotals": q.q.Subtotals,
		"share_url": "/x/" + q.slug, "url": "/explore/" + q.q.Model + "/" + q.q.View + "?qid=" + q.slug,
		"can": map[string]bool{"run": true, "see_results": true, "explore": true, "create": true, "show": true},
	}
}

// look is GET /looks/{look_id} (spec op look, schema LookWithQuery).
func (s *Server) look(c *call) {
	l, q, ok := s.lookQuery(c)
	if !ok {
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"id": l.id, "title": l.title, "query_id": q.id, "query": queryJSON(q),
		"model": map[string]any{"id": modelName, "label": "The Look"}, "public": false,
		"can": map[string]bool{"run": true, "see_results": true, "show": true},
	})
}

func (s *Server) savedQuery(c *call, id string) (*savedQuery, bool) {
	s.mu.Lock()
	q, ok := s.queries[id]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
	}
	return q, ok
}

// query is GET /queries/{query_id} (spec op query).
func (s *Server) query(c *call) {
	if q, ok := s.savedQuery(c, c.r.PathValue("query_id")); ok {
		c.writeJSON(http.StatusOK, queryJSON(q))
	}
}

// queryForSlug is GET /queries/slug/{slug} (spec op query_for_slug).
func (s *Server) queryForSlug(c *call) {
	s.mu.Lock()
	id, ok := s.slugs[c.r.PathValue("slug")]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	if q, ok := s.savedQuery(c, id); ok {
		c.writeJSON(http.StatusOK, queryJSON(q))
	}
}

// readQuery decodes a Query body, answering the error itself.
func readQuery(c *call) (Query, bool) {
	var q Query
	dec := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20))
	if err := dec.Decode(&q); err != nil {
		c.error(http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
		return q, false
	}
	if q.Model == "" {
		c.validation("Validation Failed", "model", "missing", "This field is required.")
		return q, false
	}
	if q.View == "" {
		c.validation("Validation Failed", "view", "missing", "This field is required.")
		return q, false
	}
	return q, true
}

// createQuery is POST /queries (spec op create_query): queries are
// immutable and an identical body gives the existing id (NOTES §2.2).
func (s *Server) createQuery(c *call) {
	q, ok := readQuery(c)
	if !ok {
		return
	}
	if _, err := resolveQuery(q); err != nil {
		c.queryError(err)
		return
	}
	c.writeJSON(http.StatusOK, queryJSON(s.saveQuery(q)))
}

// queryError is a query the explore cannot run.
type queryError struct {
	status int
	msg    string
}

func (e *queryError) Error() string { return e.msg }

func (c *call) queryError(err error) {
	var qe *queryError
	if errors.As(err, &qe) {
		c.error(qe.status, qe.msg)
		return
	}
	c.error(http.StatusBadRequest, err.Error())
}

// shape is what a query returns: its columns, pivots and row filter.
type shape struct {
	defs    []*fieldDef   // columns, in order; pivot fields excluded when pivoted
	pivots  []*fieldDef   // pivot dimensions, in order
	filters []fieldFilter // Query.filters, checked to compile (filters.go)
	custom  string        // Query.filter_expression, checked to compile
}

// match returns the row filter of sh under env, or nil when none.
// Filters on different fields are AND-ed (spec Query.filters; docs
// filter-expressions).
func (sh *shape) match(env filterEnv) func(int) bool {
	var preds []rowPred
	for _, ff := range sh.filters {
		p, err := compileFilter(ff, env)
		if err == nil && p != nil {
			preds = append(preds, p)
		}
	}
	if p, err := customFilter(sh.custom, env); err == nil && p != nil {
		preds = append(preds, p)
	}
	if len(preds) == 0 {
		return nil
	}
	return func(row int) bool {
		for _, p := range preds {
			if !p(row) {
				return false
			}
		}
		return true
	}
}

// resolveQuery checks q against thelook/orders.
func resolveQuery(q Query) (*shape, error) {
	if q.Model != modelName {
		return nil, &queryError{http.StatusNotFound, fmt.Sprintf("model '%s' not found", q.Model)}
	}
	if q.View != exploreName {
		return nil, &queryError{http.StatusNotFound, fmt.Sprintf("explore '%s' not found in model '%s'", q.View, q.Model)}
	}
	if len(q.Fields) == 0 {
		return nil, &queryError{http.StatusBadRequest, "Must query at least one dimension or measure."}
	}
	if q.QueryTimezone != "" {
		if _, err := loadZone(q.QueryTimezone); err != nil {
			return nil, &queryError{http.StatusBadRequest, err.Error()}
		}
	}
	calcs, err := tableCalcs(q.DynamicFields)
	if err != nil {
		return nil, err
	}
	sh := &shape{}
	for _, name := range q.Pivots {
		d, ok := byName[name]
		if !ok || d.Name != name || d.Category != "dimension" {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Unknown pivot field in explore '%s': %s", q.View, name)}
		}
		if len(d.enum) == 0 {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("lookertest pivots only on dimensions with few values (orders.status, orders.is_first_purchase, products.category), not %s", name)}
		}
		if !slices.Contains(q.Fields, name) {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Pivot field %s must be one of the query's fields", name)}
		}
		sh.pivots = append(sh.pivots, d)
	}
	for _, name := range q.Fields {
		if d, ok := calcs[name]; ok {
			sh.defs = append(sh.defs, d)
			continue
		}
		d, ok := byName[name]
		if !ok || d.Name != name {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Unknown field(s) in explore '%s': %s", q.View, name)}
		}
		if slices.Contains(q.Pivots, name) {
			continue
		}
		sh.defs = append(sh.defs, d)
	}
	names := make([]string, 0, len(q.Filters))
	for name := range q.Filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d, ok := byName[name]
		if !ok || d.Name != name {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Unknown filter field in explore '%s': %s", q.View, name)}
		}
		ff := fieldFilter{f: d, expr: q.Filters[name]}
		if _, err := compileFilter(ff, filterEnv{loc: time.UTC, now: time.Unix(0, 0)}); err != nil {
			return nil, filterError(name, err)
		}
		sh.filters = append(sh.filters, ff)
	}
	if _, err := customFilter(q.FilterExpression, filterEnv{loc: time.UTC, now: time.Unix(0, 0)}); err != nil {
		return nil, filterError("filter_expression", err)
	}
	sh.custom = q.FilterExpression
	return sh, nil
}
