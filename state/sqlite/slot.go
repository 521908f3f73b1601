package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/slots"
)

// AcquireSlot implements state.Store. It removes the key's expired holders,
// then renews or counts and inserts, in one transaction that holds SQLite's
// write lock from its start (_txlock=immediate): acquisitions from any Store
// on the file serialize, so no two of them count the same free slot.
func (s *Store) AcquireSlot(ctx context.Context, key, holder string, max int, now time.Time, lease time.Duration) (bool, error) {
	if err := errors.Join(slots.Check(key, holder, lease), slots.CheckMax(key, max)); err != nil {
		return false, fmt.Errorf("acquire slot: %w", err)
	}
	key, holder = cleanText(key), cleanText(holder)
	wrap := func(err error) error {
		return fmt.Errorf("acquire slot %q for %q: %w", key, holder, err)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return false, wrap(err)
	}
	defer tx.Rollback() // a no-op after Commit

	if _, err := tx.ExecContext(ctx, `DELETE FROM slots WHERE key = ? AND expires <= ?`, key, micros(now)); err != nil {
		return false, wrap(fmt.Errorf("remove expired holders: %w", err))
	}
	r, err := tx.ExecContext(ctx, `UPDATE slots SET expires = ? WHERE key = ? AND holder = ?`,
		micros(now.Add(lease)), key, holder)
	if err != nil {
		return false, wrap(fmt.Errorf("renew: %w", err))
	}
	renewed, err := r.RowsAffected()
	if err != nil {
		return false, wrap(fmt.Errorf("renew: %w", err))
	}
	if renewed == 0 {
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM slots WHERE key = ?`, key).Scan(&held); err != nil {
			return false, wrap(fmt.Errorf("count holders: %w", err))
		}
		if held >= max {
			// Commit anyway: the expired holders stay removed.
			if err := tx.Commit(); err != nil {
				return false, wrap(fmt.Errorf("commit: %w", err))
			}
			return false, nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO slots (key, holder, expires) VALUES (?, ?, ?)`,
			key, holder, micros(now.Add(lease))); err != nil {
			return false, wrap(fmt.Errorf("insert holder: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return false, wrap(fmt.Errorf("commit: %w", err))
	}
	return true, nil
}

// RenewSlot implements state.Store. One conditional update: it finds the
// holder's row only while no AcquireSlot has removed it.
func (s *Store) RenewSlot(ctx context.Context, key, holder string, now time.Time, lease time.Duration) error {
	if err := slots.Check(key, holder, lease); err != nil {
		return fmt.Errorf("renew slot: %w", err)
	}
	key, holder = cleanText(key), cleanText(holder)
	r, err := s.wdb.ExecContext(ctx, `UPDATE slots SET expires = ? WHERE key = ? AND holder = ?`,
		micros(now.Add(lease)), key, holder)
	if err != nil {
		return fmt.Errorf("renew slot %q for %q: %w", key, holder, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("renew slot %q for %q: %w", key, holder, err)
	}
	if n == 0 {
		return fmt.Errorf("renew slot %q for %q: %w", key, holder, state.ErrSlotLost)
	}
	return nil
}

// ReleaseSlot implements state.Store.
func (s *Store) ReleaseSlot(ctx context.Context, key, holder string) error {
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM slots WHERE key = ? AND holder = ?`,
		cleanText(key), cleanText(holder)); err != nil {
		return fmt.Errorf("release slot %q for %q: %w", key, holder, err)
	}
	return nil
}
