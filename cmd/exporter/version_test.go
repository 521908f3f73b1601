package main

import (
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
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

// TestVersionOfTheDockerBuild builds the binary with the Dockerfile's own
// go build line (docker is not available here) and runs `version`: with
// VERSION and REVISION passed, it prints them; without REVISION it prints
// the git revision Go stamped from the checkout, and "(modified" when the
// checkout has uncommitted changes. The first build compiles everything
// with the Dockerfile's flags (-trimpath, CGO_ENABLED=0): minutes on a
// cold cache.
func TestVersionOfTheDockerBuild(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(mustRead(t, "../../Dockerfile"))
	require.NotNil(t, m, "the Dockerfile has no `RUN CGO_ENABLED=0 go build ...` line")
	require.Contains(t, m[1], "-o /out/exporter ./cmd/exporter")
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "exporter")
	build := func(env ...string) string {
		t.Helper()
		cmd := osexec.Command("sh", "-c", strings.Replace(m[1], "/out/exporter", bin, 1))
		cmd.Dir = root
		// GOFLAGS as in the golang image: a -buildvcs=false in the
		// developer's go env would hide the stamped revision.
		cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=-buildvcs=auto"}, env...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", m[1], out)
		out, err = osexec.Command(bin, "version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		flag, err := osexec.Command(bin, "--version").CombinedOutput()
		require.NoError(t, err, "%s", flag)
		require.Equal(t, string(out), string(flag))
		return string(out)
	}

	out := build("VERSION=v9.8.7-test", "REVISION=0123456789abcdef0123456789abcdef01234567")
	require.Regexp(t, `^exporter v9\.8\.7-test\nrevision: 0123456789abcdef0123456789abcdef01234567( \(modified[^\n]*)?\ngo: go1\.`, out)

	if st, err := os.Stat(filepath.Join(root, ".git")); err != nil || !st.IsDir() {
		// Go stamps vcs.revision only where .git is a directory: not in a
		// git worktree (.git is a file there). CI's clone checks it.
		t.Skip("the stamped revision is checked only in a clone whose .git is a directory (git clone, as CI does), not in a git worktree")
	}
	head, err := osexec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	require.NoError(t, err, "git is needed to check the revision Go stamps")
	status, err := osexec.Command("git", "-C", root, "status", "--porcelain").Output()
	require.NoError(t, err)
	out = build("VERSION=v9.8.7-test", "REVISION=")
	want := "revision: " + strings.TrimSpace(string(head))
	if len(status) > 0 {
		want += " (modified"
	}
	require.Contains(t, out, "exporter v9.8.7-test\n"+want, out)
}
