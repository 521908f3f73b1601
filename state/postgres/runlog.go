package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// SaveRunLog implements state.Store.
func (s *Store) SaveRunLog(ctx context.Context, runID string, lines []state.LogLine) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	// Locking the run row serializes concurrent saves of one run's log.
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1 FOR UPDATE`, runID).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("save log of run %s: %w", runID, state.ErrNotFound)
	case err != nil:
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM run_logs WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	if len(lines) > 0 {
		rows := make([][]any, len(lines))
		for i, l := range lines {
			fields := l.Fields
			if fields == "" {
				fields = "{}"
			}
			rows[i] = []any{runID, i, us(l.Time), cleanText(l.Level), cleanText(l.Message), cleanText(fields)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"run_logs"}, []string{"run_id", "seq", "time", "level", "message", "fields"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("save log of run %s: %w", runID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save log of run %s: commit: %w", runID, err)
	}
	return nil
}

// RunLog implements state.Store.
func (s *Store) RunLog(ctx context.Context, runID string) ([]state.LogLine, error) {
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, fmt.Errorf("run log: %w", err)
	}
	rs, err := s.pool.Query(ctx, `SELECT time, level, message, fields FROM run_logs WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.LogLine{}, func(rs pgx.Rows) (state.LogLine, error) {
		var l state.LogLine
		err := rs.Scan(&l.Time, &l.Level, &l.Message, &l.Fields)
		l.Time = l.Time.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	return out, nil
}
