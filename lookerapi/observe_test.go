package lookerapi_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func TestRequestObserver(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{Rows: 5})
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	seen := map[string][]int{}
	c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), VerifySSL: true},
		zaptest.NewLogger(t), lookerapi.WithRequestObserver(func(op string, status int, d time.Duration) {
			require.GreaterOrEqual(t, d, time.Duration(0))
			mu.Lock()
			defer mu.Unlock()
			seen[op] = append(seen[op], status)
		}))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	srv.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
	_, err = c.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.Error(t, err)
	res, err := c.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{200}, seen["login"])
	require.Equal(t, []int{404, 200}, seen["look"])
	require.Equal(t, []int{200}, seen["get_setting"])
	require.Equal(t, []int{200}, seen["run_query"], "the look's query pinned to the application zone")
}
