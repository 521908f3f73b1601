package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order; migration i brings the schema to version
// i+1. Append only: never edit or reorder one that has shipped.
var migrations = []string{
	// 1: runs. id is COLLATE "C" so that ORDER BY id is byte order, which is
	// creation order for UUIDv7 text. replica is for the replica that claimed
	// the run; nothing writes it yet.
	`
	CREATE TABLE runs (
		id             text COLLATE "C" NOT NULL PRIMARY KEY,
		job            text        NOT NULL,
		scheduled_time timestamptz NOT NULL,
		attempt        integer     NOT NULL CHECK (attempt >= 1),
		status         text        NOT NULL,
		replica        text,
		started_at     timestamptz NOT NULL,
		finished_at    timestamptz,
		rows           bigint      NOT NULL DEFAULT 0,
		bytes          bigint      NOT NULL DEFAULT 0,
		uris           text[]      NOT NULL DEFAULT '{}',
		error_class    text        NOT NULL DEFAULT '',
		error          text        NOT NULL DEFAULT '',
		UNIQUE (job, scheduled_time, attempt)
	);
	CREATE INDEX runs_job_started_at ON runs (job, started_at, id);
	CREATE INDEX runs_started_at ON runs (started_at, id);
	`,
	// 2: claims with leases, Looker query ids, the output schema, run logs.
	// lease_expires is NULL for attempts not started by a claim (StartRun)
	// and for finished ones.
	`
	ALTER TABLE runs ADD COLUMN lease_expires timestamptz;
	ALTER TABLE runs ADD COLUMN query_ids text[] NOT NULL DEFAULT '{}';
	ALTER TABLE runs ADD COLUMN output_schema text NOT NULL DEFAULT '';
	CREATE INDEX runs_job_scheduled ON runs (job, scheduled_time, attempt);
	CREATE TABLE run_logs (
		run_id  text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		seq     integer     NOT NULL,
		time    timestamptz NOT NULL,
		level   text        NOT NULL,
		message text        NOT NULL,
		fields  text        NOT NULL,
		PRIMARY KEY (run_id, seq)
	);
	`,
	// 3: slots, counting semaphores with leases (AcquireSlot). A row is one
	// holder of one slot of key until expires.
	`
	CREATE TABLE slots (
		key     text        NOT NULL,
		holder  text        NOT NULL,
		expires timestamptz NOT NULL,
		PRIMARY KEY (key, holder)
	);
	`,
	// 4: the digest of a run's rows, for send conditions (when: changed).
	`
	ALTER TABLE runs ADD COLUMN content_hash text NOT NULL DEFAULT '';
	`,
	// 5: the Running attempts of a job (Running, for overlap: skip), found
	// without reading the job's history.
	`
	CREATE INDEX runs_running ON runs (job, scheduled_time, attempt) WHERE status = 'running';
	`,
}

// migrateLockClass is the first key of the two-int4 advisory lock that
// serializes migrations; the second is a hash of the target schema, so
// exporters migrating different schemas do not wait for each other.
const migrateLockClass = 0x65787072 // "expr"

// migrate brings the schema to len(migrations) in one transaction that first
// takes a transaction-scoped advisory lock, so that replicas starting
// together apply each migration once: the others wait, then find nothing to
// do. DDL is transactional in PostgreSQL, so a failed migration leaves
// nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("migrate schema: begin: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate schema: find current schema: %w", err)
	}
	if schema == nil {
		return fmt.Errorf("migrate schema: no schema in the search_path exists; create it or fix search_path in the connection string")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrateLockClass, *schema); err != nil {
		return fmt.Errorf("migrate schema %s: lock: %w", *schema, err)
	}
	if _, err := tx.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
		return fmt.Errorf("migrate schema %s: create schema_migrations: %w", *schema, err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate schema %s: read version: %w", *schema, err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate schema %s: database is at schema version %d but this exporter knows only up to %d; run a newer exporter or point it at another schema", *schema, current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate schema %s to version %d: %w", *schema, v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("migrate schema %s to version %d: record version: %w", *schema, v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate schema %s: commit: %w", *schema, err)
	}
	return nil
}
