package lookerapi

import "net/http"

// runClient returns the HTTP client sync run requests go through: hc on a
// copy of its transport with keep-alives off, so that every run request
// has a connection of its own that is never reused.
//
// Why: Go's transport silently sends an idempotent request (a GET such as
// run_look or run_query) again on a new connection when a reused
// keep-alive connection closes before any response byte. For a run that
// means a second copy of the query in the warehouse, unknown to the
// client, the first one left running. On a connection that was never
// reused the transport does not send again: the run fails as a retryable
// *Error, and the run's retry policy decides. A new connection (and TLS
// handshake) per run is cheap next to a query.
//
// A transport that is not an *http.Transport (a WithHTTPClient
// RoundTripper) cannot be copied: hc is returned as is, and that
// RoundTripper decides about connection reuse.
func runClient(hc *http.Client) *http.Client {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	tr, ok := rt.(*http.Transport)
	if !ok {
		return hc
	}
	own := tr.Clone()
	own.DisableKeepAlives = true
	out := *hc
	out.Transport = own
	return &out
}
