// Package lookertest is an in-process, Looker-compatible API 4.0 server for
// tests and for `exporter demo`.
//
// It serves a sample model "thelook" with one explore "orders" (views
// orders, users and products) whose rows are computed from the row index,
// so nothing is stored and a run of millions of rows costs no memory. The
// server implements what the exporter uses, with Looker's behaviour where
// it differs from the spec (see /work/shared/looker/NOTES.md):
//
//   - POST /login (form body or query parameters; grant_type ignored),
//     wrong credentials → 404; POST /login/{user_id} (admin token only);
//     DELETE /logout → 204 and revokes the token; a missing, unknown or
//     expired token → 401 "Requires authentication."; both
//     "Authorization: token X" and "Bearer X" are accepted.
//   - GET /looks/{id}, GET /looks/{id}/run/{fmt} (Look "42" runs query "123"),
//     GET /queries/{id}, GET /queries/slug/{slug} (query "123" has slug
//     "AbC123xyz"), POST /queries (identical bodies give the same id),
//     GET /queries/{id}/run/{fmt}, POST /queries/run/{fmt},
//     GET /queries/models/{m}/views/{v}/run/{fmt}.
//   - POST /sql_queries (connection_name "warehouse" or model_name
//     "thelook"), GET /sql_queries/{slug}, POST /sql_queries/{slug}/run/{fmt}.
//     SQL text is not parsed except for a trailing "LIMIT n"; a run returns
//     every dimension of the explore as columns named like SQL would
//     ("id", "created_date", "name", "email", "country", ...).
//   - Formats csv (label header, RFC 4180 quoting, "\n" line ends, nulls
//     empty), txt (tab separated, tabs and newlines in values become
//     spaces), json (array of objects keyed by view.field, numbers as JSON
//     numbers, nulls null), json_label (keyed by label), json_bi (metadata
//     first, then rows) and sql (the generated SQL). Other formats answer
//     Options.UnknownFormatStatus (400).
//   - Row counts follow Looker: a run without a limit parameter (and no
//     limit in the query) returns at most DefaultRowCap rows; -1 returns
//     them all. See Server.Rows. A query Looker cannot stream (table
//     calculations, pivots, totals, row totals, subtotals; see
//     lookerapi.Streams) is capped at DefaultRowCap rows whatever the limit:
//     Looker computes such results in memory, and downloads of "all
//     results" are refused for them (NOTES §9; the silent cap on the API is
//     our inference, to be checked against a real instance). Look
//     NonStreamingLookID (query NonStreamingQueryID) is such a Look: a table
//     calculation "amount_with_vat" = ${orders.amount} * 1.2, declared in
//     dynamic_fields, computed per row and listed under
//     metadata.fields.table_calculations in json_bi.
//   - Query tasks: POST /query_tasks (status "added"),
//     GET /query_tasks/{id} (the status moves one step of the task's
//     script per poll: see ScriptNextTask; by default complete at the first
//     poll), GET /query_tasks/{id}/results (202 while not finished, 400 with
//     TaskSQLError after "error", 404 after "expired" or "killed"),
//     DELETE /running_queries/{id} (204 and status "killed"; 404 when the
//     task already finished). Tasks belong to the user who created them.
//   - GET /lookml_models/thelook/explores/orders: the explore with every
//     field's LookML type, category and labels (LookmlModelExplore).
//   - Errors are Looker JSON bodies {"message","documentation_url"} with
//     documentation URLs of the form
//     https://cloud.google.com/looker/docs/r/err/4.0/<status>/<method>/<path template>.
//
// Not modelled: sorting (rows come in orders.id order), aggregation
// (measures are per-row synthetic values), filter expressions (only a plain
// value on a string dimension filters rows; other filters are accepted and
// ignored), pivots (400), table calculations other than
// ${view.field} * number (400), apply_formatting and the other run
// switches (accepted and ignored), render tasks.
//
// Tests steer the server at run time: SetTokenTTL, ExpireTokens, FailNext
// (fail requests with a status, optionally with Retry-After; 5xx carry an
// HTML body like a proxy's), DropNextRun (close the connection after K
// rows), StallNextRun (hold the response until a channel is closed: a slow
// first byte), ScriptNextTask (a query task that runs for n polls, ends
// error or expired, or runs until killed), and read counters (Logins,
// UserLogins, Logouts, Requests, LastQuery, LastUser, Killed, TaskStatus).
// Options.Now with SetTokenTTL expires tokens after N seconds of the test's
// clock. Value and Fields let a test check an export value by value. Every
// response shape is checked against Looker's OpenAPI spec by the lookerapi
// contract test.
package lookertest
