package lookertest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/internal/contract"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func TestSettingUserAndConnection(t *testing.T) {
	t.Parallel()
	no := false
	a := newAPI(t, lookertest.Options{AppTimezone: "Europe/Berlin", UserTimezones: true, ConnectionTimezone: "America/New_York", StreamingDialect: &no})
	admin := "Bearer " + a.login()
	var setting struct {
		Timezone           string `json:"timezone"`
		AllowUserTimezones bool   `json:"allow_user_timezones"`
	}
	a.getJSON("/setting", admin, &setting)
	require.Equal(t, "Europe/Berlin", setting.Timezone)
	require.True(t, setting.AllowUserTimezones)

	var me struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	}
	a.getJSON("/user", admin, &me)
	require.Equal(t, "1", me.ID)
	require.NotEmpty(t, me.DisplayName)
	sudo := "Bearer " + a.loginAs(admin, "7")
	a.getJSON("/user", sudo, &me)
	require.Equal(t, "7", me.ID)

	var attrs []struct{ Name, Value, Source string }
	a.getJSON("/users/7/attribute_values", admin, &attrs)
	require.Equal(t, "timezone", attrs[0].Name)
	require.Equal(t, "Europe/Berlin", attrs[0].Value, "a user without a zone has the application zone")
	a.srv.SetUserTimezone("7", "Asia/Tokyo")
	a.getJSON("/users/7/attribute_values", admin, &attrs)
	require.Equal(t, "Asia/Tokyo", attrs[0].Value)

	var conn struct {
		Name          string  `json:"name"`
		QueryTimezone *string `json:"query_timezone"`
		Dialect       struct {
			Name              string `json:"name"`
			SupportsStreaming bool   `json:"supports_streaming"`
		} `json:"dialect"`
	}
	a.getJSON("/connections/warehouse", admin, &conn)
	require.Equal(t, "warehouse", conn.Name)
	require.Equal(t, "America/New_York", *conn.QueryTimezone)
	require.Equal(t, "postgres", conn.Dialect.Name)
	require.False(t, conn.Dialect.SupportsStreaming)
	status, _, _ := a.call("GET", "/connections/nodb", admin, nil, "")
	require.Equal(t, 404, status)

	var explore struct {
		ConnectionName string `json:"connection_name"`
		Fields         struct {
			Dimensions []struct {
				Name      string `json:"name"`
				ConvertTZ *bool  `json:"convert_tz"`
			} `json:"dimensions"`
		} `json:"fields"`
	}
	a.getJSON("/lookml_models/thelook/explores/orders", admin, &explore)
	require.Equal(t, "warehouse", explore.ConnectionName)
	convert := map[string]*bool{}
	for _, d := range explore.Fields.Dimensions {
		convert[d.Name] = d.ConvertTZ
	}
	require.True(t, *convert["orders.created_time"])
	require.False(t, *convert["orders.created_local_time"])
	require.Nil(t, convert["orders.id"])
}

func TestSettingForbidden(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{SettingForbidden: true})
	status, _, body := a.call("GET", "/setting", "Bearer "+a.login(), nil, "")
	require.Equal(t, 403, status)
	requireLookerError(t, body, "Forbidden", "403/get/setting")
}

func TestStreamingDialectDefault(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{})
	var conn struct {
		QueryTimezone *string `json:"query_timezone"`
		Dialect       struct {
			SupportsStreaming bool `json:"supports_streaming"`
		} `json:"dialect"`
	}
	a.getJSON("/connections/warehouse", "Bearer "+a.login(), &conn)
	require.True(t, conn.Dialect.SupportsStreaming)
	require.Nil(t, conn.QueryTimezone)
}

// TestNewEndpointsMatchSpec validates the answers of the endpoints the
// client's contract test does not reach yet against Looker's spec.
func TestNewEndpointsMatchSpec(t *testing.T) {
	t.Parallel()
	v := contract.New(t)
	hc := &http.Client{Transport: v.Transport(nil)}
	a := newAPI(t, lookertest.Options{Rows: 5, UserTimezones: true, ConnectionTimezone: "UTC"})
	a.client = hc
	admin := "Bearer " + a.login()
	for _, path := range []string{"/setting", "/user", "/users/7/attribute_values", "/connections/warehouse", "/running_queries"} {
		status, _, body := a.call("GET", path, admin, nil, "")
		require.Equal(t, 200, status, "%s: %s", path, body)
	}
	// A running sync query and a running task, listed and killed.
	release := make(chan struct{})
	arrived := a.srv.StallNextRun(release, false)
	done := a.start(t.Context(), "GET", "/queries/123/run/csv", admin, "")
	<-arrived
	a.srv.ScriptNextTask(lookertest.TaskRunning)
	status, _, body := a.call("POST", "/query_tasks", admin, strings.NewReader(`{"query_id":"123","result_format":"csv"}`), "application/json")
	require.Equal(t, 200, status, string(body))
	var running []struct {
		QueryTaskID string `json:"query_task_id"`
	}
	status, _, body = a.call("GET", "/running_queries", admin, nil, "")
	require.Equal(t, 200, status)
	require.NoError(t, jsonUnmarshal(body, &running))
	require.Len(t, running, 2)
	for _, r := range running {
		status, _, _ := a.call("DELETE", "/running_queries/"+r.QueryTaskID, admin, nil, "")
		require.Equal(t, 204, status)
	}
	<-done
	close(release)
	// Pivoted json_bi and apply_formatting.
	status, _, body = a.call("POST", "/queries/run/json_bi?apply_formatting=true", admin,
		strings.NewReader(`{"model":"thelook","view":"orders","fields":["orders.id","orders.status","orders.total_amount"],"pivots":["orders.status"]}`), "application/json")
	require.Equal(t, 200, status, string(body))
	v.Require(t)
	checked := v.Checked()
	for _, op := range []string{"get_setting", "me", "user_attribute_user_values", "connection", "all_running_queries", "kill_query", "run_inline_query"} {
		require.Positive(t, checked[op], op)
	}
}
