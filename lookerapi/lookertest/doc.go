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
//     them all. See Server.Rows.
//   - Errors are Looker JSON bodies {"message","documentation_url"} with
//     documentation URLs of the form
//     https://cloud.google.com/looker/docs/r/err/4.0/<status>/<method>/<path template>.
//
// Not modelled: sorting (rows come in orders.id order), aggregation
// (measures are per-row synthetic values), filter expressions (only a plain
// value on a string dimension filters rows; other filters are accepted and
// ignored), pivots (400), apply_formatting and the other run switches
// (accepted and ignored), async query tasks and render tasks.
//
// Tests steer the server at run time: SetTokenTTL, ExpireTokens, FailNext
// (fail requests with a status, optionally with Retry-After; 5xx carry an
// HTML body like a proxy's), DropNextRun (close the connection after K
// rows), StallNextRun (hold the response until a channel is closed), and
// read counters (Logins, Logouts, Requests). Value and Fields let a test
// check an export value by value.
package lookertest
