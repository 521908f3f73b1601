package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// hostCheck guards a server listening on loopback against DNS rebinding:
// a page on evil.example whose name is made to resolve to 127.0.0.1 would
// otherwise read job names, errors and logs through the visitor's
// browser, since loopback needs no token. Such requests carry their own
// name in Host, so only loopback names (localhost, 127.0.0.0/8, [::1], any
// port) and server.external_url's host are served; anything else gets 421
// Misdirected Request. The probes stay open for every Host. Beyond
// loopback the token guards every page instead.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	if s.authAll {
		return next
	}
	var external string
	if u, err := url.Parse(s.opts.Config.Server.ExternalURL); err == nil {
		external = strings.ToLower(u.Hostname())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			next.ServeHTTP(w, r)
			return
		}
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		ip := net.ParseIP(host)
		if host == "localhost" || (ip != nil && ip.IsLoopback()) || (external != "" && host == external) {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Warn("status page: request for another host refused (DNS rebinding?)", zap.String("host", r.Host), zap.String("remote", r.RemoteAddr))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusMisdirectedRequest)
		_, _ = w.Write([]byte("421 Misdirected Request: this status server listens on loopback and answers only requests addressed to localhost, 127.0.0.1 or [::1]. " +
			"Behind a reverse proxy or another name, set server.external_url to the address people use.\n"))
	})
}
