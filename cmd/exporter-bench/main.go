// Command exporter-bench measures the exporter end to end against the
// alternative a user would script, side by side in one run: download the
// same Looker result as CSV, then convert it to Parquet with DuckDB on 2
// threads. It is its own module (DuckDB is a large cgo library that the
// exporter must not link), and builds the exporter from the repository's
// own module, so the binary measured is the one users get.
//
//	cd cmd/exporter-bench && go run . -rows 2000000 -runs 5
//
// The Looker is the built-in sandbox (lookerapi/lookertest) serving the
// 12-column orders Look over HTTP on loopback, in this process. Each
// round runs, in turn: `exporter run` of a Parquet job (snappy, then
// zstd), a download of the CSV to a file, and DuckDB converting that file
// with the same codec in a child process. It prints every round, then the
// medians, the ratio exporter / (download + DuckDB) and the peak RSS of
// each process (its VmHWM at its exit: see runPeak). -small also measures the
// peak RSS of runs of 200 and 100,000 rows.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/lookerexport/exporter/deploy/shipbuild"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "duckdb" {
		if err := duckdbConvert(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "duckdb:", err)
			os.Exit(1)
		}
		return
	}
	rows := flag.Int("rows", 2_000_000, "rows in the result")
	runs := flag.Int("runs", 5, "rounds to run; the medians are printed")
	codecs := flag.String("codecs", "snappy,zstd", "Parquet codecs to compare, comma separated")
	small := flag.Bool("small", false, "also measure the peak RSS of 200-row and 100,000-row runs")
	exporterBin := flag.String("exporter", "", "exporter binary to measure; empty: build it from this repository")
	keep := flag.Bool("keep", false, "keep the work directory")
	serve := flag.Bool("serve", false, "only start the sandbox and write the config, print how to run the exporter on it (to profile it), and wait")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: go run . [flags]\n\nExample:\n  go run . -rows 2000000 -runs 5 -small\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *serve {
		if err := serveOnly(*rows, strings.Split(*codecs, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "exporter-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), *rows, *runs, strings.Split(*codecs, ","), *small, *exporterBin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "exporter-bench:", err)
		os.Exit(1)
	}
}

// measurement is one timed child process.
type measurement struct {
	wall   time.Duration
	rssMiB float64
}

func run(ctx context.Context, rows, runs int, codecs []string, small bool, exporterBin string, keep bool) error {
	dir, err := os.MkdirTemp("", "exporter-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("work directory:", dir)
	}
	if exporterBin == "" {
		exporterBin = filepath.Join(dir, "exporter")
		if err := buildExporter(ctx, exporterBin); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv, cfg, err := startSandbox(dir, rows, codecs)
	if err != nil {
		return err
	}
	defer srv.Close()
	env := append(os.Environ(), "LOOKERSDK_CLIENT_SECRET="+srv.ClientSecret())

	fmt.Printf("%d rows of the 12-column orders Look from the sandbox at %s; %d rounds\n\n", rows, srv.URL(), runs)
	results := map[string][]measurement{}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\twhat\twall s\tpeak RSS MiB\t")
	for r := 1; r <= runs; r++ {
		csvPath := filepath.Join(dir, "download.csv")
		for _, codec := range codecs {
			m, err := exporterRun(ctx, exporterBin, cfg, "parquet_"+codec, env, rows)
			if err != nil {
				return err
			}
			results["exporter "+codec] = append(results["exporter "+codec], m)
			fmt.Fprintf(tw, "%d\texporter → parquet %s\t%.2f\t%.0f\t\n", r, codec, m.wall.Seconds(), m.rssMiB)
		}
		start := time.Now()
		if err := download(ctx, srv, csvPath); err != nil {
			return err
		}
		d := measurement{wall: time.Since(start)}
		results["download"] = append(results["download"], d)
		fmt.Fprintf(tw, "%d\tdownload csv\t%.2f\t-\t\n", r, d.wall.Seconds())
		for _, codec := range codecs {
			m, err := measure(exec.CommandContext(ctx, self, "duckdb", csvPath, filepath.Join(dir, "duckdb.parquet"), codec))
			if err != nil {
				return fmt.Errorf("duckdb: %w", err)
			}
			results["duckdb "+codec] = append(results["duckdb "+codec], m)
			fmt.Fprintf(tw, "%d\tduckdb 2 threads csv → parquet %s\t%.2f\t%.0f\t\n", r, codec, m.wall.Seconds(), m.rssMiB)
		}
		os.Remove(csvPath)
	}
	tw.Flush()

	fmt.Printf("\nmedians of %d rounds, %d rows:\n", runs, rows)
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "codec\texporter s\tdownload s\tduckdb s\tdownload+duckdb s\tratio\texporter rows/s\texporter RSS MiB\tduckdb RSS MiB\t")
	dl := median(results["download"], wallOf)
	for _, codec := range codecs {
		ex := median(results["exporter "+codec], wallOf)
		dk := median(results["duckdb "+codec], wallOf)
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0fk\t%.0f\t%.0f\t\n", codec, ex, dl, dk, dl+dk, ex/(dl+dk),
			float64(rows)/ex/1000, maxOf(results["exporter "+codec]), maxOf(results["duckdb "+codec]))
	}
	tw.Flush()
	fmt.Println("(ratio = exporter / (download + duckdb); RSS is the largest of the rounds)")

	if small {
		fmt.Println("\npeak RSS of small runs (parquet " + codecs[0] + "):")
		for _, n := range []int{200, 100_000} {
			srv.SetRows(n)
			var ms []measurement
			for range runs {
				m, err := exporterRun(ctx, exporterBin, cfg, "parquet_"+codecs[0], env, n)
				if err != nil {
					return err
				}
				ms = append(ms, m)
			}
			fmt.Printf("  %7d rows: median %.0f MiB, max %.0f MiB, wall %.2f s\n", n, median(ms, rssOf), maxOf(ms), median(ms, wallOf))
		}
	}
	return nil
}

func wallOf(m measurement) float64 { return m.wall.Seconds() }
func rssOf(m measurement) float64  { return m.rssMiB }

func median(ms []measurement, f func(measurement) float64) float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func maxOf(ms []measurement) float64 {
	m := 0.0
	for _, x := range ms {
		m = max(m, x.rssMiB)
	}
	return m
}

// buildExporter builds cmd/exporter from the repository's own module as
// the Dockerfile does (shipbuild).
func buildExporter(ctx context.Context, out string) error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	cmd := shipbuild.Command(ctx, root, out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the exporter in %s (run this from cmd/exporter-bench): %w", root, err)
	}
	return nil
}

// startSandbox starts the Looker sandbox with rows rows and writes the
// config of one Parquet job per codec on it into dir; it returns the
// server, to close, and the config's path.
func startSandbox(dir string, rows int, codecs []string) (*lookertest.Server, string, error) {
	srv, err := lookertest.Start(lookertest.Options{Rows: rows})
	if err != nil {
		return nil, "", fmt.Errorf("start the Looker sandbox: %w", err)
	}
	cfg := filepath.Join(dir, "bench.yaml")
	if err := writeConfig(cfg, dir, srv, codecs); err != nil {
		srv.Close()
		return nil, "", err
	}
	return srv, cfg, nil
}

func writeConfig(path, dir string, srv *lookertest.Server, codecs []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `looker:
  base_url: %s
  client_id: %s
  client_secret: ${LOOKERSDK_CLIENT_SECRET}
state:
  driver: sqlite
  dsn: %s
defaults:
  timezone: UTC
  schedule: "0 0 1 1 *"
jobs:
`, srv.URL(), srv.ClientID(), filepath.Join(dir, "state.db"))
	for _, c := range codecs {
		fmt.Fprintf(&b, `  - name: parquet_%[1]s
    source:
      look_id: %[2]q
    format: parquet
    compression: %[1]s
    destination: '%[3]s/out/parquet_%[1]s/{{ .RunID }}.parquet'
`, c, lookertest.LookID, dir)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// exporterRun times `exporter run JOB` and checks it exported rows rows.
func exporterRun(ctx context.Context, bin, cfg, job string, env []string, rows int) (measurement, error) {
	cmd := exec.CommandContext(ctx, bin, "run", job, "--config", cfg, "-o", "json", "--log-level", "warn")
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	m, err := measure(cmd)
	if err != nil {
		return m, fmt.Errorf("exporter run %s: %w\n%s", job, err, out.String())
	}
	var res struct {
		Rows   int64  `json:"rows"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		return m, fmt.Errorf("exporter run %s: read its -o json output: %w\n%s", job, err, out.String())
	}
	if res.Status != "succeeded" || res.Rows != int64(rows) {
		return m, fmt.Errorf("exporter run %s: status %s with %d rows, want succeeded with %d", job, res.Status, res.Rows, rows)
	}
	return m, nil
}

// measure runs cmd and returns its wall time and peak RSS.
func measure(cmd *exec.Cmd) (measurement, error) {
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	start := time.Now()
	peak, err := runPeak(cmd)
	return measurement{wall: time.Since(start), rssMiB: float64(peak) / 1024}, err
}

// download saves the Look's CSV as a user's script would: log in, run the
// Look as csv with every row, write the body to a file.
func download(ctx context.Context, srv *lookertest.Server, path string) error {
	form := url.Values{"client_id": {srv.ClientID()}, "client_secret": {srv.ClientSecret()}}
	resp, err := http.PostForm(srv.URL()+"/api/4.0/login", form)
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return fmt.Errorf("log in to the sandbox: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/api/4.0/looks/"+lookertest.LookID+"/run/csv?limit=-1", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("download: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// duckdbConvert is the child process: DuckDB on 2 threads converts a CSV
// file to Parquet with the codec given.
func duckdbConvert(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: exporter-bench duckdb IN.csv OUT.parquet CODEC")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("SET threads = 2"); err != nil {
		return err
	}
	q := fmt.Sprintf("COPY (SELECT * FROM read_csv('%s')) TO '%s' (FORMAT parquet, COMPRESSION %s)", args[0], args[1], args[2])
	_, err = db.Exec(q)
	return err
}

// serveOnly starts the sandbox, writes the config and waits for a signal;
// then it stops the sandbox and removes the config's directory.
func serveOnly(rows int, codecs []string) error {
	dir, err := os.MkdirTemp("", "exporter-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, cfg, err := startSandbox(dir, rows, codecs)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("sandbox at %s with %d rows; work directory %s\n", srv.URL(), rows, dir)
	fmt.Printf("LOOKERSDK_CLIENT_SECRET=%s exporter run parquet_%s --config %s\n", srv.ClientSecret(), codecs[0], cfg)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
