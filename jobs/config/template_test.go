package config_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// TestTemplateRendersEachRunsData: renders at once, from many goroutines,
// each see their own data, in fields, date, hive and inside with and range.
func TestTemplateRendersEachRunsData(t *testing.T) {
	t.Parallel()
	tpl, err := config.ParseTemplate(`/out/{{ .Job }}/{{ hive "dt" "2006-01-02" }}/{{ with .RunID }}{{ date "15h04" }}-{{ . }}{{ end }}.csv`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g*1000+i) * 37 * time.Minute)
				d := config.TemplateData{Job: fmt.Sprintf("job%d", g), RunID: fmt.Sprintf("run%d", i), ScheduledTime: at}
				got, err := tpl.Render(d)
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("/out/job%d/dt=%s/%s-run%d.csv", g, at.Format("2006-01-02"), at.Format("15h04"), i), got)
			}
		})
	}
	wg.Wait()
}
