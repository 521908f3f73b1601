//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	execpkg "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/deploy/shipbuild"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/gcs"
)

// The benchmark of finding 5 of issue 14: the scheduler's cost when 1,000
// jobs fire at the same second on two replicas sharing a PostgreSQL state
// store, with a Looker that takes 100 ms per query. Run it with
//
//	go test ./cmd/exporter -run '^$' -bench BenchmarkBurst -benchtime 1x
//
// Each iteration builds nothing (the binary is built once), makes a fresh
// database, starts two `exporter serve` processes on one config, lets the
// 1,000 jobs fire once, and reports:
//
//   - drain_s: from the fire second to the last run recorded finished;
//   - bound_ratio: drain_s over the Looker bound, 1000 x 100 ms / 20
//     queries at once (looker.max_concurrent_queries, shared by the
//     replicas, and the sandbox's limit per Looker user) = 5 s;
//   - cpu_ms/run: user+system CPU of both processes from the fire until
//     every run's log is saved, less their idle rate over as long, per run;
//   - sys_ms/run: the system (kernel) part of cpu_ms/run: the local
//     files' creation, fsyncs and renames, sockets; the rest is the
//     processes' own (Go code, its garbage collection);
//   - rss_MiB: the larger peak RSS (VmHWM) of the two processes.
//
// It fails when a run did not happen exactly once: one succeeded attempt
// per job at the fire time, and one Looker query per job.
//
// It runs twice, by destination: local, every job writing its own folder
// of local files (each run creates, fsyncs and renames its files and
// fsyncs their directory, so its CPU includes the file system's work in
// the kernel), and gcs, every job writing to a bucket of fake-gcs-server
// (in this process, as an emulator: STORAGE_EMULATOR_HOST), as replicas
// sharing a state store in a cluster would; there cpu_ms/run is the
// replicas' own work, the storage service's is not theirs. The gcs
// variant also checks that each job published exactly one data object.
// Its drain_s is bounded by fake-gcs-server, which serves every replica's
// requests from this process (about ten a run), not by the replicas: read
// its cpu_ms/run and rss_MiB.
//
// The work directory, and so the local variant's files, is under TMPDIR.
// Its file system counts: each run creates a folder and three files, and
// ext4 without a journal (as some VM images are made) skips every inode
// freed in the last few minutes when it allocates one (fs/ext4/ialloc.c,
// find_inode_bit: recently_deleted is checked only when s_journal is
// NULL), so after earlier bursts' files were deleted each creation scans
// past thousands of them and sys_ms/run swings by 2 ms from burst to
// burst. On ext4 with a journal (mkfs.ext4's default) or on tmpfs it stays
// near 1. /sys/fs/ext4/<device>/journal_task says which: "<none>" is no
// journal. To measure on a journaled ext4 where the disk has none:
//
//	truncate -s 4G /var/tmp/j.img && mkfs.ext4 -q /var/tmp/j.img
//	mkdir -p /mnt/j && mount -o loop /var/tmp/j.img /mnt/j && chmod 1777 /mnt/j
//	TMPDIR=/mnt/j go test ./cmd/exporter -run '^$' -bench BenchmarkBurst/local -benchtime 1x
//
// EXPORTER_BURST_BIN=PATH runs that binary instead of building this
// package's. EXPORTER_BURST_PPROF=DIR builds the daemon with the pprof tag
// (pprof.go: a /debug/pprof listener) and writes each replica's
// CPU profile of the burst, heap profile after it and log to DIR.

const (
	burstJobs     = 1000
	burstLatency  = 100 * time.Millisecond
	burstReplicas = 2
	burstQueries  = 20 // looker.max_concurrent_queries, over both replicas
	// burstRunsAtOnce is scheduler.max_concurrent_runs, per replica: above
	// its share of the query slots (10), as the README advises, so that a
	// run's work before and after its query (its claim, files and state)
	// overlaps other runs' queries instead of holding a slot idle.
	burstRunsAtOnce  = 15
	burstIdleSeconds = 3 // the idle baseline measured before the fire
)

// buildBurstBinary builds the exporter binary into a directory removed
// when b ends, as the Dockerfile does (shipbuild), or returns
// EXPORTER_BURST_BIN, a binary built elsewhere (another commit's, to
// compare side by side).
func buildBurstBinary(b *testing.B, tags string) string {
	b.Helper()
	if bin := os.Getenv("EXPORTER_BURST_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "exporter")
	var extra []string
	if tags != "" {
		extra = append(extra, tags)
	}
	out, err := shipbuild.Command(context.Background(), "../..", bin, extra...).CombinedOutput()
	require.NoError(b, err, "go build:\n%s", out)
	return bin
}

func burstAdminDSN() string {
	if dsn := os.Getenv("EXPORTER_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// burstDatabase creates a fresh database, dropped when b ends, and returns
// its DSN and a connection to it.
func burstDatabase(b *testing.B) (string, *pgx.Conn) {
	b.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, burstAdminDSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			b.Fatalf("PostgreSQL is not reachable: %v", err)
		}
		b.Skipf("PostgreSQL is not reachable (start it on 127.0.0.1:5432, user postgres, trust, or set EXPORTER_TEST_POSTGRES_DSN): %v", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "burst_" + hex.EncodeToString(rnd[:])
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(b, err)
	b.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	})
	cfg, err := pgx.ParseConfig(burstAdminDSN())
	require.NoError(b, err)
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close(context.Background()) })
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	return dsn, conn
}

// burstConfig is the config of both replicas: burstJobs jobs firing once,
// at fire.
func burstConfig(looker *lookertest.Server, dsn string, dest burstDest, dir string, fire time.Time) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, `looker: {base_url: %s, client_id: %s, client_secret: %s, max_concurrent_queries: %d}
state: {driver: postgres, dsn: "%s"}
scheduler: {max_concurrent_runs: %d}
server: {listen: "127.0.0.1:0"}
defaults: {timezone: UTC, format: csv, catchup: none}
jobs:
`, looker.URL(), looker.ClientID(), looker.ClientSecret(), burstQueries, dsn, burstRunsAtOnce)
	f := fire.UTC()
	schedule := fmt.Sprintf("%d %d %d %d %d *", f.Second(), f.Minute(), f.Hour(), f.Day(), int(f.Month()))
	for i := range burstJobs {
		fmt.Fprintf(&sb, "  - {name: job_%04d, schedule: %q, source: {look_id: \"42\"}, destination: %s}\n",
			i, schedule, dest.destination(dir, i))
	}
	return []byte(sb.String())
}

// burstDest is where the burst's jobs write.
type burstDest string

const (
	burstLocal burstDest = "local"
	burstGCS   burstDest = "gcs"
)

// burstBucket is the gcs variant's bucket.
const burstBucket = "exports"

// destination is job i's destination: its own folder.
func (d burstDest) destination(dir string, i int) string {
	if d == burstGCS {
		return fmt.Sprintf("gs://%s/out/job_%04d/data.csv", burstBucket, i)
	}
	return filepath.Join(dir, "out", fmt.Sprintf("job_%04d", i), "data.csv")
}

// burstReplica is one `exporter serve` child.
type burstReplica struct {
	cmd    *execpkg.Cmd
	logs   string // its stderr, JSON lines
	exited chan struct{}
}

func startBurstReplica(b *testing.B, bin, conf, dir string, i int, env []string) *burstReplica {
	b.Helper()
	logs := filepath.Join(dir, fmt.Sprintf("replica%d.log", i))
	f, err := os.Create(logs)
	require.NoError(b, err)
	r := &burstReplica{logs: logs, exited: make(chan struct{})}
	r.cmd = execpkg.Command(bin, "serve", "--config", conf, "--log-format", "json", "--drain-timeout", "10s")
	r.cmd.Stdout, r.cmd.Stderr = f, f
	r.cmd.Env = append(os.Environ(), env...)
	require.NoError(b, r.cmd.Start())
	go func() { _ = r.cmd.Wait(); _ = f.Close(); close(r.exited) }()
	b.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(20 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if b.Failed() {
			out, _ := os.ReadFile(logs)
			b.Logf("replica %d log:\n%s", i, tail(string(out), 4000))
		}
	})
	return r
}

// waitListening waits, with a deadline, until the replica logs that its
// status server listens, and returns the address.
func (r *burstReplica) waitListening(b *testing.B) string {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		f, err := os.Open(r.logs)
		require.NoError(b, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil && e["msg"] == "status server listening" {
				_ = f.Close()
				return fmt.Sprint(e["addr"])
			}
		}
		_ = f.Close()
		select {
		case <-r.exited:
			out, _ := os.ReadFile(r.logs)
			b.Fatalf("replica exited before listening:\n%s", tail(string(out), 4000))
		default:
		}
		require.True(b, time.Now().Before(deadline), "replica never listened")
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// cpuTicks is the user+system CPU of pid, in clock ticks (1/100 s).
func cpuTicks(b *testing.B, pid int) int64 {
	user, sys := cpuTicksSplit(b, pid)
	return user + sys
}

// cpuTicksSplit is the user and the system CPU of pid, in clock ticks.
func cpuTicksSplit(b *testing.B, pid int) (user, sys int64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(b, err)
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, err := strconv.ParseInt(fields[11], 10, 64) // field 14 of proc(5)
	require.NoError(b, err)
	stime, err := strconv.ParseInt(fields[12], 10, 64) // field 15
	require.NoError(b, err)
	return utime, stime
}

const clockTicks = 100 // USER_HZ on Linux

// peakRSS is VmHWM of pid in MiB.
func peakRSS(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			require.NoError(b, err)
			return kb / 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// burstResult is one burst's measurements.
type burstResult struct {
	drain, cpuPerRun, rss float64
	sysPerRun             float64 // of cpuPerRun, the kernel's (system CPU): file system, sockets
	perReplica            map[string]int
}

func BenchmarkBurst(b *testing.B) {
	pprofDir := os.Getenv("EXPORTER_BURST_PPROF")
	tags := ""
	if pprofDir != "" {
		tags = "pprof"
	}
	bin := buildBurstBinary(b, tags)
	for _, dest := range []burstDest{burstLocal, burstGCS} {
		b.Run(string(dest), func(b *testing.B) { benchmarkBurst(b, bin, pprofDir, dest) })
	}
}

func benchmarkBurst(b *testing.B, bin, pprofDir string, dest burstDest) {
	var sum burstResult
	for i := range b.N {
		res := runBurst(b, bin, pprofDir, dest, i)
		b.Logf("burst %d: drain %.2fs, %.2f ms CPU/run, peak RSS %.1f MiB, runs per replica %v", i, res.drain, res.cpuPerRun, res.rss, res.perReplica)
		sum.drain += res.drain
		sum.cpuPerRun += res.cpuPerRun
		sum.sysPerRun += res.sysPerRun
		sum.rss = max(sum.rss, res.rss)
	}
	bound := float64(burstJobs) * burstLatency.Seconds() / float64(burstQueries)
	b.ReportMetric(sum.drain/float64(b.N), "drain_s")
	b.ReportMetric(sum.drain/float64(b.N)/bound, "bound_ratio")
	b.ReportMetric(sum.cpuPerRun/float64(b.N), "cpu_ms/run")
	b.ReportMetric(sum.sysPerRun/float64(b.N), "sys_ms/run")
	b.ReportMetric(sum.rss, "rss_MiB")
	b.ReportMetric(0, "ns/op")
}

func runBurst(b *testing.B, bin, pprofDir string, dest burstDest, iter int) burstResult {
	b.Helper()
	dir := b.TempDir()
	var env []string
	var bucket *fakestorage.Server
	if dest == burstGCS {
		var err error
		bucket, err = fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http"})
		require.NoError(b, err)
		b.Cleanup(bucket.Stop)
		bucket.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: burstBucket})
		env = append(env, gcs.EmulatorHostEnv+"="+bucket.URL())
	}
	dsn, db := burstDatabase(b)
	looker := lookertest.NewServer(lookertest.Options{
		Rows: 10, QueryLatency: burstLatency, PerUserQueryLimit: burstQueries,
	})
	b.Cleanup(looker.Close)

	// The fire second leaves time to start, and to measure the idle
	// baseline; a start that takes longer fails the benchmark below.
	lead := 12 * time.Second
	if s := os.Getenv("EXPORTER_BURST_LEAD"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err)
		lead = d
	}
	fire := time.Now().Add(lead).Truncate(time.Second)
	conf := filepath.Join(dir, "exporter.yaml")
	require.NoError(b, os.WriteFile(conf, burstConfig(looker, dsn, dest, dir, fire), 0o600))

	if pprofDir != "" {
		require.NoError(b, os.MkdirAll(pprofDir, 0o755))
		env = append(env, "EXPORTER_PPROF_DIR="+dir)
	}
	replicas := make([]*burstReplica, burstReplicas)
	for i := range replicas {
		replicas[i] = startBurstReplica(b, bin, conf, dir, i, env)
	}
	for _, r := range replicas {
		r.waitListening(b)
	}
	pids := make([]int, len(replicas))
	for i, r := range replicas {
		pids[i] = r.cmd.Process.Pid
	}
	cpu := func() int64 {
		var n int64
		for _, pid := range pids {
			n += cpuTicks(b, pid)
		}
		return n
	}
	sysCPU := func() int64 {
		var n int64
		for _, pid := range pids {
			_, sys := cpuTicksSplit(b, pid)
			n += sys
		}
		return n
	}

	idleFrom := fire.Add(-burstIdleSeconds*time.Second - 100*time.Millisecond)
	if time.Now().After(idleFrom) {
		b.Fatalf("the replicas took until %s to start, past the idle baseline's start %s: raise EXPORTER_BURST_LEAD (now %s)",
			time.Now().Format(time.RFC3339Nano), idleFrom.Format(time.RFC3339Nano), lead)
	}
	time.Sleep(time.Until(idleFrom)) // the measurement windows are fixed in wall-clock time
	idleCPU, idleSys := cpu(), sysCPU()
	for _, pid := range pids {
		b.Logf("replica %d before the burst: peak RSS %.1f MiB", pid, peakRSS(b, pid))
	}
	burstFrom := fire.Add(-100 * time.Millisecond)
	time.Sleep(time.Until(burstFrom))
	burstCPU, burstSys := cpu(), sysCPU()
	idleRate := float64(burstCPU-idleCPU) / time.Since(idleFrom).Seconds()
	idleSysRate := float64(burstSys-idleSys) / time.Since(idleFrom).Seconds()
	start := time.Now()

	var profiles sync.WaitGroup
	if pprofDir != "" {
		for i := range replicas {
			profiles.Add(1)
			go func() {
				defer profiles.Done()
				fetchProfile(b, dir, pids[i], "profile?seconds=8", filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("cpu%d.%d.pprof", iter, i)))
			}()
			profiles.Add(1)
			go func() {
				defer profiles.Done()
				time.Sleep(2 * time.Second) // mid-burst
				fetchProfile(b, dir, pids[i], "heap", filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("midheap%d.%d.pprof", iter, i)))
				fetchProfile(b, dir, pids[i], "goroutine", filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("goroutine%d.%d.pprof", iter, i)))
				fetchProfile(b, dir, pids[i], "heap?debug=1", filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("memstats%d.%d.txt", iter, i)))
			}()
		}
	}

	// The burst ends when every run is recorded finished and its log saved.
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	var finished, logged int
	for {
		require.NoError(b, db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM runs WHERE status <> 'running'),
			(SELECT count(DISTINCT run_id) FROM run_logs)`).Scan(&finished, &logged))
		if finished >= burstJobs && logged >= finished {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s, %d runs finished, %d logs saved", time.Since(start), finished, logged)
		}
		time.Sleep(20 * time.Millisecond) // polling the state store with a deadline
	}
	endCPU, endSys := cpu(), sysCPU()
	elapsed := time.Since(start).Seconds()
	rss := 0.0
	for _, pid := range pids {
		rss = max(rss, peakRSS(b, pid))
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			var mem []string
			for _, line := range strings.Split(string(status), "\n") {
				if strings.HasPrefix(line, "Rss") || strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "Threads") {
					mem = append(mem, strings.Join(strings.Fields(line), " "))
				}
			}
			b.Logf("replica %d memory after the burst: %s", pid, strings.Join(mem, ", "))
		}
	}
	profiles.Wait()
	if pprofDir != "" {
		for i, r := range replicas {
			fetchProfile(b, dir, pids[i], "heap", filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("heap%d.%d.pprof", iter, i)))
			logs, err := os.ReadFile(r.logs)
			require.NoError(b, err)
			require.NoError(b, os.WriteFile(filepath.Join(pprofDir, string(dest)+"-"+fmt.Sprintf("replica%d.%d.log", iter, i)), logs, 0o644))
		}
	}

	// Exactly once: one attempt per job, at the fire time, succeeded; one
	// Looker query per job.
	rows, err := db.Query(ctx, `SELECT job, scheduled_time, attempt, status, COALESCE(replica, ''), finished_at FROM runs`)
	require.NoError(b, err)
	seen := map[string]int{}
	perReplica := map[string]int{}
	var last time.Time
	var problems []string
	for rows.Next() {
		var job, status, replica string
		var scheduled, finishedAt time.Time
		var attempt int
		require.NoError(b, rows.Scan(&job, &scheduled, &attempt, &status, &replica, &finishedAt))
		seen[job]++
		perReplica[replica]++
		if finishedAt.After(last) {
			last = finishedAt
		}
		if !scheduled.Equal(fire) || attempt != 1 || status != "succeeded" {
			problems = append(problems, fmt.Sprintf("%s scheduled %s attempt %d: %s", job, scheduled.Format(time.RFC3339), attempt, status))
		}
	}
	require.NoError(b, rows.Err())
	for job, n := range seen {
		if n != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d runs", job, n))
		}
	}
	if len(seen) != burstJobs {
		problems = append(problems, fmt.Sprintf("%d jobs ran, want %d", len(seen), burstJobs))
	}
	if n := looker.Requests("run_look") + looker.Requests("run_query"); n != burstJobs {
		problems = append(problems, fmt.Sprintf("Looker ran %d queries, want %d", n, burstJobs))
	}
	if bucket != nil {
		objs, _, err := bucket.ListObjectsWithOptions(burstBucket, fakestorage.ListOptions{Prefix: "out/"})
		require.NoError(b, err)
		published := map[string]int{}
		for _, o := range objs {
			if strings.HasSuffix(o.Name, "/data.csv") {
				published[o.Name]++
			}
		}
		for i := range burstJobs {
			if name := fmt.Sprintf("out/job_%04d/data.csv", i); published[name] != 1 {
				problems = append(problems, fmt.Sprintf("gs://%s/%s published %d times", burstBucket, name, published[name]))
			}
		}
	}
	b.Logf("Looker requests: %v", burstLookerOps(looker))
	if len(problems) > 0 {
		b.Fatalf("not every run happened exactly once (%d problems):\n%s", len(problems), strings.Join(problems[:min(len(problems), 20)], "\n"))
	}

	cpuS := float64(endCPU-burstCPU)/clockTicks - idleRate/clockTicks*elapsed
	sysS := float64(endSys-burstSys)/clockTicks - idleSysRate/clockTicks*elapsed
	return burstResult{
		drain:      last.Sub(fire).Seconds(),
		cpuPerRun:  cpuS * 1000 / burstJobs,
		sysPerRun:  sysS * 1000 / burstJobs,
		rss:        rss,
		perReplica: perReplica,
	}
}

// fetchProfile saves a pprof profile of the replica pid, whose pprof
// listener (pprof.go) wrote its address to dir.
func fetchProfile(b *testing.B, dir string, pid int, what, to string) {
	addr, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("pprof.%d", pid)))
	if err != nil {
		b.Errorf("pprof address of %d: %v", pid, err)
		return
	}
	resp, err := http.Get("http://" + strings.TrimSpace(string(addr)) + "/debug/pprof/" + what)
	if err != nil {
		b.Errorf("pprof %s of %d: %v", what, pid, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(to)
	if err != nil {
		b.Errorf("pprof: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// burstLookerOps counts the Looker requests of the burst by operation.
func burstLookerOps(looker *lookertest.Server) map[string]int {
	out := map[string]int{}
	for _, op := range []string{"login", "logout", "versions", "get_setting", "me", "look", "query", "run_look", "run_query", "create_query", "lookml_model_explore"} {
		if n := looker.Requests(op); n > 0 {
			out[op] = n
		}
	}
	return out
}
