package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// SaveRunLog implements state.Store.
func (s *Store) SaveRunLog(ctx context.Context, runID string, lines []state.LogLine) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	defer tx.Rollback() // a no-op after Commit
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("save log of run %s: %w", runID, state.ErrNotFound)
	case err != nil:
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	if err := writeLog(ctx, tx, runID, lines); err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save log of run %s: commit: %w", runID, err)
	}
	return nil
}

// writeLog replaces the log lines of run runID in tx.
func writeLog(ctx context.Context, tx *sql.Tx, runID string, lines []state.LogLine) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_logs WHERE run_id = ?`, runID); err != nil {
		return err
	}
	for i, l := range lines {
		fields := l.Fields
		if fields == "" {
			fields = "{}"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, seq, time, level, message, fields) VALUES (?, ?, ?, ?, ?, ?)`,
			runID, i, micros(l.Time), cleanText(l.Level), cleanText(l.Message), cleanText(fields)); err != nil {
			return fmt.Errorf("line %d: %w", i, err)
		}
	}
	return nil
}

// RunLog implements state.Store.
func (s *Store) RunLog(ctx context.Context, runID string) ([]state.LogLine, error) {
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, fmt.Errorf("run log: %w", err)
	}
	rs, err := s.rdb.QueryContext(ctx, `SELECT time, level, message, fields FROM run_logs WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	defer rs.Close()
	out, err := rows.Collect(rs, []state.LogLine{}, func(rs *sql.Rows) (state.LogLine, error) {
		var (
			l  state.LogLine
			tm int64
		)
		err := rs.Scan(&tm, &l.Level, &l.Message, &l.Fields)
		l.Time = fromMicros(tm)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("log of run %s: %w", runID, err)
	}
	return out, nil
}
