package lookerapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrRedirect means Looker (or something in front of it) redirected a
// call to another scheme, host or port than Config.BaseURL, and the Client
// refused to follow: following would send the credentials (a 307/308 of
// POST /login re-posts them) or fetch another host's data. Permanent: fix
// Config.BaseURL.
var ErrRedirect = errors.New("redirected to another host")

// maxRedirects is how many same-origin redirects one call follows (as
// net/http does by default).
const maxRedirects = 10

// redirectError is what the CheckRedirect of sameOriginOnly returns.
type redirectError struct {
	status int    // the redirect's status, e.g. 307
	target string // scheme://host:port/path of the Location, without query or user info
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("refused a %d redirect to %s", e.status, e.target)
}

// apiError is the permanent *Error of a call that was redirected away.
func (e *redirectError) apiError(r *request, base string) *Error {
	return &Error{Source: r.source, Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: e.status, Err: ErrRedirect,
		Message: fmt.Sprintf("Looker redirected the call to %s, which is not looker.base_url (%s); the exporter follows no redirect to another scheme, host or port. Set looker.base_url to the address the Looker API answers on", e.target, base)}
}

// sameOriginOnly returns a copy of hc that follows redirects only within
// the scheme, host and port of the original request (hc's own
// CheckRedirect, if any, still decides about those).
func sameOriginOnly(hc *http.Client) *http.Client {
	out := *hc
	next := hc.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		if origin(req.URL) != origin(via[0].URL) {
			status := 0
			if req.Response != nil {
				status = req.Response.StatusCode
			}
			return &redirectError{status: status, target: origin(req.URL) + req.URL.EscapedPath()}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &out
}

// origin is scheme://host:port of u, with the scheme's default port made
// explicit and the host in lower case.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return strings.ToLower(u.Scheme) + "://" + host + ":" + port
}
