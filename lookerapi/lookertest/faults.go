package lookertest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Fault makes the server fail requests before they are authenticated or
// handled, like a proxy or an overloaded Looker would.
type Fault struct {
	Status     int    // status to answer: 4xx get a Looker JSON error body, 5xx an HTML page like a proxy's
	Count      int    // how many matching requests fail; 0 means 1
	PathPrefix string // only requests whose path below /api/4.0 starts with this, e.g. "/looks/"; "" matches all
	PathSuffix string // and ends with this, e.g. "/results"; "" matches all
	RetryAfter string // Retry-After header value; "" sends none
}

// FailNext queues a fault. Faults are matched in the order queued.
func (s *Server) FailNext(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// takeFault returns the first queued fault matching path and uses it up.
// s.mu must be held.
func (s *Server) takeFault(path string) *Fault {
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.PathPrefix) || !strings.HasSuffix(path, f.PathSuffix) {
			continue
		}
		out := *f
		f.Count--
		if f.Count <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &out
	}
	return nil
}

func (c *call) fault(f *Fault) {
	if f.RetryAfter != "" {
		c.w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status >= 500 {
		c.w.Header().Set("Content-Type", "text/html")
		c.w.WriteHeader(f.Status)
		text := fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
		fmt.Fprintf(c.w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
		return
	}
	msg := http.StatusText(f.Status)
	switch f.Status {
	case http.StatusUnauthorized:
		msg = "Requires authentication."
	case http.StatusTooManyRequests:
		msg = "Too many requests. Please try again later."
	}
	c.error(f.Status, msg)
}

// redirect is a queued RedirectNext.
type redirect struct {
	op, location string
	status       int
}

// RedirectNext makes the next request for operation op (see Requests)
// answer status (e.g. 302, 307, 308) with Location: location, before
// authentication, like a load balancer or a moved instance. Nothing in
// Looker's API redirects in normal operation (NOTES §13.9); a client must
// not follow a redirect to another host with credentials or for data.
func (s *Server) RedirectNext(op, location string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirects = append(s.redirects, redirect{op: op, location: location, status: status})
}

// takeRedirect returns the first queued redirect for op and uses it up.
// s.mu must be held.
func (s *Server) takeRedirect(op string) *redirect {
	for i, r := range s.redirects {
		if r.op == op {
			s.redirects = slices.Delete(s.redirects, i, i+1)
			return &r
		}
	}
	return nil
}

func (c *call) redirect(r *redirect) {
	c.w.Header().Set("Location", r.location)
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(r.status)
	fmt.Fprintf(c.w, "<html><body>You are being <a href=%q>redirected</a>.</body></html>\n", r.location)
}

// DropNextRun makes the next run (any run endpoint or query task results)
// send afterRows rows and then close the connection without finishing the
// body, so the client reads an unexpected EOF.
func (s *Server) DropNextRun(afterRows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops = append(s.drops, afterRows)
}

type stall struct {
	release      <-chan struct{}
	arrived      chan struct{}
	afterHeaders bool
}

// StallNextRun makes the next run wait until release is closed (or it is
// killed, or the server closes): before sending the response headers, or,
// with afterHeaders, after the headers but before the first row. The
// returned channel is closed when the stalled run arrives.
//
// A synchronous run whose client goes away while stalled keeps running,
// listed by GET /running_queries, until it is released or killed: "Looker
// does not timeout queries once they have been sent to the database"
// (NOTES §9, §13.5).
func (s *Server) StallNextRun(release <-chan struct{}, afterHeaders bool) <-chan struct{} {
	st := stall{release: release, arrived: make(chan struct{}), afterHeaders: afterHeaders}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls = append(s.stalls, st)
	return st.arrived
}

// TrickleNextRun makes the next run send its headers (and, for json_bi,
// the metadata) at once, then one row per receive from tick: a body that
// goes quiet, for read-idle tests. A closed tick lets the rest flow.
func (s *Server) TrickleNextRun(tick <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trickles = append(s.trickles, tick)
}

// InBandVariant is the shape of an error Looker sends inside a 200
// response (NOTES §13.2).
type InBandVariant int

const (
	// InBandRows is the error as a result row: json `[{"looker_error": m}]`
	// (reported by users of the real API, spectacles-ci/spectacles#67,
	// #140), json_bi `{"metadata":…,"rows":[{"looker_error": m}]}` (the
	// shape spectacles parses for async json_bi errors), csv/txt a
	// one-column table "looker_error" holding m (undocumented; inferred).
	InBandRows InBandVariant = iota
	// InBandObject is `{"looker_error": m}` for every format
	// (undocumented; a shape robust clients look for).
	InBandObject
	// InBandText is m as plain text with the format's usual Content-Type
	// (undocumented; what a client reading csv byte for byte would
	// otherwise publish).
	InBandText
)

type inBandError struct {
	message string
	variant InBandVariant
}

// InBandErrorNextRun makes the next run (any run endpoint or query task
// results) answer HTTP 200 with the error message in the body, shaped by
// v, as Looker does when the SQL fails on a synchronous run (NOTES §13.2).
func (s *Server) InBandErrorNextRun(message string, v InBandVariant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inBand = append(s.inBand, inBandError{message: message, variant: v})
}

// HTMLNextRun makes the next run answer HTTP 200 with a text/html sign-in
// page, like an SSO proxy in front of Looker (NOTES §13.2).
func (s *Server) HTMLNextRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.htmlRuns++
}

// signInPage is what an SSO proxy answers instead of the API.
const signInPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<form method="post" action="/login"><h1>Sign in to continue</h1>
<input type="email" name="email"><input type="password" name="password"><button>Sign in</button></form>
</body>
</html>
`
