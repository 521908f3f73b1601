package lookerapi

import (
	"net/http"
	"time"
)

// RequestObserver is told about every HTTP request the Client sends to
// Looker, logins and retries included: op is the operation name (e.g.
// "run_look", "login"), status the HTTP status, or 0 when no response
// came (network error, timeout, cancelled), and d the time to the response
// headers. It is called synchronously from the request's goroutine, so it
// must be quick and safe for concurrent use. It never sees URLs, headers
// or bodies, so it cannot leak a token.
type RequestObserver func(op string, status int, d time.Duration)

// WithRequestObserver makes the Client report each request to obs, e.g.
// to count Looker requests by endpoint and status in metrics.
func WithRequestObserver(obs RequestObserver) Option {
	return func(c *Client) { c.observer = obs }
}

func (c *Client) observe(op string, resp *http.Response, err error, start time.Time) {
	if c.observer == nil {
		return
	}
	status := 0
	if err == nil && resp != nil {
		status = resp.StatusCode
	}
	c.observer(op, status, c.clock.Now().Sub(start))
}
