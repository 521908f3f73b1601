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
// bodies included: Close revokes the token they were fetched with).
//
// The Client does not retry, apart from logging in again once when Looker
// answers 401; callers retry whole runs on errors IsRetryable reports.
type Client struct {
	api     string // base URL + "/api/4.0"
	id      string
	secret  string
	timeout time.Duration
	hc      *http.Client
	clock   Clock
	log     *zap.Logger

	loginSem chan struct{} // holds one value while a login is in flight

	mu      sync.Mutex
	tok     string
	renewAt time.Time
	closed  bool
}

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
	c := &Client{
		api:      base + "/api/4.0",
		id:       cfg.ClientID,
		secret:   cfg.ClientSecret,
		timeout:  cfg.Timeout,
		clock:    realClock{},
		log:      log,
		loginSem: make(chan struct{}, 1),
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if !cfg.VerifySSL {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user turned verification off
			if strings.HasPrefix(base, "https:") {
				log.Warn("tls certificate verification is off", zap.String("base_url", base))
			}
		}
		c.hc = &http.Client{Transport: tr}
	}
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
}

func (r *request) fullPath() string { return "/api/4.0" + r.path }

// do sends r with the current token, logs in again and resends once on a
// 401, and turns any non-2xx answer into an *Error. The caller closes the
// body of the returned response.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, r, tok)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
			c.invalidate(tok)
			c.log.Info("token rejected, logging in again", zap.String("op", r.op))
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, c.responseError(r, resp, tok)
		}
		return resp, nil
	}
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
	resp, err := c.hc.Do(req)
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
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL holds nothing secret, but the path is already in the Error
		}
		return nil, transportError(ctx, r.op, r.method, r.fullPath(), "sending the request", err)
	}
	c.log.Debug("looker response",
		zap.String("op", r.op), zap.String("method", r.method), zap.String("path", r.fullPath()),
		zap.Int("status", resp.StatusCode), zap.Duration("header_wait", c.clock.Now().Sub(start)))
	resp.Body = &streamBody{rc: resp.Body, cancel: cancel, ctx: ctx, op: r.op, method: r.method, path: r.fullPath()}
	return resp, nil
}

// streamBody is a response body that releases its request context on Close and
// turns read failures into retryable *Error values (an unexpected EOF
// mid-body is not a clean end).
type streamBody struct {
	rc     io.ReadCloser
	cancel context.CancelCauseFunc
	ctx    context.Context
	op     string
	method string
	path   string
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		var e *Error
		if !errors.As(err, &e) {
			err = transportError(b.ctx, b.op, b.method, b.path, "reading the response body", err)
		}
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// responseError turns a non-2xx response into an *Error and closes its
// body. tok is redacted from the message should a proxy echo it.
func (c *Client) responseError(r *request, resp *http.Response, tok string) *Error {
	raw := readErrorBody(resp.Body)
	_ = resp.Body.Close()
	msg, doc := parseErrorBody(raw)
	e := &Error{
		Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: resp.StatusCode,
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

// token returns a token valid for a while, logging in when there is none
// or it is close to expiry. Only one login runs at a time; callers that
// wait for it reuse its token.
func (c *Client) token(ctx context.Context) (string, error) {
	if tok, err := c.currentToken(); tok != "" || err != nil {
		return tok, err
	}
	select {
	case c.loginSem <- struct{}{}:
	case <-ctx.Done():
		return "", transportError(ctx, "login", http.MethodPost, "/api/4.0/login", "waiting for a login in progress", ctx.Err())
	}
	defer func() { <-c.loginSem }()
	if tok, err := c.currentToken(); tok != "" || err != nil {
		return tok, err // logged in by the call we waited for
	}
	tok, ttl, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	margin := min(ttl/10, maxRenewMargin)
	c.mu.Lock()
	c.tok = tok
	c.renewAt = c.clock.Now().Add(ttl - margin)
	c.mu.Unlock()
	return tok, nil
}

// currentToken returns the held token if it is not due for renewal.
func (c *Client) currentToken() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", &Error{Op: "login", Message: "the Looker client was used after Close", Err: ErrClosed}
	}
	if c.tok != "" && c.clock.Now().Before(c.renewAt) {
		return c.tok, nil
	}
	return "", nil
}

// invalidate drops tok if it is still the held token.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = ""
	}
}

// Login makes sure the client holds a valid token, logging in if needed.
// `exporter check` uses it to verify the credentials; other calls log in
// by themselves.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.token(ctx)
	return err
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
	resp, err := c.send(ctx, r, "")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := c.responseError(r, resp, "")
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			e = credentialsError(e)
		}
		return "", 0, e
	}
	var at accessToken
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&at); err != nil {
		return "", 0, transportError(ctx, r.op, r.method, r.fullPath(), "decoding the login response", err)
	}
	if at.AccessToken == "" {
		return "", 0, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: resp.StatusCode,
			Message: "the login response has no access_token; is the base URL a Looker instance?"}
	}
	ttl := time.Duration(max(at.ExpiresIn, 0)) * time.Second
	c.log.Info("logged in to looker", zap.Int64("expires_in_s", at.ExpiresIn))
	return at.AccessToken, ttl, nil
}

// Close logs out (revoking the token) if logged in. Later calls fail with
// ErrClosed. Calling Close again does nothing.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	tok := c.tok
	c.tok = ""
	c.mu.Unlock()
	if tok == "" {
		return nil
	}
	r := &request{op: "logout", method: http.MethodDelete, path: "/logout"}
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
