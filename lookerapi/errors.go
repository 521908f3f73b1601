package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors, found with errors.Is through an *Error.
var (
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("client is closed")
	// ErrTimeout means Looker sent no response headers within Config.Timeout.
	ErrTimeout = errors.New("no response headers before the request timeout")
	// ErrBadCredentials means Looker rejected the client id/secret at login.
	ErrBadCredentials = errors.New("client id/secret rejected")
	// ErrQueryFailed means a query task ended with status "error" or
	// "failure" (a SQL or database error), or reported a status the
	// client does not know. Permanent.
	ErrQueryFailed = errors.New("the query failed")
	// ErrQueryKilled means a query task ended with status "killed":
	// someone stopped it in Looker (Admin > Queries). Permanent, so a run
	// an admin killed is not started again behind their back.
	ErrQueryKilled = errors.New("the query was killed in Looker")
	// ErrResultsExpired means a query task's results expired before they
	// were fetched (status "expired", or 404 from the results endpoint).
	// Retryable: a new run runs the query again.
	ErrResultsExpired = errors.New("the query results expired")
)

// Error is a failed Looker API call.
//
// Retryable is decided once, here: 408, 429, 5xx, request timeouts and
// connection failures (before or during the body) are retryable; other
// 4xx, bad credentials and a cancelled context are not.
type Error struct {
	Source           string // what was being run, e.g. "look 42"; "" for calls outside a run
	Op               string // API operation, e.g. "run_look"
	Method           string // HTTP method
	Path             string // request path without the query string, e.g. "/api/4.0/looks/42/run/csv"
	StatusCode       int    // HTTP status; 0 when no response was received
	Message          string // Looker's message, or a short snippet of a non-JSON body
	DocumentationURL string // Looker's documentation_url, when given
	Retryable        bool
	RetryAfter       time.Duration // from a Retry-After header; 0 when absent
	Err              error         // underlying cause, if any

	explained bool // Message states the cause and the status in full: Error prints it alone
}

// Error reads cause first, then where, so a view that truncates it (the
// status page, history, a Slack message) still shows what went wrong:
// "404 Not found: look 42 was not found, or the Looker user running it (the
// API user, or run_as) has no permission to it (folder access, model set);
// look 42: run_look GET /api/4.0/looks/42/run/csv (https://…)".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.explained:
		b.WriteString(e.Message)
	case e.StatusCode != 0:
		msg := e.Message
		if msg == "" {
			msg = http.StatusText(e.StatusCode)
		}
		b.WriteString(strconv.Itoa(e.StatusCode) + " " + msg)
		if e.StatusCode == http.StatusNotFound && e.Source != "" && e.Err == nil {
			b.WriteString(": " + e.Source + " was not found, or the Looker user running it (the API user, or run_as) has no permission to it (folder access, model set)")
		}
	case e.Message != "" && e.Err != nil:
		b.WriteString(e.Message + ": " + e.Err.Error())
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	b.WriteString("; ")
	if e.Source != "" {
		b.WriteString(e.Source + ": ")
	}
	b.WriteString(e.Op)
	if e.Method != "" {
		b.WriteString(" " + e.Method)
	}
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	if e.DocumentationURL != "" {
		b.WriteString(" (" + e.DocumentationURL + ")")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is, or wraps, an *Error marked retryable.
// Errors of any other type are not retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// RetryAfter returns the Retry-After delay carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// retryableStatus reports whether a retry could help after status.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// lookerError is Looker's Error / ValidationError body.
type lookerError struct {
	Message          *string `json:"message"`
	DocumentationURL *string `json:"documentation_url"`
	Errors           []struct {
		Field   *string `json:"field"`
		Code    *string `json:"code"`
		Message *string `json:"message"`
	} `json:"errors"`
}

const maxErrorBody = 64 << 10

// parseErrorBody extracts the message and documentation URL from an error
// response body: Looker's JSON, or a snippet of HTML or plain text.
func parseErrorBody(body []byte) (msg, doc string) {
	trimmed := strings.TrimSpace(string(body))
	var le lookerError
	if strings.HasPrefix(trimmed, "{") && json.Unmarshal(body, &le) == nil && (le.Message != nil || le.DocumentationURL != nil) {
		if le.Message != nil {
			msg = *le.Message
		}
		if le.DocumentationURL != nil {
			doc = *le.DocumentationURL
		}
		var details []string
		for _, d := range le.Errors {
			var parts []string
			if d.Field != nil && *d.Field != "" {
				parts = append(parts, *d.Field)
			}
			if d.Message != nil && *d.Message != "" {
				parts = append(parts, *d.Message)
			} else if d.Code != nil && *d.Code != "" {
				parts = append(parts, *d.Code)
			}
			if len(parts) > 0 {
				details = append(details, strings.Join(parts, ": "))
			}
		}
		if len(details) > 0 {
			msg += " (" + strings.Join(details, "; ") + ")"
		}
		return msg, doc
	}
	return snippet(trimmed), ""
}

// snippet turns an HTML or text body into one short line.
func snippet(s string) string {
	if strings.Contains(s, "<") {
		s = stripTags(s)
	}
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	const maxLen = 200
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// transportError classifies a failure to get a response (or to read the
// body): the caller cancelling is permanent, anything else (connection
// refused or reset, timeouts, unexpected EOF) is retryable.
func transportError(ctx context.Context, op, method, path, what string, err error) *Error {
	e := &Error{Op: op, Method: method, Path: path, Message: what, Err: err, Retryable: true}
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.Err = ctxErr
		e.Retryable = errors.Is(ctxErr, context.DeadlineExceeded)
	}
	return e
}

// readErrorBody reads at most maxErrorBody bytes of an error response.
func readErrorBody(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	return b
}

func credentialsError(e *Error) *Error {
	e.Message = fmt.Sprintf("Looker refused the client id/secret (%d %s from POST /login): check LOOKERSDK_CLIENT_ID and LOOKERSDK_CLIENT_SECRET "+
		"(looker.client_id/client_secret), and that the API key is enabled (Admin > Users > Edit Keys)",
		e.StatusCode, nonEmpty(e.Message, http.StatusText(e.StatusCode)))
	e.Retryable, e.explained = false, true
	e.Err = ErrBadCredentials
	return e
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
