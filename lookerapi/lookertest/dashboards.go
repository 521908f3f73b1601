package lookertest

import (
	"net/http"
	"slices"
	"strconv"
)

// Sample dashboards (spec schemas Dashboard, DashboardElement,
// DashboardFilter, ResultMakerWithIdVisConfigAndDynamicFields,
// MergeQuery). Looker's API runs no dashboard: a client reads the
// dashboard (GET /dashboards/{dashboard_id}) and runs each tile's query
// itself, applying the dashboard filters a tile listens to
// (result_maker.filterables[].listen: dashboard_filter_name → field).
const (
	// DashboardID is the user-defined dashboard "Orders overview": three
	// data tiles (DashboardQueryTile on a query, DashboardLookTile on
	// LookID, DashboardBareTile on a query and no result_maker), a text
	// tile (DashboardTextTile), and a merged-result tile
	// (DashboardMergeTile on MergeQueryID). Filters: "Date" (default
	// DashboardDateDefault) on orders.created_date, "Country" (no
	// default) on users.country, "Status" (default "complete") on
	// orders.status.
	DashboardID = "7"
	// LookMLDashboardID is the same dashboard defined in LookML: its id is
	// "model::name" (spec create_dashboard_render_task: "dashboard_id
	// (UDD id or LookML model::name)"), its element ids name the
	// dashboard too.
	LookMLDashboardID    = "thelook::orders_overview"
	DashboardTitle       = "Orders overview"
	DashboardDateDefault = "2024-01-01 to 2024-01-02"

	DashboardQueryTile = "101" // "Orders by day": listens to Date and Country
	DashboardLookTile  = "102" // "Orders export" (LookID): listens to Status and Date
	DashboardTextTile  = "103" // a text tile
	DashboardMergeTile = "104" // "Orders with amounts": merge of two queries; each source listens to Date
	DashboardBareTile  = "105" // "All statuses": a query without result_maker, so it listens to nothing

	// MergeQueryID is the merge query of DashboardMergeTile: source
	// "Orders" (MergePrimaryFields) merged with source "Amounts"
	// (MergeSecondaryFields) on orders.id, like a SQL left outer join
	// (spec create_merge_query).
	MergeQueryID = "m1"
)

// Fields of the dashboard's queries, in order.
var (
	DashboardQueryFields = []string{"orders.id", "orders.created_date", "users.country", "orders.amount"}
	DashboardBareFields  = []string{"orders.id", "orders.status"}
	MergePrimaryFields   = []string{"orders.id", "orders.created_date", "users.country"}
	MergeSecondaryFields = []string{"orders.id", "orders.amount"}
)

// DashboardVariant says how the sandbox serves dashboards where Looker's
// documentation is silent.
type DashboardVariant struct {
	// TileQuery puts the query of the merge's first source in the tile's
	// result_maker.query (some API answers carry one [inf]); a client that
	// runs it exports the first source only, not the merged result.
	TileQuery bool
	// SlugsOnly names the merge's source queries by query_slug only,
	// query_id null (MergeQuerySourceQuery has both, both nullable).
	SlugsOnly bool
	// FilterableNames names a merge tile's filterables otherwise than its
	// source queries ("Merged source 1", ...): the spec says only "the
	// name of the filterable thing (Query or Merged Results)" [inf].
	// They still come in the sources' order.
	FilterableNames bool
	// NullObjects sends a tile's missing query, look and result_maker as
	// null instead of leaving them out, as API answers commonly do,
	// although the spec declares these properties non-nullable [inf].
	// (Contract tests leave it off: the spec validator would flag it.)
	NullObjects bool
}

type dashboard struct {
	id, title string
	lookml    bool
	filters   []dashFilter
	elements  []dashElement
}

type dashFilter struct {
	name, title, dimension, def string
}

type dashElement struct {
	id, title, typ string
	text           string      // text tiles
	queryID        string      // query tiles
	lookID         string      // Look tiles
	mergeID        string      // merged-result tiles
	bare           bool        // no result_maker
	listen         [][2]string // dashboard filter name, field (one filterable; merge tiles: every source)
}

type mergeQuery struct {
	id      string
	sources []mergeSource
}

type mergeSource struct {
	name, queryID string
	on            [][2]string // field_name (merged), source_field_name
}

// addDashboards stores the sample dashboards. The server is not serving
// yet.
func (s *Server) addDashboards() {
	qid := func(fields []string) string {
		s.nextQuery++
		id := strconv.Itoa(s.nextQuery)
		s.addQuery(&savedQuery{id: id, slug: randomString(10), q: Query{Model: modelName, View: exploreName,
			Fields: slices.Clone(fields), Sorts: []string{"orders.id"}, Limit: "5000"}})
		return id
	}
	tileQuery, bareQuery := qid(DashboardQueryFields), qid(DashboardBareFields)
	primary, secondary := qid(MergePrimaryFields), qid(MergeSecondaryFields)
	s.merges = map[string]*mergeQuery{MergeQueryID: {id: MergeQueryID, sources: []mergeSource{
		{name: "Orders", queryID: primary},
		{name: "Amounts", queryID: secondary, on: [][2]string{{"orders.id", "orders.id"}}},
	}}}
	filters := []dashFilter{
		{"Date", "Order date", "orders.created_date", DashboardDateDefault},
		{"Country", "Country", "users.country", ""},
		{"Status", "Status", "orders.status", "complete"},
	}
	elements := []dashElement{
		{id: DashboardQueryTile, title: "Orders by day", typ: "looker_grid", queryID: tileQuery,
			listen: [][2]string{{"Date", "orders.created_date"}, {"Country", "users.country"}}},
		{id: DashboardLookTile, title: LookTitle, typ: "looker_grid", lookID: LookID,
			listen: [][2]string{{"Status", "orders.status"}, {"Date", "orders.created_date"}}},
		{id: DashboardTextTile, typ: "text", text: "## About\nOrders of the last day."},
		{id: DashboardMergeTile, title: "Orders with amounts", typ: "looker_grid", mergeID: MergeQueryID,
			listen: [][2]string{{"Date", "orders.created_date"}}},
		{id: DashboardBareTile, title: "All statuses", typ: "looker_grid", queryID: bareQuery, bare: true},
	}
	s.dashboards = map[string]*dashboard{
		DashboardID:       {id: DashboardID, title: DashboardTitle, filters: filters, elements: elements},
		LookMLDashboardID: {id: LookMLDashboardID, title: DashboardTitle, lookml: true, filters: filters, elements: elements},
	}
}

// dashboardHandler is GET /dashboards/{dashboard_id} (spec op dashboard):
// a numeric id or a LookML dashboard's "model::name". The fields selector
// is accepted and the whole dashboard comes back. Objects an element
// lacks (a text tile's query, look, result_maker) are left out: the spec
// declares them non-nullable.
func (s *Server) dashboardHandler(c *call) {
	s.mu.Lock()
	d, ok := s.dashboards[c.r.PathValue("dashboard_id")]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	var filters, elements []any
	for i, f := range d.filters {
		filters = append(filters, map[string]any{
			"id": strconv.Itoa(900 + i), "dashboard_id": d.id, "name": f.name, "title": f.title, "type": "field",
			"default_value": nilIfEmpty(f.def), "model": modelName, "explore": exploreName, "dimension": f.dimension,
			"row": i, "listens_to_filters": []string{}, "allow_multiple_values": true, "required": false,
			"ui_config": map[string]any{"type": "advanced", "display": "popover"},
			"can":       map[string]bool{"show": true},
		})
	}
	for _, e := range d.elements {
		elements = append(elements, s.elementJSON(d, e))
	}
	out := map[string]any{
		"id": d.id, "title": d.title, "description": nil, "hidden": false, "readonly": d.lookml, "query_timezone": nil,
		"dashboard_filters": filters, "dashboard_elements": elements, "deleted": false,
		"can": map[string]bool{"show": true, "index": true},
	}
	if d.lookml {
		out["model"] = map[string]any{"id": modelName, "label": "The Look"}
	}
	c.writeJSON(http.StatusOK, out)
}

// elementJSON is the DashboardElement of e. A tile's query id is in
// query_id, its query in query and in result_maker.query; a Look tile
// has look_id and look, and result_maker.query is the Look's query.
// result_maker.filterables lists what a tile's data comes from and, per
// entry, the dashboard filters it listens to (ResultMakerFilterables); a
// merged-result tile has one filterable per source query, named like it.
func (s *Server) elementJSON(d *dashboard, e dashElement) map[string]any {
	id := e.id
	if d.lookml {
		id = d.id + "::" + e.id
	}
	out := map[string]any{
		"id": id, "dashboard_id": d.id, "title": nilIfEmpty(e.title), "title_hidden": false, "type": e.typ,
		"can": map[string]bool{"show": true},
	}
	if s.opts.Dashboards.NullObjects {
		out["query"], out["look"], out["result_maker"] = nil, nil, nil
	}
	if e.typ == "text" {
		out["title_text"], out["body_text"] = "About", e.text
		return out
	}
	listen := func() []any {
		var l []any
		for _, p := range e.listen {
			l = append(l, map[string]any{"dashboard_filter_name": p[0], "field": p[1]})
		}
		return l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := map[string]any{"id": "rm" + e.id, "sorts": []string{"orders.id"}, "total": false, "dynamic_fields": nil}
	var q *savedQuery
	switch {
	case e.mergeID != "":
		m := s.merges[e.mergeID]
		out["merge_result_id"] = m.id
		rm["merge_result_id"] = m.id
		var filterables []any
		for i, src := range m.sources {
			name := src.name
			if s.opts.Dashboards.FilterableNames {
				name = "Merged source " + strconv.Itoa(i+1)
			}
			filterables = append(filterables, map[string]any{"model": modelName, "view": exploreName, "name": name, "listen": listen()})
		}
		rm["filterables"] = filterables
		if s.opts.Dashboards.TileQuery {
			rm["query"] = queryJSON(s.queries[m.sources[0].queryID])
		}
		out["result_maker"] = rm
		return out
	case e.lookID != "":
		l := s.looks[e.lookID]
		q = s.queries[l.queryID]
		out["look_id"] = l.id
		out["look"] = map[string]any{"id": l.id, "title": l.title, "query_id": q.id, "query": queryJSON(q),
			"model": map[string]any{"id": modelName, "label": "The Look"}, "public": false,
			"can": map[string]bool{"run": true, "see_results": true, "show": true}}
	default:
		q = s.queries[e.queryID]
		out["query_id"] = q.id
		out["query"] = queryJSON(q)
	}
	if !e.bare {
		rm["query_id"], rm["query"] = q.id, queryJSON(q)
		rm["filterables"] = []any{map[string]any{"model": modelName, "view": exploreName, "name": e.title, "listen": listen()}}
		out["result_maker"] = rm
		out["result_maker_id"] = "rm" + e.id
	}
	return out
}

// mergeQueryHandler is GET /merge_queries/{merge_query_id} (spec op
// merge_query). Looker's API has no operation that runs a merge query
// (only create_merge_query and merge_query; third-party tools report
// "Dashboard Element has no Look, Query" for merged-result tiles:
// looker/lookerbot#202): a client runs the source queries and merges
// them itself.
func (s *Server) mergeQueryHandler(c *call) {
	out, ok := s.mergeJSON(c.r.PathValue("merge_query_id"))
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	c.writeJSON(http.StatusOK, out)
}

// mergeJSON is the MergeQuery id, or false.
func (s *Server) mergeJSON(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.merges[id]
	if !ok {
		return nil, false
	}
	var sources []any
	for _, src := range m.sources {
		var fields []any
		for _, on := range src.on {
			fields = append(fields, map[string]any{"field_name": on[0], "source_field_name": on[1]})
		}
		q := s.queries[src.queryID]
		sq := map[string]any{"name": src.name, "query_id": q.id, "query_slug": q.slug, "merge_fields": fields}
		if s.opts.Dashboards.SlugsOnly {
			sq["query_id"] = nil
		}
		sources = append(sources, sq)
	}
	return map[string]any{"id": m.id, "source_queries": sources, "sorts": []string{}, "pivots": []string{}, "total": false,
		"limit": nil, "column_limit": nil, "dynamic_fields": nil, "vis_config": map[string]any{"type": "looker_grid"},
		"result_maker_id": "rm" + m.id, "can": map[string]bool{"show": true}}, true
}
