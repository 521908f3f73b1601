package config_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

func TestLookerRunKeys(t *testing.T) {
	t.Parallel()
	const head = "looker: {base_url: https://x.cloud.looker.com, client_id: a, client_secret: b%s}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: 42}, format: csv, destination: /tmp/x.csv%s}\n"
	parse := func(looker, job string) (*config.Config, error) {
		y := []byte(fmt.Sprintf(head, looker, job))
		return config.Parse("t.yaml", y, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	}
	cfg, err := parse("", "")
	require.NoError(t, err)
	j := cfg.Jobs[0]
	require.Equal(t, lookerapi.ModeSync, j.Run.Mode, "sync is the default")
	require.Equal(t, "warn", j.OnTruncation)
	require.Empty(t, j.Run.RunAs)
	require.Equal(t, lookerapi.DefaultMaxConcurrentQueries, cfg.Looker.ClientConfig().MaxConcurrentQueries)

	cfg, err = parse(", max_concurrent_queries: 4", ", mode: async, run_as: 17, on_truncation: fail")
	require.NoError(t, err)
	j = cfg.Jobs[0]
	require.Equal(t, lookerapi.ModeAsync, j.Run.Mode)
	require.Equal(t, "17", j.Run.RunAs)
	require.Equal(t, "fail", j.OnTruncation)
	require.Equal(t, 4, cfg.Looker.ClientConfig().MaxConcurrentQueries)

	_, err = parse(", max_concurrent_queries: 0", ", mode: later, run_as: bob, on_truncation: ignore")
	require.Error(t, err)
	for _, want := range []string{
		"t.yaml:1: looker.max_concurrent_queries 0 must be between 1 and 75",
		`t.yaml:3: job "j": mode "later" is not sync`,
		`t.yaml:3: job "j": run_as "bob" is not a Looker user id`,
		`t.yaml:3: job "j": on_truncation "ignore" is not warn or fail`,
	} {
		require.Contains(t, err.Error(), want)
	}
}
