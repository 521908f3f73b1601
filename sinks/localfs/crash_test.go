package localfs_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// crashTargetEnv names the file the helper process writes; its presence
// is what makes TestHelperProcess act as the child.
const crashTargetEnv = "EXPORTER_LOCALFS_CRASH_TARGET"

// TestHelperProcess is not a test: TestCrashLeavesNothingVisible runs the
// test binary again with -test.run=TestHelperProcess to get a child that
// streams a large file through the sink and reports progress on stdout,
// until it is killed.
func TestHelperProcess(t *testing.T) {
	target := os.Getenv(crashTargetEnv)
	if target == "" {
		t.Skip("helper process for TestCrashLeavesNothingVisible; runs only as its child")
	}
	s := localfs.New(zap.NewNop())
	w, err := s.Create(t.Context(), target, sinks.WriteOptions{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	const reportAt = 32 << 20
	for written := 0; written < 1<<30; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		if written == reportAt {
			fmt.Println("streaming", written) // the parent kills us now
		}
	}
	select {} // 1 GiB written and the parent has not killed us: wait for it
}

// TestCrashLeavesNothingVisible is bar 2 of issue 5 for local files: a
// child process streaming a large file is killed with SIGKILL mid-write.
// Nothing appears under the destination name, the crash leaves only our
// recognisable temp file, and CleanupTemp (what the exporter runs at
// start-up) removes it.
func TestCrashLeavesNothingVisible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "dt=2026-01-02", "orders ü.csv")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashTargetEnv+"="+target)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child died before reporting progress")
	require.True(t, strings.HasPrefix(line, "streaming "), "child said %q", line)
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred Abort, no cleanup
	err = cmd.Wait()
	require.ErrorContains(t, err, "signal: killed")

	require.NoFileExists(t, target, "a killed writer must leave nothing under the destination name")
	entries, err := os.ReadDir(filepath.Dir(target))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the crash leaves exactly one temp file")
	leftover := filepath.Join(filepath.Dir(target), entries[0].Name())
	require.Regexp(t, `^\.orders ü\.csv\.exporter-tmp-[0-9a-f]{16}$`, entries[0].Name())
	fi, err := os.Stat(leftover)
	require.NoError(t, err)
	require.GreaterOrEqual(t, fi.Size(), int64(32<<20), "the child had really written a large part")

	// The next start.
	removed, err := localfs.New(zaptest.NewLogger(t)).CleanupTemp(dir)
	require.NoError(t, err)
	require.Equal(t, []string{leftover}, removed)
	entries, err = os.ReadDir(filepath.Dir(target))
	require.NoError(t, err)
	require.Empty(t, entries)
}
