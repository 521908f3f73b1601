package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// ErrSchemaChanged is returned for a run whose output columns differ from
// the job's last successful run when the job says on_schema_change: fail.
var ErrSchemaChanged = errors.New("schema changed since the last successful run")

// checkSchema records the run's schema in p and compares it with the
// schema of the job's last successful run: changed, added or removed
// columns are logged, and fail the run when the job asks for it (unless
// opts.AcceptSchemaChange). A job whose output has no columns (raw) has nothing to check.
func (r *Runner) checkSchema(ctx context.Context, log *zap.Logger, job *config.Job, cur formats.Schema, opts RunOptions) error {
	if len(cur.Fields) == 0 {
		return nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("encode schema: %w", err)
	}
	s := string(b)
	opts.Progress.schema.Store(&s)

	last, err := r.lastSuccess(ctx, log, job.Name, opts)
	if errors.Is(err, state.ErrNotFound) || (err == nil && last.Schema == "") {
		return nil // the first run (or one from before schemas were kept) sets the baseline
	}
	if err != nil {
		return fmt.Errorf("read the last successful run to compare schemas: %w", err)
	}
	if last.Schema == s {
		return nil // encoded the same: nothing changed, nothing to decode
	}
	var prev formats.Schema
	if err := json.Unmarshal([]byte(last.Schema), &prev); err != nil {
		log.Warn("stored schema of the last successful run is unreadable; not comparing", zap.String("last_run_id", last.ID), zap.Error(err))
		return nil
	}
	changes := formats.Diff(prev, cur)
	if len(changes) == 0 {
		return nil
	}
	list := make([]string, len(changes))
	for i, c := range changes {
		list[i] = c.String()
	}
	fields := []zap.Field{zap.Strings("changes", list), zap.String("last_success_run_id", last.ID)}
	if job.OnSchemaChange != "fail" || opts.AcceptSchemaChange {
		log.Warn("schema changed since the last successful run", fields...)
		return nil
	}
	log.Error("schema changed since the last successful run; not publishing (on_schema_change: fail)", fields...)
	return fmt.Errorf("%w (run %s): %s; check the Look or query in Looker, and if the change is intended, run `exporter run --accept-schema-change %s` once to make it the new baseline",
		ErrSchemaChanged, last.ID, strings.Join(list, "; "), job.Name)
}
