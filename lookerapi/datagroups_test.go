package lookerapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestDatagroups reads the datagroups, sees triggered_at advance when
// the sandbox fires one, and keeps a datagroup that never triggered
// (null times) with its trigger error.
func TestDatagroups(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()
	byKey := func() map[string]lookerapi.Datagroup {
		dgs, err := f.client.Datagroups(ctx)
		require.NoError(t, err)
		out := map[string]lookerapi.Datagroup{}
		for _, d := range dgs {
			out[d.Key()] = d
		}
		return out
	}
	key := lookertest.DatagroupModel + "::" + lookertest.DatagroupName
	dgs := byKey()
	require.Len(t, dgs, 2)
	require.Equal(t, lookertest.DatagroupTriggeredAt, dgs[key].TriggeredAt)
	require.Equal(t, lookertest.DatagroupTriggeredAt, dgs[key].StaleBefore)
	broken := dgs[lookertest.DatagroupModel+"::"+lookertest.BrokenDatagroup]
	require.True(t, broken.TriggeredAt.IsZero())
	require.Equal(t, lookertest.BrokenDatagroupError, broken.TriggerError)

	fired := time.Date(2024, 1, 2, 6, 30, 0, 0, time.UTC)
	f.srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, fired)
	dgs = byKey()
	require.Equal(t, fired, dgs[key].TriggeredAt)
	require.Equal(t, fired, dgs[key].TriggerCheckAt)
	require.Empty(t, dgs[key].TriggerError)
	require.Equal(t, 2, f.srv.Requests("all_datagroups"))
}
