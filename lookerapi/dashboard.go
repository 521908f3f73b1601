package lookerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Dashboard is what the exporter needs of a Looker dashboard: its filters
// and tiles. Looker's API runs no dashboard: each tile's query is run by
// the client with the dashboard filters it listens to (see RunTile).
type Dashboard struct {
	ID    string // a numeric id, or a LookML dashboard's "model::name"
	Title string
	// QueryTimezone is the dashboard's own query_timezone: tiles run in it
	// unless the job sets one ("" when the dashboard has none: each tile
	// runs in its query's zone).
	QueryTimezone string
	Filters       []DashboardFilter
	Tiles         []Tile
}

// DashboardFilter is a dashboard filter (spec DashboardFilter).
type DashboardFilter struct {
	Name         string // what tiles listen to
	Title        string
	Type         string // "field", "date", "number", "string"
	DefaultValue string // a Looker filter expression; "" for none
	Model        string
	Explore      string
	Dimension    string // the field it filters, e.g. "orders.created_date"
	Required     bool   // Looker runs the dashboard only with a value
}

// TileKind says what a tile holds.
type TileKind string

// Tile kinds.
const (
	TileData  TileKind = "data"  // a query or a Look: RunTile runs it
	TileMerge TileKind = "merge" // a merged result: RunTile runs its source queries and merges them
	TileText  TileKind = "text"  // text or markdown: no data
	TileOther TileKind = "other" // buttons, extensions, SQL Runner tiles...: no data the exporter runs
)

// Tile is a dashboard element (spec DashboardElement).
type Tile struct {
	ID    string
	Title string // the element's title, else its Look's title; "" for untitled tiles
	Type  string // Looker's type: "vis", "text", "looker_grid", ...
	Kind  TileKind
	// LookID is the Look a Look tile shows; QueryID the query a data tile
	// runs (its own, or its Look's).
	LookID  string
	QueryID string
	// Listens are the dashboard filters the tile's data listens to
	// (result_maker.filterables[].listen). For a merge tile, each listen
	// names the source query (Source: a MergeSource's Name) it applies
	// to: the filterable of the same name, else, when the names differ
	// (Looker does not document them), the filterable in the same
	// position.
	Listens []Listen
	// Merge is a merged-result tile's merge query (GET /merge_queries/{id}).
	Merge *MergeQuery

	query map[string]json.RawMessage // the tile's query, when the dashboard sent it
}

// Listen says that a tile's field takes a dashboard filter's value.
type Listen struct {
	Filter string // the dashboard filter's name
	Field  string // the field of the tile's query it filters
	Source string // the filterable's name: a merge tile's source query
}

// MergeQuery is a merged result's definition (spec MergeQuery).
type MergeQuery struct {
	ID      string
	Sources []MergeSource // the first is the primary: the others are merged into it
}

// MergeSource is one query of a merge (spec MergeQuerySourceQuery).
type MergeSource struct {
	Name      string
	QueryID   string // "" when Looker names it by QuerySlug only
	QuerySlug string
	// On maps the source's fields onto the merged result's: rows join
	// where every Field of the primary equals its SourceField here.
	On []MergeField
}

// MergeField is one join condition (spec MergeFields).
type MergeField struct {
	Field       string // field_name: in the merged result (the primary's)
	SourceField string // source_field_name: in this source
}

// dashboardFields is the partial-response selector of GET /dashboards.
const dashboardFields = "id,title,query_timezone,dashboard_filters,dashboard_elements"

// Dashboard reads a dashboard (GET /dashboards/{dashboard_id}; numeric
// ids and LookML ids "model::name" alike) with its filters and tiles, and
// the merge query of every merged-result tile (GET /merge_queries/{id}).
// A tile is classified by what it holds: a merge_result_id makes it a
// merge tile (whatever query its result_maker also carries); else a query
// (result_maker.query, query, its Look's query, query_id) or a Look
// (look_id) makes it a data tile; a "text" type or a body text makes it
// a text tile; anything else is TileOther.
func (c *Client) Dashboard(ctx context.Context, id string) (*Dashboard, error) {
	return c.dashboard(ctx, id, "")
}

// DashboardAs is Dashboard read as Looker user as ("" is the API user), so
// that a job run as a user sees the dashboard that user sees.
func (c *Client) DashboardAs(ctx context.Context, id, as string) (*Dashboard, error) {
	return c.dashboard(ctx, id, as)
}

func (c *Client) dashboard(ctx context.Context, id, as string) (*Dashboard, error) {
	name := "dashboard " + id
	if strings.TrimSpace(id) == "" {
		return nil, &Error{Op: "dashboard", Message: "the dashboard id is empty"}
	}
	type resultMaker struct {
		MergeResultID string          `json:"merge_result_id"`
		QueryID       json.RawMessage `json:"query_id"`
		Query         json.RawMessage `json:"query"`
		Filterables   []filterable    `json:"filterables"`
	}
	var raw struct {
		ID            json.RawMessage `json:"id"`
		Title         string          `json:"title"`
		QueryTimezone string          `json:"query_timezone"`
		Filters       []struct {
			Name         string `json:"name"`
			Title        string `json:"title"`
			Type         string `json:"type"`
			DefaultValue string `json:"default_value"`
			Model        string `json:"model"`
			Explore      string `json:"explore"`
			Dimension    string `json:"dimension"`
			Required     bool   `json:"required"`
		} `json:"dashboard_filters"`
		Elements []struct {
			ID            json.RawMessage `json:"id"`
			Title         string          `json:"title"`
			Type          string          `json:"type"`
			BodyText      string          `json:"body_text"`
			LookID        json.RawMessage `json:"look_id"`
			QueryID       json.RawMessage `json:"query_id"`
			MergeResultID string          `json:"merge_result_id"`
			Query         json.RawMessage `json:"query"`
			Look          *struct {
				Title   string          `json:"title"`
				QueryID json.RawMessage `json:"query_id"`
				Query   json.RawMessage `json:"query"`
			} `json:"look"`
			ResultMaker *resultMaker `json:"result_maker"`
		} `json:"dashboard_elements"`
	}
	r := &request{op: "dashboard", method: http.MethodGet, path: "/dashboards/" + url.PathEscape(id),
		query: url.Values{"fields": {dashboardFields}}, as: as, source: name}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, withSource(err, name)
	}
	d := &Dashboard{ID: nonEmpty(idString(raw.ID), id), Title: raw.Title, QueryTimezone: raw.QueryTimezone}
	if d.QueryTimezone != "" {
		if err := checkZone(d.QueryTimezone, "the query_timezone of "+name); err != nil {
			return nil, withSource(err, name)
		}
	}
	for _, f := range raw.Filters {
		d.Filters = append(d.Filters, DashboardFilter(f))
	}
	for _, e := range raw.Elements {
		t := Tile{ID: idString(e.ID), Title: e.Title, Type: e.Type, LookID: idString(e.LookID), QueryID: idString(e.QueryID)}
		rm := e.ResultMaker
		if rm == nil {
			rm = &resultMaker{}
		}
		mergeID := nonEmpty(e.MergeResultID, rm.MergeResultID)
		var q json.RawMessage
		for _, cand := range []json.RawMessage{rm.Query, e.Query} {
			if len(cand) > 0 && string(cand) != "null" {
				q = cand
				break
			}
		}
		if e.Look != nil {
			t.Title = nonEmpty(t.Title, e.Look.Title)
			if q == nil && len(e.Look.Query) > 0 && string(e.Look.Query) != "null" {
				q = e.Look.Query
			}
			t.QueryID = nonEmpty(t.QueryID, idString(e.Look.QueryID))
		}
		t.QueryID = nonEmpty(idString(rm.QueryID), t.QueryID)
		for _, f := range rm.Filterables {
			for _, l := range f.Listen {
				if l.Filter != "" && l.Field != "" {
					t.Listens = append(t.Listens, Listen{Filter: l.Filter, Field: l.Field, Source: f.Name})
				}
			}
		}
		switch {
		case mergeID != "":
			// A merge tile's result_maker may also carry a query (the
			// first source's): running it would export one source as if
			// it were the merged result, so it is ignored.
			t.Kind, t.QueryID = TileMerge, ""
			m, err := c.mergeQuery(ctx, mergeID, as)
			if err != nil {
				return nil, withSource(err, fmt.Sprintf("%s tile %s", name, t.ID))
			}
			t.Merge = m
			if t.Listens, err = mergeListens(rm.Filterables, m); err != nil {
				return nil, withSource(err, fmt.Sprintf("%s tile %s", name, t.ID))
			}
		case q != nil || t.QueryID != "" || t.LookID != "":
			t.Kind = TileData
			if q != nil {
				if err := json.Unmarshal(q, &t.query); err != nil {
					return nil, &Error{Source: name, Op: "dashboard", Method: r.method, Path: r.fullPath(),
						Message: fmt.Sprintf("decoding the query of tile %s", t.ID), Err: err}
				}
				if qid := idString(t.query["id"]); qid != "" {
					t.QueryID = qid
				}
			}
		case e.Type == "text" || e.BodyText != "":
			t.Kind = TileText
		default:
			t.Kind = TileOther
		}
		d.Tiles = append(d.Tiles, t)
	}
	return d, nil
}

// filterable is one entry of result_maker.filterables.
type filterable struct {
	Name   string `json:"name"`
	Listen []struct {
		Filter string `json:"dashboard_filter_name"`
		Field  string `json:"field"`
	} `json:"listen"`
}

// mergeListens ties the listens of a merge tile's filterables to its
// source queries: by name, else by position; a merge whose filterables
// match neither way is refused rather than run unfiltered.
func mergeListens(fs []filterable, m *MergeQuery) ([]Listen, error) {
	byName := map[string]bool{}
	for _, src := range m.Sources {
		byName[src.Name] = true
	}
	named := true
	for _, f := range fs {
		named = named && byName[f.Name]
	}
	if !named && len(fs) != len(m.Sources) {
		return nil, &Error{Op: "dashboard", Message: fmt.Sprintf(
			"the merged result's %d filterables match neither the names nor the number of its %d source queries, so the exporter cannot tell which dashboard filter applies to which query",
			len(fs), len(m.Sources))}
	}
	var out []Listen
	for i, f := range fs {
		src := f.Name
		if !named {
			src = m.Sources[i].Name
		}
		for _, l := range f.Listen {
			if l.Filter != "" && l.Field != "" {
				out = append(out, Listen{Filter: l.Filter, Field: l.Field, Source: src})
			}
		}
	}
	return out, nil
}

// mergeQuery reads a merge query: GET /merge_queries/{merge_query_id}.
func (c *Client) mergeQuery(ctx context.Context, id, as string) (*MergeQuery, error) {
	var raw struct {
		ID      json.RawMessage `json:"id"`
		Sources []struct {
			Name        string          `json:"name"`
			QueryID     json.RawMessage `json:"query_id"`
			QuerySlug   string          `json:"query_slug"`
			MergeFields []struct {
				Field       string `json:"field_name"`
				SourceField string `json:"source_field_name"`
			} `json:"merge_fields"`
		} `json:"source_queries"`
	}
	r := &request{op: "merge_query", method: http.MethodGet, path: "/merge_queries/" + url.PathEscape(id), as: as}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	m := &MergeQuery{ID: nonEmpty(idString(raw.ID), id)}
	for i, s := range raw.Sources {
		src := MergeSource{Name: s.Name, QueryID: idString(s.QueryID), QuerySlug: s.QuerySlug}
		if src.QueryID == "" && src.QuerySlug == "" {
			return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(),
				Message: fmt.Sprintf("source query %d (%q) of merge query %s names no query", i+1, s.Name, id)}
		}
		for _, f := range s.MergeFields {
			src.On = append(src.On, MergeField(f))
		}
		if i > 0 && len(src.On) == 0 {
			return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(),
				Message: fmt.Sprintf("source query %q of merge query %s has no merge fields to join it on", s.Name, id)}
		}
		m.Sources = append(m.Sources, src)
	}
	if len(m.Sources) == 0 {
		return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Message: "merge query " + id + " has no source queries"}
	}
	return m, nil
}

// FilterValues are the values of d's filters for a run: each filter's
// default, replaced by the caller's value for that filter name (an empty
// value clears the default: "is any value"). An override naming no
// filter of d, or a required filter left without a value, is an error.
func (d *Dashboard) FilterValues(overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(d.Filters))
	known := map[string]bool{}
	for _, f := range d.Filters {
		known[f.Name] = true
		out[f.Name] = f.DefaultValue
	}
	var unknown []string
	for name, v := range overrides {
		if !known[name] {
			unknown = append(unknown, name)
			continue
		}
		out[name] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var names []string
		for _, f := range d.Filters {
			names = append(names, f.Name)
		}
		return nil, &Error{Source: "dashboard " + d.ID, Op: "dashboard",
			Message: fmt.Sprintf("dashboard %q has no filter named %s; its filters are %s", d.Title, strings.Join(unknown, ", "), strings.Join(names, ", "))}
	}
	for _, f := range d.Filters {
		if f.Required && out[f.Name] == "" {
			return nil, &Error{Source: "dashboard " + d.ID, Op: "dashboard",
				Message: fmt.Sprintf("dashboard filter %q is required and has no value; give it one in the job", f.Name)}
		}
	}
	return out, nil
}

// tileFilters are the filters values put on the tile's query (or on its
// merge source named source): field → expression, for each listen with
// a value.
func tileFilters(t Tile, values map[string]string, source string) map[string]string {
	out := map[string]string{}
	for _, l := range t.Listens {
		if t.Kind == TileMerge && l.Source != source {
			continue
		}
		if v := values[l.Filter]; v != "" {
			out[l.Field] = v
		}
	}
	return out
}
