package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/internal/rows"
)

// SaveRunLog implements state.Store. The transaction goes to the server
// as one pipeline (one round trip), READ COMMITTED whatever the server's
// default. Locking the run row serializes concurrent saves of one run's
// log.
func (s *Store) SaveRunLog(ctx context.Context, runID string, lines []state.LogLine) error {
	seqs := make([]int32, len(lines))
	times := make([]time.Time, len(lines))
	levels := make([]string, len(lines))
	messages := make([]string, len(lines))
	fields := make([]string, len(lines))
	for i, l := range lines {
		f := l.Fields
		if f == "" {
			f = "{}"
		}
		seqs[i], times[i], levels[i], messages[i], fields[i] = int32(i), us(l.Time), cleanText(l.Level), cleanText(l.Message), cleanText(f)
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT 1 FROM runs WHERE id = $1 FOR UPDATE`, runID)
	b.Queue(`DELETE FROM run_logs WHERE run_id = $1`, runID)
	b.Queue(`INSERT INTO run_logs (run_id, seq, time, level, message, fields)
		SELECT $1, l.seq, l.time, l.level, l.message, l.fields
		FROM unnest($2::integer[], $3::timestamptz[], $4::text[], $5::text[], $6::text[]) AS l(seq, time, level, message, fields)`,
		runID, seqs, times, levels, messages, fields)
	b.Queue(`COMMIT`)
	// An error leaves the connection in a failed transaction; the pool
	// then discards it rather than reuse it.
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("save log of run %s: begin: %w", runID, err)
	}
	var one int
	err := br.QueryRow().Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("save log of run %s: %w", runID, state.ErrNotFound)
	case err != nil:
		return fmt.Errorf("save log of run %s: %w", runID, err)
	}
	for _, step := range []string{"delete the old log", "insert", "commit"} {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("save log of run %s: %s: %w", runID, step, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("save log of run %s: %w", runID, err)
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
