// Package sqlite is the embedded state.Store: one SQLite file (modernc.org/sqlite,
// pure Go, no cgo), for a single exporter or several processes on one host.
//
// # Storage
//
// The database runs in WAL mode with foreign keys on and a busy timeout of
// five seconds. Open applies versioned schema migrations (table
// schema_migrations) in one write transaction, so re-opening is a no-op and
// two processes opening a new file together migrate it once. Times are stored
// as UTC Unix microseconds: every time a Store returns is in UTC, truncated to
// the microsecond, and (job, scheduled time) keys compare at that precision
// whatever location the caller's times carry. Run IDs are UUIDv7 strings, so
// they sort by creation time.
//
// # Concurrency
//
// A Store is safe for concurrent use. All writes from one Store go through a
// single connection, serialized in Go (a waiting call gives up when its
// context ends); reads use a separate pool of read-only connections and never
// block on writes. Across Stores or processes sharing the file, SQLite's
// write lock serializes writers, each waiting up to the busy timeout.
//
// StartRun computes the attempt number and inserts the run in one statement
// under that write lock: concurrent StartRun calls for the same (job,
// scheduled time), from any Store on the file, get distinct, consecutive
// attempts. FinishRun updates only a run that is still Running, so of several
// concurrent FinishRun calls for one run exactly one succeeds and the others
// get state.ErrNotRunning. A cancelled context makes any method return an
// error wrapping the context's error.
//
// AcquireSlot removes the key's expired holders, then renews the caller or
// counts the live holders and inserts it, all in one transaction that takes
// the write lock at BEGIN: acquisitions from any Store on the file
// serialize, so live holders never exceed max.
//
// The file must be on a local filesystem: SQLite's locking, and therefore the
// guarantees above, do not hold on network filesystems. Replicas on several
// hosts share a PostgreSQL database instead (state/postgres).
package sqlite
