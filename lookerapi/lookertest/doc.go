// Package lookertest is an in-process, Looker-compatible API 4.0 server for
// tests and for `exporter demo`.
//
// It is a model of Looker written from Looker's documentation and the
// official spec (Looker.4.0.oas.json; summary with sources in
// /work/shared/looker/NOTES.md), never from the exporter's client: it does
// not import package lookerapi, has its own Query type (the spec's Query
// schema) and its own streamability rules. Each behaviour's comment names
// its source; [inf] marks what no document states.
//
// It serves a sample model "thelook" with one explore "orders" (views
// orders, users and products) whose rows are computed from the row index,
// so nothing is stored and a run of millions of rows costs no memory.
//
// # What is modelled
//
//   - Authentication (spec login, login_user, logout; NOTES §1): form or
//     query credentials (grant_type ignored), wrong ones → 404; sudo tokens
//     for users "1".."100"; "token X" and "Bearer X"; missing, unknown or
//     expired tokens → 401 "Requires authentication." (undeclared in the
//     spec). SetTokenTTL may report expires_in 0 or negative; such tokens
//     stay valid for an hour [inf].
//   - API versions (spec versions, GET /versions, schema ApiVersion),
//     answered without a token as Looker does: 4.0 current, 3.1
//     deprecated. The client asks it after a refused login.
//   - Looks, saved queries and slugs (look, query, query_for_slug,
//     create_query: identical bodies give the same id), SaveLook and
//     SaveQuery for tests; the run endpoints run_look, run_query,
//     run_inline_query, run_url_encoded_query.
//   - SQL Runner (create_sql_query, sql_query, run_sql_query): the SQL is
//     not parsed except for a trailing "LIMIT n"; every dimension comes
//     back as a column named like SQL would.
//   - Formats csv (label header, RFC 4180), txt, json (keyed by view.field,
//     numbers as JSON numbers), json_label, json_bi (spec JsonBi) and sql.
//     Others answer Options.UnknownFormatStatus.
//   - Time zones (https://cloud.google.com/looker/docs/using-time-zone-settings;
//     NOTES §13.1): datetime values carry no offset and are rendered in the
//     query's zone: query_timezone; else, with Options.UserTimezones, the
//     running user's zone (SetUserTimezone; else the application zone);
//     else Options.ZoneFallback (application zone, or the connection's
//     query_timezone: the docs we could read do not settle which). A
//     convert_tz: no field (orders.created_local_time) is never converted;
//     SQL Runner never converts (values as stored: UTC). Date filters
//     ("2024-01-01", "a to b") on converted time fields are read in the
//     query zone. ValueIn and Instant give expected values. Served:
//     GET /setting (timezone, allow_user_timezones; 403 with
//     Options.SettingForbidden), GET /user, GET /users/{id}/attribute_values
//     (attribute "timezone": the spec's User has no time zone property),
//     GET /connections/warehouse (dialect.supports_streaming,
//     query_timezone), and the explore's connection_name and per-field
//     convert_tz.
//   - Row limits (NOTES §9, §13.7): the run's limit overrides the saved
//     limit; none at all means DefaultRowCap (5,000); -1 returns every row
//     of a result that streams. A result Looker cannot stream (table
//     calculations, totals, row totals, subtotals [inf], running_total /
//     percent_of_total / percent_of_previous measures, pivots the dialect
//     cannot do, a dialect without streaming) is capped at
//     Options.NonStreamingCap (5,000 by default; the cap for API runs is
//     not documented [inf]).
//   - Query tasks (create_query_task, query_task, query_task_results;
//     NOTES §5, §13.3–4): statuses move one script step per poll
//     (ScriptNextTask, any string allowed); results answer 202 while not
//     finished (or 204 with Options.NotReadyStatus), 400 after "error" or
//     "failure", 404 after "expired" or "killed".
//   - Running queries (all_running_queries, kill_query; NOTES §5.5,
//     §13.5): sync runs and unfinished tasks are listed (RunningQueries
//     schema, status "running", each with a query_task_id) and killable; a
//     killed task ends "killed", a killed sync run's connection is cut
//     [inf]. A stalled sync run whose client leaves keeps running until
//     released or killed ("Looker does not timeout queries once they have
//     been sent to the database").
//   - Per-user concurrency (NOTES §9, §13.6): at most
//     Options.PerUserQueryLimit (15) queries run per user; more queue and
//     are dropped after Options.QueueTimeout (600 s) with a 503 whose shape
//     is ours [inf]. Tasks count as running but are never queued.
//   - Errors in a 200 (NOTES §13.2): InBandErrorNextRun (json rows as
//     reported by users; json_bi rows; csv/txt, object and text shapes are
//     undocumented [inf]); HTMLNextRun (an SSO proxy's sign-in page).
//   - Pivots in json, json_bi (metadata.pivots, fields.pivots per spec) and
//     csv/txt, on dimensions with few values; the json value and csv header
//     shapes are undocumented (see pivotPlan).
//   - apply_formatting=true: numbers rendered with their value_format
//     ("#,##0.00" → "1,234.50"; only decimals and thousands modelled),
//     sent as strings.
//   - Filters (filters.go; https://cloud.google.com/looker/docs/filter-expressions):
//     strings (lists, %/_ wildcards, -negation, NULL, EMPTY, ^ escapes),
//     numbers (lists, comparisons, AND, "a to b", intervals, NOT, NULL),
//     yesno, and dates and times (a day, month or year; "after X",
//     "before X", "X to Y"; today, yesterday, "N days" / "last N days"
//     (Options.RelativeDatesComplete for the complete-days reading),
//     "N days ago", this/last week|month|year) read in the query zone
//     against Options.Now; and filter_expression comparisons
//     (${view.field} op literal, AND or OR, is_null;
//     https://cloud.google.com/looker/docs/custom-filters). Other forms
//     answer 400. filter_config is kept
//     and served back; with Options.FilterConfigWins it overrides filters
//     (spec Query.filter_config). RequestLog keeps every request with
//     its body, so a test can read the query a client created.
//   - Dashboards (dashboard, merge_query; dashboards.go): DashboardID and
//     the LookML LookMLDashboardID ("model::name") with three data tiles
//     (a query tile, a Look tile, a query tile without result_maker), a
//     text tile and a merged-result tile (MergeQueryID: two source
//     queries joined on orders.id), filters with defaults, and listening
//     tiles (result_maker.filterables[].listen). Looker's API has no
//     operation that runs a dashboard or a merge query.
//     Options.Dashboards switches the undocumented shapes: a query in a
//     merge tile's result_maker, merge sources named by slug only,
//     filterables not named like the merge's sources, and absent
//     objects sent as null.
//   - Render tasks (create_look_render_task, create_query_render_task,
//     create_dashboard_render_task, render_task, render_task_results;
//     NOTES §6, §13.10; renders.go): statuses enqueued_for_query →
//     querying → enqueued_for_render → rendering → success, one per poll
//     (ScriptNextRender for failure, with RenderFailureDetail as
//     status_detail, or any other status); results answer 202 with an
//     empty body and Retry-After until done (Options.RenderRetryAfter,
//     Options.RenderResultsLag); then a one-page PDF (paper size,
//     landscape, the dashboard_filters printed on it), a PNG or a JPEG of
//     the requested size.
//   - Datagroups (all_datagroups; NOTES §13.11; datagroups.go): thelook's
//     "orders_etl", which AdvanceDatagroup fires (triggered_at,
//     stale_before and trigger_check_at move, in unix seconds), and
//     "daily_rollup", never triggered (nulls) with a trigger_error.
//   - The explore (lookml_model_explore): every field's LookML type,
//     category, labels, value_format, convert_tz.
//   - Errors are Looker JSON bodies {"message","documentation_url"} with
//     documentation URLs of the form
//     https://cloud.google.com/looker/docs/r/err/4.0/<status>/<method>/<path template>.
//
// # What is not modelled
//
// Sorting (rows come in orders.id order), aggregation (measures are
// per-row synthetic values, pivoted measures null outside their row's
// pivot), custom filters (filter_expression) beyond comparisons of a
// field with a literal joined by AND or OR and is_null (others answer
// 400), table calculations other than ${view.field} * number, the per-connection
// queue (75 queries, 120 s), queueing of query tasks, value formats beyond
// decimals and thousands, json_detail and the other formats, the content
// of rendered documents (a title and the filters only), scheduled plans,
// and the other run switches (accepted and ignored).
//
// # Steering it from tests
//
// SetTokenTTL, ExpireTokens, FailNext (a status, optionally Retry-After;
// 5xx carry an HTML body like a proxy's), RedirectNext, DropNextRun (close
// the connection after K rows), StallNextRun (hold before or after the
// headers), TrickleNextRun (one row per tick), InBandErrorNextRun,
// HTMLNextRun, ScriptNextTask, ScriptNextRender, AdvanceDatagroup,
// SetUserTimezone, SaveLook, SaveQuery; and RequestLog (every request
// with its body) and counters: Logins, UserLogins, Logouts, Tokens,
// Requests, LastQuery, LastUser, Killed, TaskStatus, RunningQueries,
// MaxRunningQueries, RenderTasks. Options.Now drives token expiry, the
// queue timeout and relative date filters. Value, ValueIn,
// Instant, Rows and Fields let a test check an export value by value.
// Response shapes are checked against the spec by the lookerapi contract
// test and by this package's TestNewEndpointsMatchSpec.
package lookertest
