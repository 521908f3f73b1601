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
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT 1 FROM runs WHERE id = $1 FOR UPDATE`, runID)
	b.Queue(`DELETE FROM run_logs WHERE run_id = $1`, runID)
	b.Queue(`INSERT INTO run_logs (run_id, seq, time, level, message, fields)
		SELECT $1, `+logLineColumns+` FROM `+logLines(2), append([]any{runID}, logArrays(lines)...)...)
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

// logLineColumns are the columns of logLines' rows.
const logLineColumns = `l.seq, l.time, l.level, l.message, l.fields`

// logLines is the table of log lines that the five arrays of logArrays
// make, as parameters $first to $first+4.
func logLines(first int) string {
	return fmt.Sprintf(`unnest($%d::integer[], $%d::timestamptz[], $%d::text[], $%d::text[], $%d::text[]) AS l(seq, time, level, message, fields)`,
		first, first+1, first+2, first+3, first+4)
}

// logArrays are lines as the five arrays of logLines: seq (0 for the
// first line), time, level, message and fields (an empty one stored as an
// empty object), text cleaned as the store keeps it.
func logArrays(lines []state.LogLine) []any {
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
	return []any{seqs, times, levels, messages, fields}
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
