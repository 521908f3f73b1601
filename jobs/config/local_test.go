package config_test

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func TestLocalFileMode(t *testing.T) {
	t.Parallel()
	const jobs = "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: '1'}, format: csv, destination: out/x.csv}\n"
	cases := []struct {
		name, keys string
		want       fs.FileMode
		wantErr    string
	}{
		{name: "default", want: 0o640},
		{name: "private", keys: "local: {file_mode: '0600'}\n", want: 0o600},
		{name: "world-readable", keys: "local:\n  file_mode: \"644\"\n", want: 0o644},
		{name: "unquoted", keys: "local: {file_mode: 0640}\n", wantErr: `x.yaml:4: local.file_mode: expected an octal mode in quotes, such as "0640", found the number 0640`},
		{name: "not octal", keys: "local: {file_mode: '0680'}\n", wantErr: `local.file_mode "0680" is not an octal mode`},
		{name: "owner cannot write", keys: "local: {file_mode: '0440'}\n", wantErr: "must let the owner read and write"},
		{name: "too many bits", keys: "local: {file_mode: '4640'}\n", wantErr: "bits beyond the permissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("x.yaml", []byte(jobs+c.keys), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, cfg.Local.FileMode)
		})
	}
}
