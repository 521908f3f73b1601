package lookerapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
)

// A token whose expires_in is 0 or less is treated as a 60 s token: the
// client neither logs in for every request nor keeps using it forever,
// and each renewal logs the replaced token out.
func TestTokenWithoutLifetime(t *testing.T) {
	t.Parallel()
	for _, ttl := range []int64{0, -1} {
		t.Run("expires_in "+time.Duration(ttl).String(), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			f := newFakeLooker(t, clock)
			f.set(func(f *fakeLooker) { f.ttl = ttl })
			c, _ := newFakeClient(t, f, lookerapi.Config{})
			run := func() {
				t.Helper()
				res, err := c.Run(context.Background(), lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv"})
				require.NoError(t, err)
				readAll(t, res)
			}
			for range 5 {
				run()
			}
			require.Equal(t, 1, f.Requests("login"), "one login for many requests")
			clock.Advance(53 * time.Second)
			run()
			require.Equal(t, 1, f.Requests("login"))
			clock.Advance(time.Second) // 54 s: 90% of the assumed 60 s
			run()
			require.Equal(t, 2, f.Requests("login"), "renewed")
			f.set(func(f *fakeLooker) {
				require.Equal(t, []string{"tok-5-1"}, f.loggedOut, "the replaced token is logged out")
			})
			require.Equal(t, 7, f.Requests("run_query"), "no request hit a 401")
		})
	}
}
