package lookertest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
)

// maxLoggedBody bounds the request body the request log keeps (and the
// body a handler can read: request bodies of the modelled operations are
// small JSON documents).
const maxLoggedBody = 1 << 20

// maxLoggedRequests bounds the request log; older entries are dropped.
const maxLoggedRequests = 10000

// LoggedRequest is one request the server received, as sent.
type LoggedRequest struct {
	Op     string     // operation id, as in Requests
	Method string     // "GET", "POST", ...
	Path   string     // below /api/4.0, e.g. "/queries"
	Query  url.Values // URL query parameters; nil for login
	Body   []byte     // the body (its first MiB); nil for GET and for login (it holds the client secret)
}

// DecodeQuery decodes the body of a create_query, run_inline_query or
// create_merge_query request as the spec's Query schema.
func (r LoggedRequest) DecodeQuery() (Query, error) {
	var q Query
	if err := json.Unmarshal(r.Body, &q); err != nil {
		return q, fmt.Errorf("lookertest: %s body is not a Query: %w", r.Op, err)
	}
	return q, nil
}

// RequestLog is every request received so far, oldest first (at most the
// last 10,000), optionally only those of the operations ops.
func (s *Server) RequestLog(ops ...string) []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LoggedRequest
	for _, r := range s.reqLog {
		if len(ops) == 0 || slices.Contains(ops, r.Op) {
			out = append(out, r)
		}
	}
	return out
}

// logRequest appends r to the log. s.mu must be held.
func (s *Server) logRequest(r LoggedRequest) {
	if len(s.reqLog) >= maxLoggedRequests {
		s.reqLog = append(s.reqLog[:0], s.reqLog[len(s.reqLog)-maxLoggedRequests/2:]...)
	}
	s.reqLog = append(s.reqLog, r)
}
