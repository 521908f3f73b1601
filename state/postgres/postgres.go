package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lookerexport/exporter/state"
)

// Store is a state.Store in a PostgreSQL database. See the package
// documentation for its concurrency guarantees.
type Store struct {
	pool *pgxpool.Pool
}

var _ state.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at dsn and applies any pending
// schema migrations.
//
// dsn is a libpq connection string, as a URL
// ("postgres://user@host:5432/db?sslmode=require") or key=value pairs; pool
// settings such as pool_max_conns are accepted too. The tables live in the
// first schema of the connection's search_path, which a search_path
// parameter in dsn selects.
//
// Open fails if the database's schema is newer than this binary knows: an
// older exporter must not write to a database a newer one has migrated.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("open postgres state: parse connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres state: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres state: connect to %s:%d database %q: %w; check that PostgreSQL is running and the connection string is right",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres state: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned. It always returns nil; calls after the first do nothing.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// us truncates to what timestamptz stores, and drops the location.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// keyLock is the advisory lock that serializes StartRun for one (job,
// scheduled) key. It is a single bigint, a key space apart from the two-int4
// lock that guards migrations. Unrelated keys that collide merely wait for
// each other.
func keyLock(job string, scheduled time.Time) int64 {
	h := fnv.New64a()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, scheduled.UnixMicro(), 10))
	return int64(h.Sum64())
}

// cleanText makes s valid UTF-8 without NUL bytes, which PostgreSQL text
// rejects: an error text quoted from a response body must still be
// recordable.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
