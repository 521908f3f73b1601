package lookerapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
)

// A sync run request reaches Looker once. When the connection closes
// after the request went out and before any response byte, the query may
// be running in Looker; Go's transport would silently send an idempotent
// GET again when that connection was a reused keep-alive one, running
// the query twice. The run instead fails, retryable, and the run's retry
// policy decides.
func TestRunRequestIsNeverSentTwice(t *testing.T) {
	t.Parallel()
	for _, src := range []lookerapi.Source{{QueryID: "55"}, {LookID: "42"}} {
		t.Run(src.String(), func(t *testing.T) {
			t.Parallel()
			f := newFakeLooker(t, newFakeClock())
			f.set(func(f *fakeLooker) { f.behave = "dropOnce" })
			c, _ := newFakeClient(t, f, lookerapi.Config{})
			runs := func() int { return f.Requests("run_look") + f.Requests("run_query") }

			// The run's metadata calls (login, the saved query, the
			// explore) leave a keep-alive connection the run could reuse.
			_, err := c.Run(context.Background(), src, lookerapi.RunOptions{ResultFormat: "csv"})
			require.Error(t, err)
			require.True(t, lookerapi.IsRetryable(err), "a dropped connection is worth a new attempt: %v", err)
			require.Equal(t, 1, runs(), "the run request was not sent again")
			require.Equal(t, 1, f.Requests("all_running_queries"), "Looker may run the query all the same: it is looked for, to be killed")

			res, err := c.Run(context.Background(), src, lookerapi.RunOptions{ResultFormat: "csv"})
			require.NoError(t, err)
			require.Equal(t, fakeHeader+"1\n2\n", string(readAll(t, res)))
			require.Equal(t, 2, runs())
		})
	}
}
