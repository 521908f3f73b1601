package lookerapi

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
)

// DerivedQuery is a saved query re-created for a run: with the job's
// filters merged over its own, in the zone the run uses.
type DerivedQuery struct {
	QueryID string // the query created (POST /queries), the one that runs
	// SavedQueryID is the query it was derived from (a Look's query, a
	// query id, or the query a slug names).
	SavedQueryID   string
	Query          Query  // the body sent, as Looker reads it
	Timezone       string // its query_timezone
	TimezoneSource string
}

// filtered reports whether o sets filters for a saved query.
func (o RunOptions) filtered() bool { return len(o.Filters) > 0 || o.FilterExpression != "" }

// Derive creates the query a Look, saved query or slug runs with the
// job's filters and zone, without running it (the same query Run with
// opts.Filters runs):
//
//   - the saved query is read (GET /looks/{id} with its query,
//     GET /queries/{id}, GET /queries/slug/{slug});
//   - the new body keeps every writable property of the saved one:
//     fields, pivots, fill_fields, sorts, limit, column_limit, total,
//     row_total, subtotals, dynamic_fields, vis_config,
//     visible_ui_sections...;
//   - filters: the saved filters, with opts.Filters replacing those of the
//     same field and adding the others; filter_expression: opts'
//     when set, else the saved one;
//   - filter_config and client_id are cleared. Looker's spec on
//     Query.filter_config: it "takes precedence over filters" in the UI,
//     and "when creating a query or modifying an existing query,
//     filter_config should be set to null" (sdk-codegen
//     examples/python/run_look_with_filters.py does the same);
//   - query_timezone is the run's zone (see Run): opts.QueryTimezone,
//     else the saved query's, else Looker's application zone.
//
// It is created with POST /queries once per distinct body and Looker
// user: the Client remembers the ids of recent bodies (queries are
// immutable in Looker, so a remembered id stays right).
func (c *Client) Derive(ctx context.Context, src Source, opts RunOptions) (*DerivedQuery, error) {
	if src.LookID == "" && src.QueryID == "" && src.QuerySlug == "" || countSet(src) != 1 {
		return nil, &Error{Op: "create_query", Message: "only a Look, a saved query or a query slug has a saved query to add filters to"}
	}
	s, err := c.fetchSaved(ctx, src, opts.RunAs)
	if err != nil {
		return nil, withSource(err, src.String())
	}
	z, err := c.chooseZone(ctx, s, opts.QueryTimezone)
	if err != nil {
		return nil, withSource(err, src.String())
	}
	d, err := c.derive(ctx, s, z, opts)
	return d, withSource(err, src.String())
}

// derive builds the derived body of s (see Derive) and creates it.
func (c *Client) derive(ctx context.Context, s *savedSource, z zoneChoice, opts RunOptions) (*DerivedQuery, error) {
	d, b, err := deriveBody(s, z, opts)
	if err != nil {
		return nil, err
	}
	key := derivedKey(opts.RunAs, b)
	if id, ok := c.derivedIDs.get(key); ok {
		d.QueryID = id
		return d, nil
	}
	created, err := c.getQuery(ctx, &request{op: "create_query", method: http.MethodPost, path: "/queries",
		body: b, contentType: "application/json", as: opts.RunAs})
	if err != nil {
		return nil, err
	}
	c.derivedIDs.put(key, created.ID)
	d.QueryID = created.ID
	return d, nil
}

// deriveBody is the body derive creates, encoded and decoded; QueryID is
// left empty.
func deriveBody(s *savedSource, z zoneChoice, opts RunOptions) (*DerivedQuery, []byte, error) {
	body := make(map[string]json.RawMessage, len(s.raw)+2)
	for k, v := range s.raw {
		body[k] = v
	}
	for _, k := range readOnlyQueryKeys {
		delete(body, k)
	}
	merged := map[string]string{}
	if raw, ok := body["filters"]; ok && string(raw) != "null" {
		var saved map[string]any
		if err := json.Unmarshal(raw, &saved); err != nil {
			return nil, nil, &Error{Op: "create_query", Message: "decoding the filters of " + s.name, Err: err}
		}
		for k, v := range saved {
			switch v := v.(type) {
			case string:
				merged[k] = v
			case nil:
			default: // the Go SDK types filter values as any; Looker sends strings
				merged[k] = fmt.Sprint(v)
			}
		}
	}
	maps.Copy(merged, opts.Filters)
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		body[k] = b
	}
	if len(merged) > 0 {
		set("filters", merged)
	} else {
		delete(body, "filters")
	}
	if opts.FilterExpression != "" {
		set("filter_expression", opts.FilterExpression)
	}
	set("query_timezone", z.zone)
	b, err := json.Marshal(body) // map keys sorted: equal bodies encode equally
	if err != nil {
		return nil, nil, &Error{Op: "create_query", Message: "encoding the query", Err: err}
	}
	var q Query
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, nil, &Error{Op: "create_query", Message: "decoding the derived query", Err: err}
	}
	return &DerivedQuery{SavedQueryID: s.id, Query: q, Timezone: z.zone, TimezoneSource: z.source}, b, nil
}

func derivedKey(as string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(as))
	h.Write([]byte{0})
	h.Write(body)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// maxDerivedIDs bounds the Client's memory of created query bodies.
const maxDerivedIDs = 1024

// idCache is a bounded least-recently-used map from a body hash to the
// query id Looker gave it.
type idCache struct {
	mu    sync.Mutex
	order *list.List // of idEntry, most recent first
	byKey map[[32]byte]*list.Element
}

type idEntry struct {
	key [32]byte
	id  string
}

func (c *idCache) get(k [32]byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(idEntry).id, true
	}
	return "", false
}

func (c *idCache) put(k [32]byte, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey, c.order = map[[32]byte]*list.Element{}, list.New()
	}
	if e, ok := c.byKey[k]; ok {
		e.Value = idEntry{k, id}
		c.order.MoveToFront(e)
		return
	}
	c.byKey[k] = c.order.PushFront(idEntry{k, id})
	for c.order.Len() > maxDerivedIDs {
		last := c.order.Back()
		delete(c.byKey, last.Value.(idEntry).key)
		c.order.Remove(last)
	}
}
