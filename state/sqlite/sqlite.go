package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlitedrv "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lookerexport/exporter/state"
)

// Memory is the dsn for a private in-memory database, for tests.
const Memory = ":memory:"

// busyTimeout is how long a write waits for another connection (usually
// another process on the same file) to release the database lock before it
// fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// maxReadConns bounds the read pool; WAL lets readers run alongside the
// single writer.
const maxReadConns = 4

// Store is a state.Store in one SQLite database. See the package
// documentation for its concurrency guarantees.
type Store struct {
	// wdb has exactly one connection: every write in this process is
	// serialized by database/sql's pool (which honours ctx while waiting)
	// instead of by SQLite's busy handler.
	wdb *sql.DB
	// rdb serves reads. It is wdb itself for an in-memory database, which
	// exists only inside its one connection.
	rdb *sql.DB
}

var _ state.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at dsn and applies any
// pending schema migrations.
//
// dsn is a file path, whose parent directories are created if missing, or
// Memory (":memory:") for a private in-memory database that lives until
// Close. A path must not contain '?' and must not be a "file:" URI: Open
// sets the connection parameters itself.
//
// Open fails if the database's schema is newer than this binary knows: an
// older exporter must not write to a database a newer one has migrated.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open sqlite state: empty database path; give a file path such as /var/lib/exporter/state.db")
	}
	if strings.ContainsRune(dsn, '?') || strings.HasPrefix(dsn, "file:") {
		return nil, fmt.Errorf("open sqlite state %q: give a plain file path without '?' or \"file:\"; connection parameters are set by the exporter", dsn)
	}

	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	params.Add("_pragma", "foreign_keys(1)")
	// Explicit transactions (migrations) take the write lock up front, so a
	// read inside them can never be invalidated by another writer.
	params.Set("_txlock", "immediate")

	if dsn == Memory {
		db, err := sql.Open("sqlite", Memory+"?"+params.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite state in memory: %w", err)
		}
		// One connection, never recycled: a second would be a second,
		// empty database.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		s := &Store{wdb: db, rdb: db}
		if err := s.init(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("open sqlite state in memory: %w", err), s.Close())
		}
		return s, nil
	}

	if dir := filepath.Dir(dsn); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite state %s: create parent directory: %w", dsn, err)
		}
	}
	if err := createPrivate(dsn); err != nil {
		return nil, err
	}
	wdb, err := sql.Open("sqlite", dsn+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite state %s: %w", dsn, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)

	rparams := cloneValues(params)
	rparams.Set("_query_only", "true")
	rdb, err := sql.Open("sqlite", dsn+"?"+rparams.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite state %s: %w", dsn, err), wdb.Close())
	}
	rdb.SetMaxOpenConns(maxReadConns)
	rdb.SetMaxIdleConns(maxReadConns)

	s := &Store{wdb: wdb, rdb: rdb}
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite state %s: %w", dsn, err), s.Close())
	}
	return s, nil
}

// fileMode is the mode of a new database file. SQLite gives the -wal and
// -shm files the database file's mode, so they are private too.
const fileMode = 0o600

// createPrivate creates the database file with fileMode unless it exists,
// so that job names, errors and run logs are not world-readable whatever
// the umask. An existing file keeps the mode its operator gave it.
func createPrivate(dsn string) error {
	f, err := os.OpenFile(dsn, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open sqlite state %s: create the database file: %w; check the directory's permissions", dsn, err)
	}
	err = f.Chmod(fileMode) // the umask may have taken bits away; never adds any
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("open sqlite state %s: set the database file's mode to %#o: %w", dsn, fileMode, err)
	}
	return nil
}

// enableWAL switches the database file to WAL mode, which it then keeps.
//
// SQLite's busy handler does not cover this switch: the pragma reads the
// header under a read transaction, then upgrades it to write the new file
// format (vdbe.c OP_JournalMode, btree.c sqlite3BtreeSetVersion), and
// btreeBeginTrans calls the busy handler only for a connection holding no
// transaction, since two connections upgrading at once would deadlock. So
// when several processes open a new file together, all but one may get
// SQLITE_BUSY at once. enableWAL retries then, as the busy handler would:
// it sleeps (with sleep) for 1 ms, doubling up to 50 ms, until its sleeps
// add up to timeout. Once the file is in WAL mode the pragma takes no write
// lock and returns at once.
func enableWAL(ctx context.Context, db *sql.DB, timeout time.Duration, sleep func(context.Context, time.Duration) error) error {
	var slept time.Duration
	wait := time.Millisecond
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("switch to WAL mode: the database stays in %q mode; put the state file on a local file system", mode)
		case !isBusy(err):
			return fmt.Errorf("switch to WAL mode: %w", err)
		case slept+wait > timeout:
			return fmt.Errorf("switch to WAL mode: %w; another process held the database's write lock for %s", err, slept)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("switch to WAL mode: %w", err)
		}
		slept += wait
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// sleep waits for d or until ctx ends, like SQLite's own busy handler,
// which also sleeps in real time.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlitedrv.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// init connects the writer first, so that WAL mode and the schema exist
// before any reader connects, then checks the readers.
func (s *Store) init(ctx context.Context) error {
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if s.rdb != s.wdb { // a file; an in-memory database has no WAL
		if err := enableWAL(ctx, s.wdb, busyTimeout, sleep); err != nil {
			return err
		}
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return err
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("connect reader: %w", err)
	}
	return nil
}

// Close closes the database. Calls after the first return nil.
func (s *Store) Close() error {
	err := s.wdb.Close()
	if s.rdb != s.wdb {
		err = errors.Join(err, s.rdb.Close())
	}
	if err != nil {
		return fmt.Errorf("close sqlite state: %w", err)
	}
	return nil
}

// micros is how times are stored: UTC Unix microseconds, which sort as
// instants and drop the location.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// cleanText makes s valid UTF-8 without NUL bytes: the contract every Store
// shares, because PostgreSQL rejects both and an error text quoted from a
// response body must still be recordable.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
