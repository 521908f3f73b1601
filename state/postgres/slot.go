package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/slots"
)

// slotLockClass is the first key of the two-int4 advisory lock that
// serializes the slot writes of one key; the second is hashtext(key). It
// differs from migrateLockClass, and two-int4 locks are a key space apart
// from the single-bigint run key locks. Keys whose hashes collide merely
// wait for each other.
const slotLockClass = 0x736c6f74 // "slot"

// beginSlot begins a READ COMMITTED transaction holding the advisory lock of
// slot key: every statement after it sees what the previous holder of the
// lock committed.
func (s *Store) beginSlot(ctx context.Context, key string) (pgx.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, slotLockClass, key); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("lock key: %w", err)
	}
	return tx, nil
}

// AcquireSlot implements state.Store. Under the key's advisory lock it
// removes the key's expired holders, then renews, or counts and inserts:
// acquisitions of one key from any replica serialize, so no two of them
// count the same free slot, with no retries. The transaction goes to the
// server as one pipeline (one round trip): READ COMMITTED, so each
// statement after the lock sees what the previous holder committed; the
// lock is held for as long as the server takes, not for five round trips,
// which a burst of runs on several replicas would otherwise queue on.
func (s *Store) AcquireSlot(ctx context.Context, key, holder string, max int, now time.Time, lease time.Duration) (bool, error) {
	if err := errors.Join(slots.Check(key, holder, lease), slots.CheckMax(key, max)); err != nil {
		return false, fmt.Errorf("acquire slot: %w", err)
	}
	key, holder = cleanText(key), cleanText(holder)
	wrap := func(err error) error {
		return fmt.Errorf("acquire slot %q for %q: %w", key, holder, err)
	}
	expires := us(now.Add(lease))
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, slotLockClass, key)
	b.Queue(`DELETE FROM slots WHERE key = $1 AND expires <= $2`, key, us(now))
	b.Queue(`UPDATE slots SET expires = $3 WHERE key = $1 AND holder = $2`, key, holder, expires)
	b.Queue(`INSERT INTO slots (key, holder, expires)
		SELECT $1, $2, $3
		WHERE NOT EXISTS (SELECT 1 FROM slots WHERE key = $1 AND holder = $2)
		AND (SELECT COUNT(*) FROM slots WHERE key = $1) < $4`, key, holder, expires, int64(max))
	b.Queue(`COMMIT`)
	// An error leaves the connection in a failed transaction; the pool
	// then discards it rather than reuse it.
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	steps := []string{"begin", "lock key", "remove expired holders", "renew", "insert holder", "commit"}
	var held int64
	for i, step := range steps {
		tag, err := br.Exec()
		if err != nil {
			return false, wrap(fmt.Errorf("%s: %w", step, err))
		}
		if i == 3 || i == 4 {
			held += tag.RowsAffected()
		}
	}
	if err := br.Close(); err != nil {
		return false, wrap(err)
	}
	return held == 1, nil
}

// RenewSlot implements state.Store. It takes the key's advisory lock too, so
// a renewal and an AcquireSlot removing the same expired holder are ordered:
// either the renewal comes first and the holder is live again, or the removal
// does and the renewal finds nothing (state.ErrSlotLost).
func (s *Store) RenewSlot(ctx context.Context, key, holder string, now time.Time, lease time.Duration) error {
	if err := slots.Check(key, holder, lease); err != nil {
		return fmt.Errorf("renew slot: %w", err)
	}
	key, holder = cleanText(key), cleanText(holder)
	wrap := func(err error) error {
		return fmt.Errorf("renew slot %q for %q: %w", key, holder, err)
	}
	tx, err := s.beginSlot(ctx, key)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	tag, err := tx.Exec(ctx, `UPDATE slots SET expires = $3 WHERE key = $1 AND holder = $2`, key, holder, us(now.Add(lease)))
	if err != nil {
		return wrap(err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(state.ErrSlotLost)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// ReleaseSlot implements state.Store. Deleting needs no lock: a concurrent
// AcquireSlot either counts the row (and answers as if the release came
// after it) or does not. The delete runs READ COMMITTED whatever the server's
// default, so releasing never fails with a serialization error.
func (s *Store) ReleaseSlot(ctx context.Context, key, holder string) error {
	wrap := func(err error) error {
		return fmt.Errorf("release slot %q for %q: %w", key, holder, err)
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`DELETE FROM slots WHERE key = $1 AND holder = $2`, cleanText(key), cleanText(holder))
	b.Queue(`COMMIT`)
	br := s.pool.SendBatch(ctx, b) // one round trip; see AcquireSlot
	defer br.Close()
	for _, step := range []string{"begin", "delete", "commit"} {
		if _, err := br.Exec(); err != nil {
			return wrap(fmt.Errorf("%s: %w", step, err))
		}
	}
	if err := br.Close(); err != nil {
		return wrap(err)
	}
	return nil
}
