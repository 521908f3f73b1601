// Package postgres is the state.Store for several exporter replicas sharing
// one PostgreSQL database (github.com/jackc/pgx/v5, pooled).
//
// # Storage
//
// Open applies versioned schema migrations (table schema_migrations) in one
// transaction guarded by pg_advisory_xact_lock, so replicas starting together
// migrate once and re-opening is a no-op. The tables live in the first
// schema of the connection's search_path. Times are timestamptz: every time a
// Store returns is in UTC, truncated to the microsecond, and (job, scheduled
// time) keys compare as instants at that precision whatever location the
// caller's times carry. URIs are a text[]. Run IDs are UUIDv7 strings, so they
// sort by creation time.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores (replicas) may
// share a database.
//
// StartRun takes a transaction-scoped advisory lock on a hash of (job,
// scheduled time), reads the highest attempt and inserts the next in the same
// READ COMMITTED transaction: concurrent StartRun calls for one key, from any
// replica, get distinct, consecutive attempts, with no retries; calls for
// different keys do not wait for each other (unless their hashes collide, which
// costs only a wait). The UNIQUE (job, scheduled_time, attempt) constraint
// backs this up. FinishRun updates only a run that is still Running, so of
// several concurrent FinishRun calls for one run exactly one succeeds and the
// others get state.ErrNotRunning. A cancelled context makes any method return
// an error wrapping the context's error.
//
// AcquireSlot and RenewSlot take a transaction-scoped advisory lock on
// hashtext(key) (in a key space of their own) in a READ COMMITTED
// transaction; AcquireSlot then removes the key's expired holders and renews
// the caller or counts the live holders and inserts it. Acquisitions of one
// key from any replica serialize, so live holders never exceed max, with no
// retries, whatever the server's default isolation.
package postgres
