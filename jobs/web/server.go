// Package web is the exporter's HTTP surface: /healthz and /readyz probes,
// /metrics, a JSON API under /api/v1/, and a server-rendered HTML status
// page at / (jobs, runs with their logs and outputs, runs in flight, and a
// "Run now" button).
//
// # Authentication
//
// One bearer token (config server.token or server.token_file) guards the
// server:
//   - listening beyond loopback, every request but /healthz, /readyz and
//     /login needs it (New refuses to build a server without one), and
//     /metrics too unless server.metrics_public is set (for a Prometheus
//     scraping the pod);
//   - every POST needs it, wherever the server listens; with no token
//     configured, POSTs are refused and the page says how to enable them.
//
// API clients send "Authorization: Bearer TOKEN". A browser signs in once
// at /login: the form POSTs the token, and the server sets an HttpOnly,
// SameSite=Strict cookie holding an HMAC of the token (never the token
// itself). A POST authenticated by that cookie must also come from the
// page itself: its Origin header (or, without one, Sec-Fetch-Site) must
// say same origin, so another site cannot make a signed-in browser press
// "Run now". No page, API answer or log line ever holds the token.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// Options configure New.
type Options struct {
	Config *config.Config // jobs and server settings (listen address, token)
	// Jobs returns the jobs to show and to run with "Run now": the
	// daemon's jobs.JobSet.Jobs, which follows config reloads. Nil means
	// Config.Jobs.
	Jobs   func() []*config.Job
	Store  state.Store
	Runner *jobs.Runner // runs in flight
	// Trigger starts "Run now" runs; nil means a jobs.Trigger on Runner
	// with its defaults. The daemon passes one with its replica and lease.
	Trigger *jobs.Trigger
	// Triggers reports what the scheduler last read of a job's datagroup
	// (jobs.Scheduler.TriggerStatus); nil shows only the store's value.
	Triggers func(job string) (jobs.TriggerStatus, bool)
	// Metrics is served at /metrics; nil leaves it out.
	Metrics http.Handler
	// Ready reports what /readyz checks beyond the store, e.g. that the
	// scheduler runs; nil means ready.
	Ready func() error
	Log   *zap.Logger
	// Clock is the scheduler's clock: "Run now" takes its scheduled time
	// from it, and pages show ages and next runs against it. Nil means
	// jobs.RealClock.
	Clock   jobs.Clock
	Version string
}

// Server serves the status page, the API, the probes and the metrics.
type Server struct {
	opts    Options
	log     *zap.Logger
	token   string
	session string // cookie value: HMAC of the token
	authAll bool   // listening beyond loopback
	mux     *http.ServeMux
	tmpl    *templates

	// interrupt is closed (once) when Shutdown's drain ends: every "Run
	// now" run still going is cancelled with jobs.ErrShutdown.
	interrupt     chan struct{}
	interruptOnce sync.Once
	runs          sync.WaitGroup
	mu            sync.Mutex
	hs            *http.Server
}

const sessionCookie = "exporter_session"

// ErrNoToken is returned by New when the server would listen beyond
// loopback without a token.
var ErrNoToken = errors.New("a bearer token is required to listen beyond loopback")

// New builds a Server. It fails when the listen address is not loopback
// and no token is configured.
func New(opts Options) (*Server, error) {
	if opts.Config == nil || opts.Store == nil || opts.Runner == nil {
		return nil, errors.New("web: Config, Store and Runner are required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Clock == nil {
		opts.Clock = jobs.RealClock
	}
	if opts.Trigger == nil {
		opts.Trigger = &jobs.Trigger{Runner: opts.Runner, Log: opts.Log}
	}
	s := &Server{opts: opts, log: opts.Log, token: opts.Config.Server.Token.Reveal(), authAll: !config.IsLoopback(opts.Config.Server.Listen)}
	if s.authAll && s.token == "" {
		return nil, fmt.Errorf("server.listen %s: %w: set server.token (e.g. token: ${EXPORTER_TOKEN}) or server.token_file in %s, or listen on 127.0.0.1", opts.Config.Server.Listen, ErrNoToken, opts.Config.Path)
	}
	if s.token != "" {
		m := hmac.New(sha256.New, []byte(s.token))
		m.Write([]byte("exporter session v1"))
		s.session = hex.EncodeToString(m.Sum(nil))
	}
	s.interrupt = make(chan struct{})
	var err error
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler returns the server's handler, with the Host check (hostCheck)
// and authentication applied.
func (s *Server) Handler() http.Handler { return s.hostCheck(s.authMiddleware(s.mux)) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Metrics != nil {
		m.Handle("GET /metrics", s.opts.Metrics)
	}
	m.HandleFunc("GET /api/v1/jobs", s.apiJobs)
	m.HandleFunc("GET /api/v1/jobs/{job}", s.apiJob)
	m.HandleFunc("POST /api/v1/jobs/{job}/run", s.apiRunNow)
	m.HandleFunc("GET /api/v1/runs", s.apiRuns)
	m.HandleFunc("GET /api/v1/runs/{id}", s.apiRun)
	m.HandleFunc("GET /api/v1/runs/{id}/log", s.apiRunLog)
	m.HandleFunc("GET /{$}", s.pageIndex)
	m.HandleFunc("GET /jobs/{job}", s.pageJob)
	m.HandleFunc("POST /jobs/{job}/run", s.formRunNow)
	m.HandleFunc("GET /runs/{id}", s.pageRun)
	m.HandleFunc("GET /login", s.pageLogin)
	m.HandleFunc("POST /login", s.formLogin)
	m.HandleFunc("POST /logout", s.formLogout)
	s.mux = m
}

// ListenAndServe listens on server.listen and serves until ctx is done,
// then stops accepting requests (in-flight requests get 5s). Runs started
// with "Run now" go on; Shutdown drains them.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Config.Server.Listen)
	if err != nil {
		return fmt.Errorf("status server: listen on %s (server.listen): %w", s.opts.Config.Server.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener of the caller's. It holds at most
// server.max_connections connections open (see connLimiter) and bounds
// each with ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	maxConns := s.opts.Config.Server.MaxConnections
	if maxConns <= 0 {
		maxConns = config.DefaultMaxConnections
	}
	lim := newConnLimiter(ln, maxConns)
	ln = lim
	hs := newHTTPServer(s.Handler(), lim)
	hs.ErrorLog = zap.NewStdLog(s.log)
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
	s.log.Info("status server listening", zap.String("addr", ln.Addr().String()), zap.Bool("token_required", s.authAll), zap.Int("max_connections", maxConns))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("status server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("status server shutdown: %w", err)
	}
	return nil
}

// Shutdown waits for runs started with "Run now" until ctx is done, then
// interrupts them (jobs.ErrShutdown: recorded as interrupted) and waits
// for them to be recorded.
func (s *Server) Shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.runs.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.interruptOnce.Do(func() { close(s.interrupt) })
		<-done
	}
}

// authMiddleware enforces the token rules in the package doc.
func (s *Server) authMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		switch r.URL.Path {
		case "/healthz", "/readyz", "/login":
			next.ServeHTTP(w, r)
			return
		case "/metrics":
			if s.opts.Config.Server.MetricsPublic && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				next.ServeHTTP(w, r)
				return
			}
		}
		how := s.authenticated(r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if s.token == "" {
				s.deny(w, r, http.StatusForbidden, "changing anything (Run now) needs a token: set server.token or server.token_file in the config and restart")
				return
			}
			if how == "" {
				s.deny(w, r, http.StatusUnauthorized, "this needs the server token: send Authorization: Bearer TOKEN, or sign in at /login")
				return
			}
			if how == "cookie" && !sameOrigin(r) {
				s.deny(w, r, http.StatusForbidden, "cross-site request refused: submit the form from the status page itself")
				return
			}
		} else if s.authAll && how == "" {
			if wantsHTML(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.deny(w, r, http.StatusUnauthorized, "this server listens beyond loopback and needs its token: send Authorization: Bearer TOKEN")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated returns "bearer", "cookie" or "" (not authenticated).
func (s *Server) authenticated(r *http.Request) string {
	if s.token == "" {
		return ""
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal(strings.TrimSpace(tok), s.token) {
			return "bearer"
		}
		return ""
	}
	if c, err := r.Cookie(sessionCookie); err == nil && equal(c.Value, s.session) {
		return "cookie"
	}
	return ""
}

// equal compares in constant time, whatever the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// sameOrigin reports whether a browser says the request comes from this
// site. Browsers send Origin on POSTs; Sec-Fetch-Site is the fallback.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/metrics" && strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="exporter"`)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") || !wantsHTML(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	s.renderError(w, r, status, msg)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz: the config is loaded (we exist), the store answers, and the
// scheduler runs.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var problems []string
	if _, err := s.opts.Store.ListRuns(ctx, state.ListOptions{Limit: 1}); err != nil {
		s.log.Warn("readiness: state store unreachable", zap.Error(err))
		problems = append(problems, "state store unreachable (see the log)")
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + strings.Join(problems, "; ") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// ErrBusy is returned by RunNow when the job has a run in flight.
var ErrBusy = errors.New("the job has a run in flight")

// RunNow starts a run of job in the background through the Trigger (claimed,
// leased, retried under the job's policy), at the current second as its
// scheduled time, and returns the run once its first attempt is recorded.
// It returns ErrBusy when the job is already running here, or its key is
// running elsewhere (jobs.ErrRunning).
//
// The run outlives ctx (the request's): it keeps ctx's values, and ends
// only when it is done or Shutdown interrupts it.
func (s *Server) RunNow(ctx context.Context, job *config.Job) (state.Run, error) {
	for _, f := range s.opts.Runner.InFlight() {
		if f.Run.Job == job.Name {
			return f.Run, ErrBusy
		}
	}
	type outcome struct {
		run state.Run
		err error
	}
	started := make(chan state.Run, 1)
	done := make(chan outcome, 1)
	scheduled := s.opts.Clock.Now().Truncate(time.Second)
	s.runs.Add(1)
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	go func() {
		defer s.runs.Done()
		defer cancel(nil)
		ended := make(chan struct{})
		defer close(ended)
		go func() {
			select {
			case <-s.interrupt:
				cancel(jobs.ErrShutdown)
			case <-ended:
			}
		}()
		onStart := func(r state.Run) {
			select {
			case started <- r: // the first attempt; retries are not waited for
			default:
			}
		}
		run, err := s.opts.Trigger.Run(rctx, job, scheduled, jobs.TriggerOptions{RunOptions: jobs.RunOptions{OnStart: onStart}})
		done <- outcome{run, err}
	}()
	select {
	case run := <-started:
		return run, nil
	case o := <-done:
		select {
		case run := <-started: // recorded, then failed
			return run, nil
		default:
		}
		if errors.Is(o.err, jobs.ErrRunning) {
			return o.run, fmt.Errorf("%w: %w", ErrBusy, o.err)
		}
		return state.Run{}, o.err
	}
}

// jobs returns the jobs the server shows now.
func (s *Server) jobs() []*config.Job {
	if s.opts.Jobs != nil {
		return s.opts.Jobs()
	}
	return s.opts.Config.Jobs
}

// jobNamed returns the job called name, or nil.
func (s *Server) jobNamed(name string) *config.Job {
	for _, j := range s.jobs() {
		if j.Name == name {
			return j
		}
	}
	return nil
}
