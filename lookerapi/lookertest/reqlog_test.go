package lookertest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestRequestLog keeps each request's operation, path, parameters and
// body, never the login body (it holds the client secret), and hands
// the handler the whole body.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	tok := "Bearer " + a.login()
	q := `{"model":"thelook","view":"orders","fields":["orders.id"],"filters":{"orders.status":"complete"},"query_timezone":"UTC"}`
	status, _, body := a.call("POST", "/queries?fields=id", tok, strings.NewReader(q), "application/json")
	require.Equal(t, 200, status, string(body))

	logins := a.srv.RequestLog("login")
	require.Len(t, logins, 1)
	require.Nil(t, logins[0].Body)
	require.Nil(t, logins[0].Query)
	created := a.srv.RequestLog("create_query")
	require.Len(t, created, 1)
	require.Equal(t, "POST", created[0].Method)
	require.Equal(t, "/queries", created[0].Path)
	require.Equal(t, "id", created[0].Query.Get("fields"))
	got, err := created[0].DecodeQuery()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"orders.status": "complete"}, got.Filters)
	require.Len(t, a.srv.RequestLog(), 2)
}
