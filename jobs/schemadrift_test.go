package jobs_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

func TestSchemaDrift(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"warn", "fail"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 25)
			job := func(fields string) string {
				return "source: {query: {model: thelook, view: orders, fields: [" + fields + "]}}\nformat: parquet\non_schema_change: " + policy + "\ndestination: '$DIR/{{ .Attempt }}.parquet'"
			}
			ctx := context.Background()
			first, err := b.run(ctx, b.job(t, "orders", job("orders.id, orders.amount")), scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			var s formats.Schema
			require.NoError(t, json.Unmarshal([]byte(first.Schema), &s), "the schema is stored with the run")
			require.Equal(t, []string{"orders.id", "orders.amount"}, s.Names())

			// Same columns: no change, whatever the policy.
			_, err = b.run(ctx, b.job(t, "orders", job("orders.id, orders.amount")), scheduled, jobs.RunOptions{})
			require.NoError(t, err)

			// orders.amount replaced by orders.status.
			changed := b.job(t, "orders", job("orders.id, orders.status"))
			run, err := b.run(ctx, changed, scheduled, jobs.RunOptions{})
			if policy == "warn" {
				require.NoError(t, err)
				require.Equal(t, state.Succeeded, run.Status)
				return
			}
			require.ErrorIs(t, err, jobs.ErrSchemaChanged)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, "orders.amount")
			require.Contains(t, run.Error, "orders.status")
			require.Contains(t, run.Error, "--accept-schema-change")
			require.NoFileExists(t, b.dir+"/3.parquet", "nothing published")

			// Accepting it once makes it the baseline.
			run, err = b.run(ctx, changed, scheduled, jobs.RunOptions{AcceptSchemaChange: true})
			require.NoError(t, err)
			require.FileExists(t, b.dir+"/4.parquet")
			_, err = b.run(ctx, changed, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
		})
	}
}
