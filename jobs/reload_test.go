package jobs_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
)

func namesOf(js []*config.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Name
	}
	return out
}

// TestJobSetReloadIsOneEventForEveryListener: a reload swaps the set, then
// tells each listener the whole new list, in the order they were wired,
// and says what was added, kept and removed.
func TestJobSetReloadIsOneEventForEveryListener(t *testing.T) {
	t.Parallel()
	a, b, c := &config.Job{Name: "a"}, &config.Job{Name: "b"}, &config.Job{Name: "c"}
	var mu sync.Mutex
	var heard []string
	var set *jobs.JobSet
	listener := func(name string) jobs.Reloader {
		return jobs.ReloaderFunc(func(js []*config.Job) {
			mu.Lock()
			defer mu.Unlock()
			// The set already serves the new list when listeners hear of it.
			require.Equal(t, namesOf(js), namesOf(set.Jobs()))
			heard = append(heard, name+":"+strings.Join(namesOf(js), ","))
		})
	}
	set = jobs.NewJobSet([]*config.Job{a, b}, listener("scheduler"), listener("metrics"), listener("notify"))
	require.Equal(t, []string{"a", "b"}, namesOf(set.Jobs()))
	require.Same(t, b, set.Job("b"))
	require.Nil(t, set.Job("c"))

	ch := set.Reload([]*config.Job{c, a})
	require.Equal(t, jobs.JobChanges{Added: []string{"c"}, Kept: []string{"a"}, Removed: []string{"b"}}, ch)
	require.Equal(t, []string{"scheduler:c,a", "metrics:c,a", "notify:c,a"}, heard)
	require.Nil(t, set.Job("b"))
	require.Same(t, c, set.Job("c"))

	// The caller's slice is not the set's.
	got := set.Jobs()
	got[0] = b
	require.Equal(t, []string{"c", "a"}, namesOf(set.Jobs()))
}
