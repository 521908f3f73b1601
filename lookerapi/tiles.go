package lookerapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// TileQuery is what a dashboard tile runs: the query of a data tile, or
// the source queries of a merge tile (in the merge's order, the primary
// first), each created with the dashboard filters the tile listens to.
type TileQuery struct {
	Dashboard string // the dashboard's id
	Tile      Tile
	Queries   []*DerivedQuery
}

// TileQueries computes the query of every data and merge tile of d (text
// and other tiles have none), in d's order: the tile's saved query (the
// one the dashboard sent, else GET /queries/{id} or its Look's), with the
// values of the dashboard filters it listens to merged over its own
// filters on the same fields (values: d's defaults, replaced by
// overrides; see Dashboard.FilterValues), created once per distinct body
// (see Derive). Zone: opts.QueryTimezone, else the dashboard's
// query_timezone, else the query's own, else Looker's application zone.
// opts.Filters must be empty: a dashboard's filters are its own.
func (c *Client) TileQueries(ctx context.Context, d *Dashboard, overrides map[string]string, opts RunOptions) ([]TileQuery, error) {
	if opts.filtered() {
		return nil, &Error{Source: "dashboard " + d.ID, Op: "dashboard", Message: "a dashboard takes dashboard filter values, not query filters; set them by filter name"}
	}
	values, err := d.FilterValues(overrides)
	if err != nil {
		return nil, err
	}
	var out []TileQuery
	for _, t := range d.Tiles {
		tq := TileQuery{Dashboard: d.ID, Tile: t}
		name := fmt.Sprintf("dashboard %s tile %s", d.ID, t.ID)
		switch t.Kind {
		case TileData:
			s, err := c.tileSaved(ctx, t, opts.RunAs)
			if err != nil {
				return nil, withSource(err, name)
			}
			dq, err := c.tileQuery(ctx, d, s, tileFilters(t, values, ""), opts)
			if err != nil {
				return nil, withSource(err, name)
			}
			tq.Queries = []*DerivedQuery{dq}
		case TileMerge:
			for _, src := range t.Merge.Sources {
				by := Source{QueryID: src.QueryID}
				if by.QueryID == "" {
					by = Source{QuerySlug: src.QuerySlug}
				}
				s, err := c.fetchSaved(ctx, by, opts.RunAs)
				if err != nil {
					return nil, withSource(err, name)
				}
				dq, err := c.tileQuery(ctx, d, s, tileFilters(t, values, src.Name), opts)
				if err != nil {
					return nil, withSource(err, name)
				}
				tq.Queries = append(tq.Queries, dq)
			}
		default:
			continue
		}
		out = append(out, tq)
	}
	return out, nil
}

// tileSaved is the saved query of data tile t: the one the dashboard
// sent, else read by query id or through its Look.
func (c *Client) tileSaved(ctx context.Context, t Tile, as string) (*savedSource, error) {
	if t.query != nil {
		s := &savedSource{name: "tile " + t.ID + "'s query", id: t.QueryID, raw: t.query}
		b, _ := json.Marshal(t.query)
		if err := json.Unmarshal(b, &s.query); err != nil {
			return nil, &Error{Op: "dashboard", Message: "decoding " + s.name, Err: err}
		}
		return s, nil
	}
	if t.QueryID != "" {
		return c.fetchSaved(ctx, Source{QueryID: t.QueryID}, as)
	}
	return c.fetchSaved(ctx, Source{LookID: t.LookID}, as)
}

// tileQuery creates s with filters in the tile's zone.
func (c *Client) tileQuery(ctx context.Context, d *Dashboard, s *savedSource, filters map[string]string, opts RunOptions) (*DerivedQuery, error) {
	job := opts.QueryTimezone
	if job == "" {
		job = d.QueryTimezone
	}
	z, err := c.chooseZone(ctx, s, job)
	if err != nil {
		return nil, err
	}
	if opts.QueryTimezone == "" && d.QueryTimezone != "" {
		z.source = "query_timezone of dashboard " + d.ID
	}
	o := opts
	o.Filters = filters
	return c.derive(ctx, s, z, o)
}

// RunTile runs a tile's query (see TileQueries) through Run, in the zone
// it was created in. A data tile runs like any saved query, in any format
// and mode.
//
// A merge tile has no query of its own: Looker's API has no operation
// that runs a merge query (only create_merge_query and merge_query), so
// RunTile runs the merge's source queries and merges them as Looker
// documents it (create_merge_query: "similar to a SQL left outer join";
// the first source is the primary): every row of the primary, streamed,
// joined with the rows of each other source whose source_field_name
// values equal the primary's field_name values (several matches give
// several rows, none gives nulls). Columns: the primary's fields, then
// each other source's fields except its join fields (a name already
// taken keeps the first value). The merge's own sorts, pivots, limit
// and totals are not applied. Only opts.ResultFormat "json" is produced
// (an array of objects keyed by field), the other sources are held in
// memory (at most MaxMergeRows rows each), and pivoted sources are
// refused.
func (c *Client) RunTile(ctx context.Context, tq TileQuery, opts RunOptions) (*Result, error) {
	name := fmt.Sprintf("dashboard %s tile %s", tq.Dashboard, tq.Tile.ID)
	if len(tq.Queries) == 0 {
		return nil, &Error{Source: name, Op: "run", Message: fmt.Sprintf("tile %q holds no data (a %s tile)", tq.Tile.Title, tq.Tile.Kind)}
	}
	if tq.Tile.Kind != TileMerge {
		return c.runDerived(ctx, tq.Queries[0], opts)
	}
	return c.runMerge(ctx, name, tq, opts)
}

// runDerived runs a created query in its zone.
func (c *Client) runDerived(ctx context.Context, dq *DerivedQuery, opts RunOptions) (*Result, error) {
	o := opts
	o.Filters, o.FilterExpression, o.QueryTimezone = nil, "", dq.Timezone
	res, err := c.Run(ctx, Source{QueryID: dq.QueryID}, o)
	if err != nil {
		return nil, err
	}
	res.TimezoneSource = dq.TimezoneSource
	return res, nil
}

// MaxMergeRows bounds the rows of each non-primary source of a merged
// result, which RunTile holds in memory.
const MaxMergeRows = 500_000

// runMerge runs a merge tile (see RunTile).
func (c *Client) runMerge(ctx context.Context, name string, tq TileQuery, opts RunOptions) (*Result, error) {
	if opts.ResultFormat != "json" {
		return nil, &Error{Source: name, Op: "run", Message: fmt.Sprintf(
			"tile %q is a merged result, which Looker's API cannot run: the exporter merges its source queries itself and produces json only, not %s; use a json-based format for this tile",
			tq.Tile.Title, opts.ResultFormat)}
	}
	// The sources are read here, as json, by a reader that relies on the
	// client's in-band check of every byte.
	opts.TypedCSV, opts.DecodesJSON = false, false
	for _, dq := range tq.Queries {
		if len(dq.Query.Pivots) > 0 {
			return nil, &Error{Source: name, Op: "run", Message: fmt.Sprintf("tile %q merges a pivoted query (%s), which the exporter cannot merge", tq.Tile.Title, dq.QueryID)}
		}
	}
	src := tq.Tile.Merge.Sources
	type side struct {
		fields []string            // columns it adds
		on     []MergeField        // join fields
		rows   map[string][][]byte // join key -> rows (encoded values of fields)
	}
	taken := map[string]bool{}
	primary := tq.Queries[0].Query.Fields
	for _, f := range primary {
		taken[f] = true
	}
	var sides []side
	for i := 1; i < len(tq.Queries); i++ {
		sd := side{on: src[i].On, rows: map[string][][]byte{}}
		join := map[string]bool{}
		for _, m := range sd.on {
			join[m.SourceField] = true
		}
		for _, f := range tq.Queries[i].Query.Fields {
			if !join[f] && !taken[f] {
				taken[f] = true
				sd.fields = append(sd.fields, f)
			}
		}
		res, err := c.runDerived(ctx, tq.Queries[i], opts)
		if err != nil {
			return nil, err
		}
		n := 0
		err = eachJSONRow(res.Body, func(row map[string]json.RawMessage) error {
			if n++; n > MaxMergeRows {
				return &Error{Source: name, Op: "run", Message: fmt.Sprintf("source %q of merged tile %q has more than %d rows, which the exporter holds in memory to merge; filter it down", src[i].Name, tq.Tile.Title, MaxMergeRows)}
			}
			var key bytes.Buffer
			for _, m := range sd.on {
				key.Write(row[m.SourceField])
				key.WriteByte(0)
			}
			sd.rows[key.String()] = append(sd.rows[key.String()], encodeValues(row, sd.fields))
			return nil
		})
		_ = res.Body.Close()
		if err != nil {
			return nil, withSource(err, name)
		}
		sides = append(sides, sd)
	}
	res, err := c.runDerived(ctx, tq.Queries[0], opts)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		_, _ = bw.WriteString("[")
		first := true
		err := eachJSONRow(res.Body, func(row map[string]json.RawMessage) error {
			// Each combination of matches is one merged row.
			combos := [][]byte{encodeValues(row, primary)}
			for _, sd := range sides {
				var key bytes.Buffer
				for _, m := range sd.on {
					key.Write(row[m.Field])
					key.WriteByte(0)
				}
				matches := sd.rows[key.String()]
				if len(matches) == 0 {
					matches = [][]byte{encodeValues(nil, sd.fields)}
				}
				var next [][]byte
				for _, c := range combos {
					for _, m := range matches {
						next = append(next, joinValues(c, m))
					}
				}
				combos = next
			}
			for _, c := range combos {
				if !first {
					if err := bw.WriteByte(','); err != nil {
						return err
					}
				}
				first = false
				if err := bw.WriteByte('{'); err != nil {
					return err
				}
				if _, err := bw.Write(c); err != nil {
					return err
				}
				if err := bw.WriteByte('}'); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			_, _ = bw.WriteString("]")
			err = bw.Flush()
		}
		_ = res.Body.Close()
		pw.CloseWithError(err)
	}()
	out := *res
	out.Body = &pipeBody{pr: pr}
	out.Fields = nil // the merge adds the other sources' columns
	out.QueryID = tq.Queries[0].QueryID
	out.TimezoneSource = tq.Queries[0].TimezoneSource
	return &out, nil
}

// pipeBody is a merged result's body: closing it stops the merge, which
// closes the primary's body.
type pipeBody struct{ pr *io.PipeReader }

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }
func (b *pipeBody) Close() error {
	_ = b.pr.CloseWithError(errors.New("the merged result was closed"))
	return nil
}

// encodeValues encodes row's fields as the members of a JSON object
// (without braces), nulls for missing ones.
func encodeValues(row map[string]json.RawMessage, fields []string) []byte {
	var b bytes.Buffer
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f)
		b.Write(k)
		b.WriteByte(':')
		if v, ok := row[f]; ok {
			b.Write(v)
		} else {
			b.WriteString("null")
		}
	}
	return b.Bytes()
}

func joinValues(a, b []byte) []byte {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	}
	out := make([]byte, 0, len(a)+1+len(b))
	return append(append(append(out, a...), ','), b...)
}

// eachJSONRow decodes a json result (an array of objects) row by row.
func eachJSONRow(r io.Reader, f func(map[string]json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return readErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("a json result must be an array, it starts with %v", tok)
	}
	for dec.More() {
		var row map[string]json.RawMessage
		if err := dec.Decode(&row); err != nil {
			return readErr(err)
		}
		if err := f(row); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return readErr(err)
}

// readErr keeps the client's *Error (in-band errors, drops) as it is.
func readErr(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if strings.Contains(err.Error(), "unexpected EOF") {
		return fmt.Errorf("reading a merged source: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("decoding a merged source: %w", err)
}
