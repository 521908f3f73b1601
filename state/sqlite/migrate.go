package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; migration i brings the schema to version
// i+1. Append only: never edit or reorder one that has shipped.
var migrations = []string{
	// 1: runs.
	//
	// Times are UTC Unix microseconds: they sort as instants, compare exactly
	// (the (job, scheduled_time) key must not depend on a text format), and
	// match the precision the Store promises. replica is for the replica that
	// claimed the run; nothing writes it yet.
	`
	CREATE TABLE runs (
		id             TEXT    NOT NULL PRIMARY KEY,
		job            TEXT    NOT NULL,
		scheduled_time INTEGER NOT NULL,
		attempt        INTEGER NOT NULL CHECK (attempt >= 1),
		status         TEXT    NOT NULL,
		replica        TEXT,
		started_at     INTEGER NOT NULL,
		finished_at    INTEGER,
		rows           INTEGER NOT NULL DEFAULT 0,
		bytes          INTEGER NOT NULL DEFAULT 0,
		uris           TEXT    NOT NULL DEFAULT '[]',
		error_class    TEXT    NOT NULL DEFAULT '',
		error          TEXT    NOT NULL DEFAULT '',
		UNIQUE (job, scheduled_time, attempt)
	) STRICT;
	CREATE INDEX runs_job_started_at ON runs (job, started_at, id);
	CREATE INDEX runs_started_at ON runs (started_at, id);
	`,
	// 2: claims with leases, Looker query ids, the output schema, run logs.
	// lease_expires is NULL for attempts not started by a claim (StartRun)
	// and for finished ones.
	`
	ALTER TABLE runs ADD COLUMN lease_expires INTEGER;
	ALTER TABLE runs ADD COLUMN query_ids TEXT NOT NULL DEFAULT '[]';
	ALTER TABLE runs ADD COLUMN output_schema TEXT NOT NULL DEFAULT '';
	CREATE INDEX runs_job_scheduled ON runs (job, scheduled_time, attempt);
	CREATE TABLE run_logs (
		run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		seq     INTEGER NOT NULL,
		time    INTEGER NOT NULL,
		level   TEXT    NOT NULL,
		message TEXT    NOT NULL,
		fields  TEXT    NOT NULL,
		PRIMARY KEY (run_id, seq)
	) STRICT;
	`,
	// 3: slots, counting semaphores with leases (AcquireSlot). A row is one
	// holder of one slot of key until expires (UTC Unix microseconds).
	`
	CREATE TABLE slots (
		key     TEXT    NOT NULL,
		holder  TEXT    NOT NULL,
		expires INTEGER NOT NULL,
		PRIMARY KEY (key, holder)
	) STRICT, WITHOUT ROWID;
	`,
	// 4: the digest of a run's rows, for send conditions (when: changed).
	`
	ALTER TABLE runs ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
	`,
	// 5: the Running attempts of a job (Running, for overlap: skip), found
	// without reading the job's history.
	`
	CREATE INDEX runs_running ON runs (job, scheduled_time, attempt) WHERE status = 'running';
	`,
}

// migrate brings the schema to len(migrations) in one transaction, which
// the _txlock=immediate connection parameter begins with the write lock held:
// two processes opening the same file at once apply each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	if _, err := tx.ExecContext(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
		) STRICT`); err != nil {
		return fmt.Errorf("migrate schema: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate schema: read version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate schema: database is at schema version %d but this exporter knows only up to %d; run a newer exporter or point it at another database", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			return fmt.Errorf("migrate schema to version %d: record version: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema: commit: %w", err)
	}
	return nil
}
