package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// bodyLooker answers every run with body.
type bodyLooker struct{ body string }

func (b bodyLooker) Run(context.Context, lookerapi.Source, lookerapi.RunOptions) (*lookerapi.Result, error) {
	return &lookerapi.Result{Body: io.NopCloser(strings.NewReader(b.body)), ContentType: "application/json", Timezone: "UTC"}, nil
}

// TestInvalidUTF8IsReplacedAndCounted: one policy for every format: a
// byte sequence that is not UTF-8 is written as U+FFFD, the run succeeds,
// and the manifest and the run's log count the replacements.
func TestInvalidUTF8IsReplacedAndCounted(t *testing.T) {
	t.Parallel()
	const jsonBody = "[{\"users.name\":\"Ren\xe9e\",\"orders.id\":1},{\"users.name\":\"Zo\xeb \xff\",\"orders.id\":2}]"
	const csvBody = "Users Name,Orders ID\nRen\xe9e,1\nZo\xeb \xff,2\n"
	for name, tc := range map[string]struct{ keys, body string }{
		"json to jsonl":   {"format: jsonl\nresult_format: json", jsonBody},
		"csv passthrough": {"format: csv", csvBody},
		"raw csv":         {"format: raw\nresult_format: csv", csvBody},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 1)
			b.runner.Looker = bodyLooker{tc.body}
			job := b.job(t, "latin1", "source: {look_id: '42'}\n"+tc.keys+"\ndestination: '$DIR/out.data'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)
			out := b.readBack(t, run.URIs[0])
			require.True(t, bytes.Contains(out, []byte("Ren\uFFFDe")), "%q", out)
			require.True(t, bytes.Contains(out, []byte("Zo\uFFFD \uFFFD")), "%q", out)
			if strings.Contains(tc.keys, "jsonl") {
				sc := bufio.NewScanner(bytes.NewReader(out))
				for sc.Scan() {
					require.True(t, json.Valid(sc.Bytes()))
				}
			}
			var m publish.Manifest
			require.NoError(t, json.Unmarshal(b.readBack(t, "file://"+filepath.Join(b.dir, "_manifest.json")), &m))
			require.EqualValues(t, 3, m.InvalidUTF8)
			lines, err := b.store.RunLog(context.Background(), run.ID)
			require.NoError(t, err)
			var warned bool
			for _, l := range lines {
				warned = warned || strings.Contains(l.Message, "not UTF-8")
			}
			require.True(t, warned)
		})
	}
}
