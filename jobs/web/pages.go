package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/state"
)

// page is what every template gets.
type page struct {
	Title    string
	Now      time.Time
	Version  string
	SignedIn bool
	HasToken bool
	Refresh  int // seconds; 0: no auto refresh
	Error    string
	Status   int

	Jobs     []JobInfo
	Job      *JobInfo
	Runs     []RunInfo
	InFlight []RunInfo
	Run      *RunInfo
	Log      []state.LogLine
	Charts   []template.HTML
	Next     string
	Notice   string

	// The on-call summary of the index page: jobs by health.
	Failing, Stale int
}

// onCallRefresh is how often the index and job pages reload themselves
// (meta refresh, no script). Pages with inputs (sign-in) never do.
const onCallRefresh = 30

// notices are the only texts ?notice= can show: a link cannot put its
// own words on the page.
var notices = map[string]string{
	"busy": "A run of this job is already in flight; it is listed below. Run now again when it has finished.",
}

func (s *Server) newPage(r *http.Request, title string) *page {
	return &page{Title: title, Now: s.opts.Clock.Now(), Version: s.opts.Version, SignedIn: s.authenticated(r) != "", HasToken: s.token != ""}
}

func (s *Server) render(w http.ResponseWriter, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// No external assets, no inline script: a strict policy costs nothing.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	if p.Status != 0 {
		w.WriteHeader(p.Status)
	}
	if err := s.tmpl.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("status page: render failed", zap.String("template", name), zap.Error(err))
	}
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := s.newPage(r, http.StatusText(status))
	p.Status, p.Error = status, msg
	s.render(w, "error", p)
}

func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Jobs")
	for _, j := range s.jobs() {
		ji, err := s.jobInfo(r.Context(), j, p.Now)
		if err != nil {
			s.internal(w, r, "read runs of job "+j.Name, err)
			return
		}
		p.Jobs = append(p.Jobs, ji)
		switch ji.Health {
		case HealthFailing:
			p.Failing++
		case HealthStale:
			p.Stale++
		}
	}
	// Whatever needs someone comes first: failing, then stale, then the
	// rest in config order.
	rank := map[string]int{HealthFailing: 0, HealthStale: 1}
	slices.SortStableFunc(p.Jobs, func(a, b JobInfo) int {
		ra, oka := rank[a.Health]
		rb, okb := rank[b.Health]
		if !oka {
			ra = 2
		}
		if !okb {
			rb = 2
		}
		return ra - rb
	})
	for _, f := range s.opts.Runner.InFlight() {
		p.InFlight = append(p.InFlight, s.inFlightInfo(f, p.Now))
	}
	runs, err := s.opts.Store.ListRuns(r.Context(), state.ListOptions{Limit: 25})
	if err != nil {
		s.internal(w, r, "list runs", err)
		return
	}
	for _, run := range runs {
		p.Runs = append(p.Runs, s.runInfo(run, p.Now))
	}
	p.Refresh = onCallRefresh
	if len(p.InFlight) > 0 {
		p.Refresh = 5
	}
	s.render(w, "index", p)
}

func (s *Server) pageJob(w http.ResponseWriter, r *http.Request) {
	j := s.job(w, r)
	if j == nil {
		return
	}
	p := s.newPage(r, j.Name)
	ji, err := s.jobInfo(r.Context(), j, p.Now)
	if err != nil {
		s.internal(w, r, "read runs of job "+j.Name, err)
		return
	}
	p.Job = &ji
	runs, err := s.opts.Store.ListRuns(r.Context(), state.ListOptions{Job: j.Name, Limit: 100})
	if err != nil {
		s.internal(w, r, "list runs of "+j.Name, err)
		return
	}
	for _, run := range runs {
		p.Runs = append(p.Runs, s.runInfo(run, p.Now))
	}
	p.Charts = charts(p.Runs)
	p.Notice = notices[r.URL.Query().Get("notice")]
	p.Refresh = onCallRefresh
	if len(ji.Running) > 0 {
		p.Refresh = 5
	}
	s.render(w, "job", p)
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.getRun(w, r)
	if !ok {
		return
	}
	p := s.newPage(r, "Run "+run.ID)
	ri := s.runInfo(run, p.Now)
	p.Run = &ri
	lines, err := s.runLog(r.Context(), run)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		s.internal(w, r, "read the log of run "+run.ID, err)
		return
	}
	p.Log = lines
	if ji := s.jobNamed(run.Job); ji != nil {
		p.Job = &JobInfo{Name: ji.Name, Timezone: ji.Location.String()}
	}
	if ri.InFlight {
		p.Refresh = 2
	}
	s.render(w, "run", p)
}

func (s *Server) formRunNow(w http.ResponseWriter, r *http.Request) {
	j := s.job(w, r)
	if j == nil {
		return
	}
	run, err := s.RunNow(r.Context(), j)
	switch {
	case errors.Is(err, ErrBusy):
		s.log.Info("Run now refused: a run is in flight", zap.String("job", j.Name), zap.String("holder", holder(run)))
		http.Redirect(w, r, "/jobs/"+url.PathEscape(j.Name)+"?notice=busy", http.StatusSeeOther)
		return
	case err != nil:
		s.internal(w, r, "start a run of "+j.Name, err)
		return
	}
	s.log.Info("run started from the status page", zap.String("job", j.Name), zap.String("run_id", run.ID))
	http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Sign in")
	p.Next = safeNext(r.URL.Query().Get("next"))
	if s.token == "" {
		p.Error = "No token is configured, so there is nothing to sign in to: reading needs none here, and Run now needs server.token or server.token_file in the config."
	}
	s.render(w, "login", p)
}

func (s *Server) formLogin(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Sign in")
	p.Next = safeNext(r.FormValue("next"))
	switch {
	case s.token == "":
		p.Status, p.Error = http.StatusForbidden, "No token is configured: set server.token or server.token_file in the config."
	case !sameOrigin(r):
		p.Status, p.Error = http.StatusForbidden, "Cross-site sign-in refused: use the form on this page."
	case !equal(strings.TrimSpace(r.FormValue("token")), s.token):
		s.log.Warn("status page: sign-in with a wrong token", zap.String("remote", r.RemoteAddr))
		p.Status, p.Error = http.StatusUnauthorized, "That is not the server's token."
	default:
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.session, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
			SameSite: http.SameSiteStrictMode, MaxAge: 30 * 24 * 3600})
		http.Redirect(w, r, p.Next, http.StatusSeeOther)
		return
	}
	s.render(w, "login", p)
}

func (s *Server) formLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps redirects on this site: only a path of this site
// ("/..."), never one a browser reads as another origin. Browsers drop
// tabs and newlines from URLs and read a backslash as a slash, so
// "/<tab>/evil.example" and "/<backslash>evil.example" are
// "//evil.example" to them: any control character or backslash is
// refused, as is "//".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '\\'
	}) {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
