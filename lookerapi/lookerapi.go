// Package lookerapi is a streaming client for the Looker API 4.0.
//
// It runs Looks, saved queries (by id or slug), inline queries and SQL
// Runner queries, in one streaming request (ModeSync) or as query tasks
// (ModeAsync, killed in Looker when the run is cancelled), optionally as
// another Looker user (RunOptions.RunAs), and hands back the result body as
// a stream. It manages its own tokens: it logs in with
// client_id/client_secret, logs in again before a token expires (a token
// without a lifetime counts as a 60 s one), logs out each token a renewal
// replaces, re-logs in once and retries on a 401, and logs every token out
// on Close. It sends a call again on 429/503 (bounded, honouring
// Retry-After), bounds the runs in flight per Looker user (QuerySlots),
// and resolves sources without running them (Resolve: a Look's query,
// field types, whether the result streams). Errors are *Error values that
// say whether a retry could help.
//
// A run that stops leaves nothing running in Looker: a query task is
// killed, and a sync run that ends early (cancel, header timeout,
// read-idle timeout, body closed before its end) is found in
// GET /running_queries and killed; a timed-out request is never sent
// again by the Client. Redirects to another scheme, host or port than
// the base URL are refused (ErrRedirect).
//
// What a result means is part of the contract (NOTES §13): every run knows
// the time zone Looker rendered its zone-less datetimes in
// (Result.Timezone; see Run), every result body is checked for Looker's
// in-band errors as it is read (ErrInBandError), and the limits that
// applied are reported (Result.SavedLimit, Result.AppliedLimit). Resolve
// and ResolveRun find a source's query, field types, time zone, saved
// limit and whether it streams, without running it.
//
// Looks and saved queries run with a job's filters through a derived
// query (Derive, RunOptions.Filters). Dashboards (Dashboard, TileQueries,
// RunTile) run tile by tile with the dashboard filters each tile listens
// to; merged-result tiles are merged by the client, since Looker's API
// cannot run a merge query. Render renders dashboards, Looks and queries
// to PDF, PNG or JPEG through render tasks; Datagroups reads when each
// datagroup last triggered.
//
// lookerapi/lookertest is an in-process Looker-compatible server used by the
// tests and by `exporter demo`.
package lookerapi

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
)

// Config configures a Client.
type Config struct {
	BaseURL      string        // e.g. https://example.cloud.looker.com; the API root is BaseURL + "/api/4.0"
	ClientID     string        // API3 client id
	ClientSecret string        // API3 client secret; never logged or put in errors
	Timeout      time.Duration // per request, up to the response headers; 0 means 120s
	// ReadIdleTimeout fails a response body that delivers no bytes for
	// this long while it is being read (a retryable *Error wrapping
	// ErrReadIdle; a sync run's query is killed). 0 means
	// DefaultReadIdleTimeout.
	ReadIdleTimeout time.Duration
	VerifySSL       bool // verify TLS certificates (true unless the user turned it off)
	// CAFile is a PEM bundle of certificate authorities trusted besides
	// the system's, for a Looker host behind a private CA.
	CAFile string
	// MaxConcurrentQueries bounds the runs (sync runs and query tasks)
	// in flight at once per Looker user (the API user, and each run_as
	// user apart), through the Client's QuerySlots (WithQuerySlots; by
	// default per process); further runs wait until a slot frees or their
	// ctx ends. 0 means DefaultMaxConcurrentQueries, below Looker's 15
	// queries per user.
	MaxConcurrentQueries int
	// MaxAttempts bounds how often one API call is sent when Looker answers
	// 429 or 503 before any body was read (see Client). 0 means
	// DefaultMaxAttempts; 1 turns these retries off.
	MaxAttempts int
}

// Defaults for Config.
const (
	DefaultMaxConcurrentQueries = 10
	DefaultMaxAttempts          = 3
	DefaultReadIdleTimeout      = 5 * time.Minute
)

// Query is an inline query (the Query schema of the API, writable part).
type Query struct {
	Model            string            `json:"model" yaml:"model"`
	View             string            `json:"view" yaml:"view"`
	Fields           []string          `json:"fields,omitempty" yaml:"fields"`
	Pivots           []string          `json:"pivots,omitempty" yaml:"pivots"`
	FillFields       []string          `json:"fill_fields,omitempty" yaml:"fill_fields"`
	Filters          map[string]string `json:"filters,omitempty" yaml:"filters"`
	FilterExpression string            `json:"filter_expression,omitempty" yaml:"filter_expression"`
	Sorts            []string          `json:"sorts,omitempty" yaml:"sorts"`
	Limit            string            `json:"limit,omitempty" yaml:"limit"`
	ColumnLimit      string            `json:"column_limit,omitempty" yaml:"column_limit"`
	Total            bool              `json:"total,omitempty" yaml:"total"`
	RowTotal         string            `json:"row_total,omitempty" yaml:"row_total"`
	Subtotals        []string          `json:"subtotals,omitempty" yaml:"subtotals"`
	DynamicFields    string            `json:"dynamic_fields,omitempty" yaml:"dynamic_fields"`
	QueryTimezone    string            `json:"query_timezone,omitempty" yaml:"query_timezone"`
}

// SQLQuery is a SQL Runner query: either an existing one by Slug, or SQL
// text run on a connection (or a model's connection).
type SQLQuery struct {
	Slug       string `json:"slug,omitempty" yaml:"slug"`
	Connection string `json:"connection_name,omitempty" yaml:"connection"`
	Model      string `json:"model_name,omitempty" yaml:"model"`
	SQL        string `json:"sql,omitempty" yaml:"sql"`
}

// Source is what to run. Exactly one field is set. Run runs every kind
// but DashboardID: a dashboard runs tile by tile (Dashboard, TileQueries,
// RunTile) or renders (Render); it is here so that a job's source names
// it like the others.
type Source struct {
	LookID      string
	QueryID     string
	QuerySlug   string
	Query       *Query
	SQL         *SQLQuery
	DashboardID string // a numeric id or a LookML dashboard's "model::name"
}

// String names the source for logs and errors, e.g. "look 42".
func (s Source) String() string {
	switch {
	case s.LookID != "":
		return "look " + s.LookID
	case s.QueryID != "":
		return "query " + s.QueryID
	case s.QuerySlug != "":
		return "query slug " + s.QuerySlug
	case s.Query != nil:
		return fmt.Sprintf("inline query %s/%s", s.Query.Model, s.Query.View)
	case s.SQL != nil && s.SQL.Slug != "":
		return "sql query " + s.SQL.Slug
	case s.DashboardID != "":
		return "dashboard " + s.DashboardID
	case s.SQL != nil:
		if s.SQL.Connection != "" {
			return "sql on connection " + s.SQL.Connection
		}
		return "sql on model " + s.SQL.Model
	}
	return "empty source"
}

// Mode says how a run is executed.
type Mode string

// Run modes.
const (
	// ModeSync runs the query in one request and streams the rows as Looker
	// produces them (GET /looks/{id}/run/{fmt} and friends). The default.
	ModeSync Mode = "sync"
	// ModeAsync runs the query as a query task: POST /query_tasks, poll
	// GET /query_tasks/{id} with backoff, then GET /query_tasks/{id}/results.
	// No connection is held open while the warehouse works, and a run that
	// is cancelled or times out kills the query in Looker. SQL Runner
	// sources always run sync (Looker has no SQL Runner query tasks).
	ModeAsync Mode = "async"
)

// RunOptions are the run parameters of a source. Nil booleans are not sent,
// so Looker's own default applies.
type RunOptions struct {
	ResultFormat string // "csv", "json", "json_bi", "xlsx", ...
	Limit        int64  // rows; -1 means all results; 0 means -1
	Mode         Mode   // "" means ModeSync
	RunAs        string // Looker user id to run as (sudo via POST /login/{user_id}); "" runs as the API user
	// Log is the run's logger: run-scoped lines (slot waits, kills,
	// re-polls) go there; nil means the Client's.
	Log *zap.Logger
	// OnSlotWait, when set, is called with true when the run starts
	// waiting for a query slot and with false when the wait ends (it got
	// one, or its ctx ended). Never called for a run that gets a slot at
	// once.
	OnSlotWait       func(waiting bool)
	ApplyFormatting  *bool
	ApplyVis         *bool
	Cache            *bool
	ForceProduction  *bool
	ServerTableCalcs *bool
	RebuildPDTs      *bool
	// QueryTimezone is the job's query_timezone: the IANA zone Looker
	// renders datetimes in. "" means not set: inline queries then run in
	// their own query_timezone or UTC, saved queries in theirs or Looker's
	// application zone (see Run and Result.Timezone).
	QueryTimezone string
	// Filters are the job's filters for a Look, saved query or slug:
	// Looker filter expressions by field, merged over the saved query's
	// (see Derive). Inline queries carry their own filters; SQL Runner
	// takes none.
	Filters map[string]string
	// FilterExpression, when set, replaces the saved query's custom
	// filter expression (Query.filter_expression).
	FilterExpression string
	// SavedLimit sends no limit, so the saved query's own limit applies
	// (job `limit: saved`). Limit must then be 0.
	SavedLimit bool
	// DecodesJSON says the caller parses a JSON result with
	// formats/lookerdec, which fails on a looker_error key at the top
	// level or in any row. The client then looks for one in the first
	// bytes only (with the Content-Type and HTML checks), not in every
	// byte: scanning the whole body a second time cost a quarter of the
	// CPU of a json_bi export.
	DecodesJSON bool
	// TypedCSV lets the run ask Looker for csv instead of ResultFormat
	// when the client knows every column of the csv for sure: its field,
	// its place (the header is checked against the fields' labels, in
	// the query's order) and its LookML type, from the query and its
	// explore. Then Result.Format is "csv" and Result.Fields lists the
	// columns. Looker's csv is about a third of the size of json_bi, which
	// repeats every field name in every row. Not for pivots, totals, table
	// calculations (their types are hints), apply_formatting or
	// apply_vis, SQL Runner, or an explore Looker does not let the client
	// read: those run ResultFormat.
	TypedCSV bool

	header []string // the csv/txt header the result must start with; set by Run
}

// Result is a running result. The caller must Close Body.
//
// Body is checked as it is read (see Run): when it turns out not to be
// the requested data, Read fails with a permanent *Error wrapping
// ErrInBandError and hands out nothing past the point of detection.
type Result struct {
	Body        io.ReadCloser
	ContentType string
	QueryID     string // the Looker query id that ran, when known
	// Timezone is the IANA zone Looker rendered datetimes in (they carry
	// no offset); "" for SQL Runner, which never converts. Fields listed
	// in LocalFields are not converted either.
	Timezone string
	// TimezoneSource says where Timezone comes from, e.g.
	// "query_timezone of look 42's query", "job query_timezone",
	// "application time zone (GET /setting)".
	TimezoneSource string
	SavedLimit     string // the saved query's limit; "" when it has none, or for inline and SQL Runner queries
	AppliedLimit   int64  // the limit sent; 0 when none was (the saved limit, or Looker's default, applied)
	// LocalFields are the fields declared convert_tz: no: wall-clock
	// values Looker does not convert to Timezone. Nil for SQL Runner.
	LocalFields []string
	// Format is the result format the run asked Looker for:
	// RunOptions.ResultFormat, or "csv" when RunOptions.TypedCSV chose it.
	Format string
	// Fields are the result's columns in the query's order, with their
	// LookML types, when the client knows them for sure from the query
	// and its explore: no pivots or totals, no table calculations, values
	// unformatted, no visualization applied. Nil otherwise (and always for SQL Runner and tiles of
	// merged results). A csv result RunOptions.TypedCSV chose has them.
	Fields []Field
}
