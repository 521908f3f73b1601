package main

import (
	"context"
	"regexp"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVersionCommand: `exporter version` and `exporter --version` print
// the same: version, VCS revision, Go version and platform.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exec(t, context.Background(), "version")
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `^exporter \S+\nrevision: \S+.*\ngo: `+regexp.QuoteMeta(runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)+"\n$", stdout)
	for _, f := range []string{"--version", "-v"} {
		code, flag, stderr := exec(t, context.Background(), f)
		require.Equal(t, exitOK, code, stderr)
		require.Equal(t, stdout, flag, f)
	}
	_, help, _ := exec(t, context.Background(), "--help")
	require.Contains(t, help, "-v, --version")
}
