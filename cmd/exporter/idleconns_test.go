//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	execpkg "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/web"
)

// idleConnsChildEnv makes TestIdleConnsChild act as the child of
// TestIdleConnectionsLeaveRunsWorking.
const idleConnsChildEnv = "EXPORTER_IDLE_CONNS_CHILD"

// idleConnsChildNoFile is the child's RLIMIT_NOFILE: the soft limit most
// Linux systems start a process with (`ulimit -n`), and what a daemon gets
// unless its unit file raises it.
const idleConnsChildNoFile = 1024

// TestIdleConnsChild is not a test: TestIdleConnectionsLeaveRunsWorking
// runs the test binary again with -test.run=TestIdleConnsChild to get a
// daemon with a low file-descriptor limit that the flood cannot also
// impose on the other tests of this binary. It prints "daemon BASE TOKEN",
// then, for each "run" line on stdin, runs orders_jsonl through the runner
// (no HTTP involved) and prints "run succeeded" or "run failed: ERROR",
// with its count of open file descriptors.
func TestIdleConnsChild(t *testing.T) {
	if os.Getenv(idleConnsChildEnv) == "" {
		t.Skip("helper process for TestIdleConnectionsLeaveRunsWorking; runs only as its child")
	}
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	lim.Cur = min(uint64(idleConnsChildNoFile), lim.Max)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))

	d := startDaemon(t, "127.0.0.1:0")
	fmt.Printf("daemon %s %s\n", d.base, d.token)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "run" {
			continue
		}
		job := d.sched.CurrentJobs()[1]
		require.Equal(t, "orders_jsonl", job.Name)
		_, err := d.app.trigger("test").Run(t.Context(), job, time.Now().Truncate(time.Second), jobs.TriggerOptions{NoRetry: true})
		fds := "unknown"
		if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
			fds = fmt.Sprint(len(ents))
		}
		if err != nil {
			fmt.Printf("run failed: %v (open fds %s)\n", strings.ReplaceAll(err.Error(), "\n", " "), fds)
			continue
		}
		fmt.Printf("run succeeded (open fds %s)\n", fds)
	}
}

// idleConnsChild is the parent's handle on TestIdleConnsChild.
type idleConnsChild struct {
	base, token string
	stdin       io.WriteCloser
	lines       chan string
}

func startIdleConnsChild(t *testing.T) *idleConnsChild {
	t.Helper()
	cmd := execpkg.Command(os.Args[0], "-test.run=^TestIdleConnsChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleConnsChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &idleConnsChild{stdin: stdin, lines: make(chan string, 100)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the child's daemon shuts down and removes its temp dir
		exited := make(chan struct{})
		go func() {
			for range c.lines { // drain, so the child never blocks on stdout
			}
			_ = cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	line := c.next(t, "daemon ")
	f := strings.Fields(line)
	require.Len(t, f, 3, line)
	c.base, c.token = f[1], f[2]
	return c
}

// next returns the child's next line starting with prefix, skipping the
// test framework's own output.
func (c *idleConnsChild) next(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-c.lines:
			require.True(t, ok, "the child exited before saying %q", prefix)
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			t.Fatalf("the child did not say %q", prefix)
		}
	}
}

// TestIdleConnectionsLeaveRunsWorking is the bar of finding 9 of issue
// 11: 2,000 connections that hold the status server open without a token
// and without finishing a request (idle keep-alive after one request,
// silent, and slowloris sending half a header) leave a daemon with the
// usual 1024 file descriptors able to run jobs, to answer /healthz, and to
// take Run now, each on a fresh connection.
func TestIdleConnectionsLeaveRunsWorking(t *testing.T) {
	t.Parallel()
	child := startIdleConnsChild(t)
	addr := strings.TrimPrefix(child.base, "http://")

	const flood = 2000
	conns := make([]net.Conn, 0, flood)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	dialer := net.Dialer{Timeout: 10 * time.Second}
	for i := range flood {
		c, err := dialer.Dial("tcp", addr)
		require.NoError(t, err, "connection %d", i)
		conns = append(conns, c)
		// Write errors are ignored: a server that has already dropped the
		// connection is doing what it should.
		switch i % 8 {
		case 0: // silent: connects and never sends a byte
		case 1: // slowloris: half a header, then nothing
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "))
		default: // keep-alive: one request, then idle, its answer unread
			_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
		}
	}

	// Every check below uses a fresh connection, queued behind the flood.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(method, path string) (int, string, error) {
		req, err := http.NewRequest(method, child.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+child.token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	healthCode, healthBody, healthErr := do(http.MethodGet, "/healthz")

	// A run through the runner alone: it needs file descriptors (the
	// Looker connection, the output file), not the status server.
	_, err := io.WriteString(child.stdin, "run\n")
	require.NoError(t, err)
	ran := child.next(t, "run ")
	t.Log("child: ", ran)
	require.Regexp(t, `^run succeeded `, ran)

	require.NoError(t, healthErr, "/healthz on a fresh connection behind %d idle ones", flood)
	require.Equal(t, http.StatusOK, healthCode, healthBody)

	code, body, err := do(http.MethodPost, "/api/v1/jobs/orders_csv/run")
	require.NoError(t, err, "Run now on a fresh connection")
	require.Equal(t, http.StatusAccepted, code, body)
	var started struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := do(http.MethodGet, "/api/v1/runs/"+started.RunID)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, body)
		var ri web.RunInfo
		require.NoError(t, json.Unmarshal([]byte(body), &ri))
		if ri.FinishedAt != nil && !ri.InFlight {
			require.Equal(t, "succeeded", ri.Status, body)
			require.EqualValues(t, e2eRows, ri.Rows)
			break
		}
		require.True(t, time.Now().Before(deadline), "Run now did not finish in time: %s", body)
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
