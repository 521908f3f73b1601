package lookerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Field is one column of a result as LookML describes it.
type Field struct {
	Name     string // "orders.created_date"; a table calculation's name ("amount_with_vat")
	Label    string // "Orders Created Date"
	Type     string // LookML type: "date_date", "number", "count", ...; "" when unknown
	Category string // "dimension", "measure", "table_calculation"
}

// Explore is the field list of a LookML explore.
type Explore struct {
	Model  string
	Name   string
	Fields []Field // dimensions, then measures, in LookML order
}

// Explore fetches an explore's fields:
// GET /lookml_models/{lookml_model_name}/explores/{explore_name}.
func (c *Client) Explore(ctx context.Context, model, explore string) (*Explore, error) {
	return c.explore(ctx, model, explore, "")
}

func (c *Client) explore(ctx context.Context, model, explore, as string) (*Explore, error) {
	if model == "" || explore == "" {
		return nil, &Error{Op: "lookml_model_explore", Message: "the model and the explore name are both needed"}
	}
	r := &request{op: "lookml_model_explore", method: http.MethodGet,
		path:  "/lookml_models/" + url.PathEscape(model) + "/explores/" + url.PathEscape(explore),
		query: url.Values{"fields": {"id,name,model_name,fields"}}, as: as}
	type field struct {
		Name     string `json:"name"`
		Label    string `json:"label"`
		Type     string `json:"type"`
		Category string `json:"category"`
	}
	var raw struct {
		Name   string `json:"name"`
		Fields struct {
			Dimensions []field `json:"dimensions"`
			Measures   []field `json:"measures"`
		} `json:"fields"`
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	e := &Explore{Model: model, Name: explore}
	for _, list := range [][]field{raw.Fields.Dimensions, raw.Fields.Measures} {
		for _, f := range list {
			e.Fields = append(e.Fields, Field(f))
		}
	}
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
	// Streams reports whether Looker can stream the result. When it cannot
	// (NotStreaming says why), Looker computes the whole result in memory
	// and caps it at DefaultRowLimit rows even with limit -1.
	Streams      bool
	NotStreaming []string
	Problems     []string // fields the explore does not know, and the like
}

// Resolve finds what src runs without running it: a Look's query
// (GET /looks/{id}), a saved query (GET /queries/{id} or
// /queries/slug/{slug}) or the inline query, the types of its fields
// (GET /lookml_models/{model}/explores/{explore}), and whether the result
// can stream. A SQL Runner slug is checked to exist
// (GET /sql_queries/{slug}); SQL text is not run. as, when set, makes the
// calls as that user (like RunOptions.RunAs).
func (c *Client) Resolve(ctx context.Context, src Source, as string) (*Resolved, error) {
	if n := countSet(src); n != 1 {
		return nil, &Error{Op: "resolve", Message: fmt.Sprintf("the source must set exactly one of look id, query id, query slug, query or sql; %d are set", n)}
	}
	res := &Resolved{Source: src.String(), Streams: true}
	var q *Query
	switch {
	case src.LookID != "":
		l, err := c.look(ctx, src.LookID, as, "id,title,query_id,query")
		if err != nil {
			return nil, withSource(err, res.Source)
		}
		res.LookID, res.LookTitle, res.QueryID = l.ID, l.Title, l.QueryID
		if l.Query == nil {
			sq, err := c.getQuery(ctx, &request{op: "query", method: http.MethodGet, path: "/queries/" + url.PathEscape(l.QueryID), as: as})
			if err != nil {
				return nil, withSource(err, res.Source)
			}
			l.Query = sq
		}
		q = &l.Query.Query
	case src.QueryID != "", src.QuerySlug != "":
		var sq *SavedQuery
		var err error
		if src.QueryID != "" {
			sq, err = c.getQuery(ctx, &request{op: "query", method: http.MethodGet, path: "/queries/" + url.PathEscape(src.QueryID), as: as})
		} else {
			sq, err = c.querySlug(ctx, src.QuerySlug, as)
		}
		if err != nil {
			return nil, withSource(err, res.Source)
		}
		res.QueryID = sq.ID
		q = &sq.Query
	case src.Query != nil:
		q = src.Query
	default:
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
		return res, nil
	}
	res.Query, res.Model, res.View = q, q.Model, q.View
	res.Streams, res.NotStreaming = Streams(*q)

	ex, err := c.explore(ctx, q.Model, q.View, as)
	if err != nil {
		return nil, withSource(err, res.Source)
	}
	byName := make(map[string]Field, len(ex.Fields))
	for _, f := range ex.Fields {
		byName[f.Name] = f
	}
	dyn, err := DynamicFields(q.DynamicFields)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	for _, name := range q.Fields {
		if f, ok := byName[name]; ok {
			res.Fields = append(res.Fields, f)
		} else if f, ok := dyn[name]; ok {
			res.Fields = append(res.Fields, f)
		} else {
			res.Fields = append(res.Fields, Field{Name: name})
			res.Problems = append(res.Problems, fmt.Sprintf("field %s is not in explore %s/%s", name, q.Model, q.View))
		}
	}
	return res, nil
}

// Streams reports whether Looker can stream q's result, and if not why:
// Looker does not stream results with table calculations, pivots, totals,
// row totals or subtotals; it computes them in memory and caps them at
// DefaultRowLimit rows.
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
	if len(q.Pivots) > 0 {
		why = append(why, "pivots ("+strings.Join(q.Pivots, ", ")+")")
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
