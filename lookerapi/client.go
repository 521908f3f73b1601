package lookerapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultTimeout is the request timeout when Config.Timeout is 0.
const DefaultTimeout = 120 * time.Second

// maxRenewMargin bounds how long before expiry a token is renewed; shorter
// tokens are renewed when 10% of their life is left.
const maxRenewMargin = 60 * time.Second

// tlsSessions is how many TLS sessions the client keeps for resumption:
// Go keeps one per server name, and the client talks to one host.
const tlsSessions = 4

// Clock is the time source of a Client. Tests inject a fake one to expire
// tokens and fire request timeouts without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. *time.Timer implements it.
type Timer interface {
	// Stop prevents the call; false if it already ran or was stopped.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Option customises a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send requests with hc instead of its own
// (which honours Config.VerifySSL). hc's Timeout must be 0 or cover whole
// downloads: the Client applies Config.Timeout to the headers only.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithClock sets the clock used for token expiry and request timeouts.
func WithClock(clk Clock) Option {
	return func(c *Client) { c.clock = clk }
}

// Client is a Looker API 4.0 client. It is safe for concurrent use, except
// that Close must be called once every other call has returned (result
// bodies included: Close revokes the tokens they were fetched with).
//
// Tokens: the Client logs in itself (POST /login), logs in again before a
// token expires, and once more when Looker answers 401; a run with
// RunOptions.RunAs uses a token of that user (POST /login/{user_id} with
// the API user's token), one per user, cached and renewed the same way.
// At most one login per identity is in flight: concurrent callers wait for
// it and share its token. Close logs every token out.
//
// Retries: the Client sends one API call up to Config.MaxAttempts times
// when Looker answers 429 or 503, that is before any result body was read,
// waiting Retry-After when Looker gives one (up to MaxRetryWait; a longer
// Retry-After fails the call at once, so the caller can reschedule) and
// otherwise 1s, 2s, 4s... . It never retries a body that broke mid-stream
// or any other status: those come back as *Error, marked Retryable when a
// whole new run could help (IsRetryable); package jobs owns run retries.
//
// Concurrency: runs (sync runs and query tasks, from the first request to
// the result body's Close) take one of Config.MaxConcurrentQueries slots of
// their Looker user (see QuerySlots); metadata calls (looks, queries,
// explores) do not.
//
// Redirects: the Client follows a redirect only to the scheme, host and
// port of Config.BaseURL; any other fails the call with a permanent
// *Error wrapping ErrRedirect that names the target, so neither the
// credentials nor a token nor a request for data reach another host.
//
// Stalls: a response body that delivers nothing for
// Config.ReadIdleTimeout fails with a retryable *Error wrapping
// ErrReadIdle.
type Client struct {
	base        string // Config.BaseURL, normalized
	api         string // base URL + "/api/4.0"
	id          string
	secret      string
	timeout     time.Duration
	readIdle    time.Duration
	maxAttempts int
	hc          *http.Client
	runHC       *http.Client // sync run requests: connections never reused (see runClient)
	clock       Clock
	log         *zap.Logger
	observer    RequestObserver // optional; see WithRequestObserver
	slots       QuerySlots
	maxQueries  int // slots per Looker user

	mu       sync.Mutex
	sessions map[string]*session // by identity: "" is the API user, else a sudo user id
	closed   bool
	meID     string // the API user's id (GET /user), once known

	derivedIDs idCache             // query ids of bodies created by derive (derive.go)
	appZones   metaCache[string]   // GET /setting's application zone, under "" (zone.go)
	explores   metaCache[*Explore] // by model, explore and sudo user (resolve.go)
}

// session holds the token of one identity.
type session struct {
	user     string        // "" for the API user
	loginSem chan struct{} // holds one value while a login is in flight
	// tok and renewAt are guarded by Client.mu.
	tok     string
	renewAt time.Time
}

// MaxRetryWait is the longest the Client waits before sending a call again
// after a 429 or 503.
const MaxRetryWait = 30 * time.Second

// New validates cfg and returns a Client. It does not contact Looker; the
// first call logs in.
func New(cfg Config, log *zap.Logger, opts ...Option) (*Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	base, err := normalizeBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, errors.New("lookerapi: the API client id is empty; set LOOKERSDK_CLIENT_ID")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("lookerapi: the API client secret is empty; set LOOKERSDK_CLIENT_SECRET")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("lookerapi: the request timeout %s is negative", cfg.Timeout)
	}
	if cfg.MaxConcurrentQueries < 0 {
		return nil, fmt.Errorf("lookerapi: max concurrent queries %d is negative", cfg.MaxConcurrentQueries)
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("lookerapi: max attempts %d is negative", cfg.MaxAttempts)
	}
	if cfg.ReadIdleTimeout < 0 {
		return nil, fmt.Errorf("lookerapi: the read idle timeout %s is negative", cfg.ReadIdleTimeout)
	}
	c := &Client{
		base:        base,
		api:         base + "/api/4.0",
		id:          cfg.ClientID,
		secret:      cfg.ClientSecret,
		timeout:     cfg.Timeout,
		readIdle:    cfg.ReadIdleTimeout,
		maxAttempts: cfg.MaxAttempts,
		clock:       realClock{},
		log:         log,
		sessions:    map[string]*session{},
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.readIdle == 0 {
		c.readIdle = DefaultReadIdleTimeout
	}
	c.maxQueries = cfg.MaxConcurrentQueries
	if c.maxQueries == 0 {
		c.maxQueries = DefaultMaxConcurrentQueries
	}
	c.slots = newLocalSlots()
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pool, err := caPool(cfg.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		if !cfg.VerifySSL {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user turned verification off
			if strings.HasPrefix(base, "https:") {
				log.Warn("tls certificate verification is off", zap.String("base_url", base))
			}
		}
		// Every sync run request goes out on a new connection (see
		// runClient): resuming the TLS session spares each run the
		// certificate exchange and its verification, the costly part of
		// a handshake. Metadata and run connections share the cache.
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(tlsSessions)
		// Keep a connection per run slot: each run reads metadata (the
		// Look, its explore) before its query, and with Go's default of 2
		// idle connections per host runs at once would dial for each.
		tr.MaxIdleConnsPerHost = max(c.maxQueries, 2)
		c.hc = &http.Client{Transport: tr}
	}
	c.runHC = sameOriginOnly(runClient(c.hc))
	c.hc = sameOriginOnly(c.hc)
	return c, nil
}

// normalizeBaseURL accepts "https://host[:port][/prefix][/api/4.0][/]" and
// returns it without the API suffix and trailing slash.
func normalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("lookerapi: the Looker base URL is empty; set it to your instance, e.g. https://example.cloud.looker.com")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("lookerapi: the Looker base URL is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("lookerapi: the Looker base URL %q must start with https:// (or http://)", u.Redacted())
	case u.Host == "":
		return "", fmt.Errorf("lookerapi: the Looker base URL %q has no host", u.Redacted())
	case u.User != nil:
		return "", fmt.Errorf("lookerapi: the Looker base URL %q must not hold credentials; use the client id and secret", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("lookerapi: the Looker base URL %q must not have a query or fragment", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/4.0")
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = ""
	return u.String(), nil
}

// request is one API call. path is below /api/4.0, e.g. "/looks/42/run/csv".
type request struct {
	op, method, path string
	query            url.Values
	body             []byte
	contentType      string
	as               string       // identity whose token is used: "" the API user, else a sudo user id
	source           string       // what is being run, for errors; "" outside runs
	sent             bool         // set once the request went out (Looker may be running it)
	fresh            bool         // send on a connection never reused, so it is never sent twice (sync runs; see runClient)
	check            *resultCheck // run requests: how the result body is checked (inband.go)
}

func (r *request) fullPath() string { return "/api/4.0" + r.path }

// do sends r with the current token of r.as, logs in again and resends once
// on a 401, resends on 429/503 (see Client), and turns any other non-2xx
// answer into an *Error. The caller closes the body of the returned
// response.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	relogged := false
	for attempt := 1; ; {
		tok, err := c.token(ctx, r.as)
		if err != nil {
			return nil, withSource(err, r.source)
		}
		resp, err := c.send(ctx, r, tok)
		if err != nil {
			return nil, withSource(err, r.source)
		}
		if resp.StatusCode == http.StatusUnauthorized && !relogged {
			relogged = true
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
			c.invalidate(r.as, tok)
			c.log.Info("token rejected, logging in again", zap.String("op", r.op), zap.Bool("sudo", r.as != ""))
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return resp, nil
		}
		e := c.responseError(r, resp, tok)
		if e.StatusCode != http.StatusTooManyRequests && e.StatusCode != http.StatusServiceUnavailable {
			return nil, e
		}
		wait := backoff(attempt, e.RetryAfter)
		if attempt >= c.maxAttempts || wait > MaxRetryWait {
			return nil, e
		}
		c.log.Info("looker busy, sending again",
			zap.String("op", r.op), zap.Int("status", e.StatusCode), zap.Int("attempt", attempt),
			zap.Duration("wait", wait), zap.Duration("retry_after", e.RetryAfter))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, withSource(transportError(ctx, r.op, r.method, r.fullPath(), "waiting to send again after "+strconv.Itoa(e.StatusCode), err), r.source)
		}
		attempt++
	}
}

// backoff is the wait before attempt+1: Retry-After when Looker sent one,
// else 1s doubling per attempt.
func backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	return time.Second << min(attempt-1, 10)
}

// sleep waits d on the Client's clock, or until ctx ends.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	done := make(chan struct{})
	t := c.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// withSource records src in err when it is an *Error without one.
func withSource(err error, src string) error {
	var e *Error
	if src != "" && errors.As(err, &e) && e.Source == "" {
		e.Source = src
	}
	return err
}

// send makes one HTTP request. Config.Timeout covers the wait for the
// response headers; the body then streams under ctx alone.
func (c *Client) send(ctx context.Context, r *request, tok string) (*http.Response, error) {
	target := c.api + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, target, body)
	if err != nil {
		cancel(nil)
		return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Message: "building the request", Err: err}
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("User-Agent", "lookerexport-exporter")
	req.Header.Set("x-looker-appid", "lookerexport-exporter")

	start := c.clock.Now()
	timer := c.clock.AfterFunc(c.timeout, func() { cancel(ErrTimeout) })
	r.sent = true
	hc := c.hc
	if r.fresh {
		hc = c.runHC
	}
	resp, err := hc.Do(req)
	c.observe(r.op, resp, err, start)
	stopped := timer.Stop()
	timedOut := !stopped && errors.Is(context.Cause(reqCtx), ErrTimeout)
	if err == nil && timedOut {
		// The headers came as the timer fired; the body's context is gone.
		_ = resp.Body.Close()
	}
	if err != nil || timedOut {
		cancel(nil)
		if timedOut && ctx.Err() == nil {
			return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Retryable: true, Err: ErrTimeout,
				Message: fmt.Sprintf("Looker sent no response within %s (the request timeout; raise it if queries take longer to start returning rows)", c.timeout)}
		}
		if rerr := (*redirectError)(nil); errors.As(err, &rerr) {
			return nil, rerr.apiError(r, c.base)
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL holds nothing secret, but the path is already in the Error
		}
		return nil, tlsError(transportError(ctx, r.op, r.method, r.fullPath(), "sending the request", err), c.base)
	}
	c.log.Debug("looker response",
		zap.String("op", r.op), zap.String("method", r.method), zap.String("path", r.fullPath()),
		zap.Int("status", resp.StatusCode), zap.Duration("header_wait", c.clock.Now().Sub(start)))
	resp.Body = &streamBody{rc: resp.Body, cancel: cancel, ctx: ctx, reqCtx: reqCtx, clock: c.clock, idle: c.readIdle,
		op: r.op, method: r.method, path: r.fullPath(), source: r.source}
	return resp, nil
}

// responseError turns a non-2xx response into an *Error and closes its
// body. tok is redacted from the message should a proxy echo it.
func (c *Client) responseError(r *request, resp *http.Response, tok string) *Error {
	raw := readErrorBody(resp.Body)
	_ = resp.Body.Close()
	msg, doc := parseErrorBody(raw)
	e := &Error{
		Source: r.source, Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: resp.StatusCode,
		Message: c.redact(msg, tok), DocumentationURL: c.redact(doc, tok),
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()),
	}
	return e
}

func (c *Client) redact(s, tok string) string {
	if tok != "" {
		s = strings.ReplaceAll(s, tok, "<redacted>")
	}
	if c.secret != "" {
		s = strings.ReplaceAll(s, c.secret, "<redacted>")
	}
	return s
}

// ---- token management ----

// session returns the session of identity as, creating it.
func (c *Client) session(as string) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &Error{Op: "login", Message: "the Looker client was used after Close", Err: ErrClosed}
	}
	s, ok := c.sessions[as]
	if !ok {
		s = &session{user: as, loginSem: make(chan struct{}, 1)}
		c.sessions[as] = s
	}
	return s, nil
}

// token returns a token of identity as that is valid for a while, logging
// in when there is none or it is close to expiry. Only one login per
// identity runs at a time; callers that wait for it reuse its token.
func (c *Client) token(ctx context.Context, as string) (string, error) {
	s, err := c.session(as)
	if err != nil {
		return "", err
	}
	if tok, err := c.currentToken(s); tok != "" || err != nil {
		return tok, err
	}
	select {
	case s.loginSem <- struct{}{}:
	case <-ctx.Done():
		return "", transportError(ctx, "login", http.MethodPost, "/api/4.0/login", "waiting for a login in progress", ctx.Err())
	}
	defer func() { <-s.loginSem }()
	if tok, err := c.currentToken(s); tok != "" || err != nil {
		return tok, err // logged in by the call we waited for
	}
	var tok string
	var ttl time.Duration
	if as == "" {
		tok, ttl, err = c.login(ctx)
	} else {
		tok, ttl, err = c.loginUser(ctx, as)
	}
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		c.log.Info("looker sent a token without a lifetime (expires_in <= 0); renewing it like a short-lived one",
			zap.Bool("sudo", as != ""), zap.Duration("assumed_lifetime", shortTokenTTL))
		ttl = shortTokenTTL
	}
	margin := min(ttl/10, maxRenewMargin)
	c.mu.Lock()
	if c.closed {
		// Close ran while we logged in: give the token back.
		c.mu.Unlock()
		_ = c.logout(context.WithoutCancel(ctx), &request{op: "logout", method: http.MethodDelete, path: "/logout"}, tok)
		return "", &Error{Op: "login", Message: "the Looker client was used after Close", Err: ErrClosed}
	}
	replaced := s.tok // a live token due for renewal; "" after a 401
	s.tok = tok
	s.renewAt = c.clock.Now().Add(ttl - margin)
	c.mu.Unlock()
	if replaced != "" && replaced != tok {
		c.logoutReplaced(ctx, replaced)
	}
	return tok, nil
}

// currentToken returns the token of s if it is not due for renewal.
func (c *Client) currentToken(s *session) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", &Error{Op: "login", Message: "the Looker client was used after Close", Err: ErrClosed}
	}
	if s.tok != "" && c.clock.Now().Before(s.renewAt) {
		return s.tok, nil
	}
	return "", nil
}

// invalidate drops tok if it is still the token of identity as.
func (c *Client) invalidate(as, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[as]; ok && s.tok == tok {
		s.tok = ""
	}
}

// Login makes sure the client holds a valid token of the API user, logging
// in if needed. `exporter check` uses it to verify the credentials; other
// calls log in by themselves.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.token(ctx, "")
	return err
}

// LoginAs makes sure the client holds a valid token of Looker user userID
// (sudo: POST /login/{user_id} with the API user's token, which must be an
// admin's). Runs with RunOptions.RunAs log in by themselves.
func (c *Client) LoginAs(ctx context.Context, userID string) error {
	if userID == "" {
		return &Error{Op: "login_user", Message: "the user id to run as is empty"}
	}
	_, err := c.token(ctx, userID)
	return err
}

// loginUser gets a token acting as userID: POST /login/{user_id}, sent
// with the API user's token (through do, so a 401 re-logs the API user in
// and a 429 waits like any call).
func (c *Client) loginUser(ctx context.Context, userID string) (string, time.Duration, error) {
	r := &request{op: "login_user", method: http.MethodPost, path: "/login/" + url.PathEscape(userID)}
	resp, err := c.do(ctx, r)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			switch e.StatusCode {
			case http.StatusNotFound:
				e.Message = fmt.Sprintf("there is no Looker user %s to run as (%s); run_as takes a user id (Admin > Users)", userID, nonEmpty(e.Message, "Not found"))
			case http.StatusForbidden:
				e.Message = fmt.Sprintf("the API user may not run as user %s (%s); run_as needs an admin's API key (on Looker (Google Cloud core), only for Embed users)", userID, nonEmpty(e.Message, "Permission Denied"))
			}
		}
		return "", 0, err
	}
	defer resp.Body.Close()
	at, err := c.readToken(ctx, r, resp)
	if err != nil {
		return "", 0, err
	}
	c.log.Info("logged in to looker as user", zap.String("user_id", userID), zap.Int64("expires_in_s", at.ExpiresIn))
	return at.AccessToken, time.Duration(max(at.ExpiresIn, 0)) * time.Second, nil
}

// accessToken is Looker's AccessToken.
type accessToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// login posts the client id and secret as a form body (never as query
// parameters, which would end up in access logs).
func (c *Client) login(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"client_id": {c.id}, "client_secret": {c.secret}}
	r := &request{op: "login", method: http.MethodPost, path: "/login", body: []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded"}
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		var err error
		if resp, err = c.send(ctx, r, ""); err != nil {
			return "", 0, err
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		e := c.responseError(r, resp, "")
		wait := backoff(attempt, e.RetryAfter)
		if attempt >= c.maxAttempts || wait > MaxRetryWait {
			return "", 0, e
		}
		c.log.Info("looker busy, sending again", zap.String("op", r.op), zap.Int("status", e.StatusCode),
			zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Duration("retry_after", e.RetryAfter))
		if err := c.sleep(ctx, wait); err != nil {
			return "", 0, transportError(ctx, r.op, r.method, r.fullPath(), "waiting to log in again after "+strconv.Itoa(e.StatusCode), err)
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := c.responseError(r, resp, "")
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			// A host that is not Looker answers 404 too: ask GET /versions
			// which of the two it is.
			e = c.explainLogin(ctx, e)
		}
		return "", 0, e
	}
	at, err := c.readToken(ctx, r, resp)
	if e := (*Error)(nil); errors.As(err, &e) && ctx.Err() == nil {
		return "", 0, c.explainLogin(ctx, e) // a body that is not an AccessToken: is this Looker?
	}
	if err != nil {
		return "", 0, err
	}
	ttl := time.Duration(max(at.ExpiresIn, 0)) * time.Second
	c.log.Info("logged in to looker", zap.Int64("expires_in_s", at.ExpiresIn))
	return at.AccessToken, ttl, nil
}

// readToken decodes an AccessToken answer.
func (c *Client) readToken(ctx context.Context, r *request, resp *http.Response) (*accessToken, error) {
	var at accessToken
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&at); err != nil {
		return nil, transportError(ctx, r.op, r.method, r.fullPath(), "decoding the login response", err)
	}
	if at.AccessToken == "" {
		return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: resp.StatusCode,
			Message: "the login response has no access_token; is the base URL a Looker instance?"}
	}
	return &at, nil
}

// Close logs out every token it holds (the API user's and those of run_as
// users). Later calls fail with ErrClosed. Calling Close again does
// nothing.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var toks []string
	// Sudo tokens first: logging out the API user may end them too.
	for as, s := range c.sessions {
		if s.tok != "" && as != "" {
			toks = append(toks, s.tok)
		}
	}
	if s, ok := c.sessions[""]; ok && s.tok != "" {
		toks = append(toks, s.tok)
	}
	for _, s := range c.sessions {
		s.tok = ""
	}
	c.mu.Unlock()
	var errs []error
	for _, tok := range toks {
		errs = append(errs, c.logout(ctx, &request{op: "logout", method: http.MethodDelete, path: "/logout"}, tok))
	}
	return errors.Join(errs...)
}

// logout revokes tok: DELETE /logout.
func (c *Client) logout(ctx context.Context, r *request, tok string) error {
	resp, err := c.send(ctx, r, tok)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// The token had already expired: nothing left to revoke.
		c.log.Debug("token already expired at logout")
		return nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return c.responseError(r, resp, tok)
	}
	c.log.Info("logged out of looker")
	return nil
}

// ---- run slots: see slots.go ----

// releasingBody gives the run slot back at the end of the body, or when
// the body is closed. release may be called more than once.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
