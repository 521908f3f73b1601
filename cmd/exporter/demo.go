package main

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

//go:embed demo.yaml
var demoConfig []byte

func demoCmd(g *globals) *cobra.Command {
	var dir string
	var rows int
	var serveToo bool
	var listen string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the sample jobs against the built-in Looker sandbox, no Looker needed",
		Long: `demo starts the built-in Looker sandbox (an in-process, Looker-compatible API
server with a small sample model) on a loopback port, runs each sample job once
(CSV, compressed CSV, JSON lines, Parquet; a Look, a Look with filters, a
saved query, a query slug, an inline query, a SQL Runner query, a dashboard's
tiles one file each, and the dashboard rendered to PDF) into --dir, prints
what it wrote, and
exits 0 if every run succeeded. With --serve it then keeps the daemon running on
the sandbox, firing the sample jobs every five minutes, until interrupted.`,
		Example: `  exporter demo
  exporter demo --rows 1000000 --dir /tmp/exports
  exporter demo --serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", abs, err)
			}
			token, tokenFile, err := demoToken(abs)
			if err != nil {
				return err
			}
			sandbox, err := lookertest.Start(lookertest.Options{Rows: rows})
			if err != nil {
				return fmt.Errorf("start the Looker sandbox: %w", err)
			}
			defer sandbox.Close()
			env := map[string]string{
				"LOOKERSDK_BASE_URL":      sandbox.URL(),
				"LOOKERSDK_CLIENT_ID":     sandbox.ClientID(),
				"LOOKERSDK_CLIENT_SECRET": sandbox.ClientSecret(),
				"EXPORTER_DEMO_DIR":       abs,
				"EXPORTER_DEMO_LISTEN":    listen,
				"EXPORTER_DEMO_TOKEN":     token,
			}
			cfg, err := config.Parse("demo.yaml (embedded)", demoConfig, config.Options{LookupEnv: func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			}})
			if err != nil {
				return fmt.Errorf("demo config: %w", err)
			}
			if f := cmd.Flag("log-level"); f != nil && !f.Changed && !serveToo {
				g.logLevel = "warn" // the table says it all; --log-level info shows each run's log
			}
			a, err := g.openApp(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close(ctx) //nolint:errcheck

			fmt.Fprintf(g.stdout, "Looker sandbox at %s (%s rows per result); writing to %s\n\n", sandbox.URL(), humanize.Comma(int64(rows)), abs)
			scheduled := time.Now().UTC().Truncate(time.Minute)
			var results []state.Run
			var failed error
			for _, job := range cfg.Jobs {
				run, err := runOnce(ctx, g.term(), a.trigger("run"), job, scheduled, jobs.TriggerOptions{})
				if err != nil && failed == nil {
					failed = err
				}
				results = append(results, run)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSOURCE\tFORMAT\tSTATUS\tROWS\tBYTES\tPATH")
			for i, run := range results {
				job := cfg.Jobs[i]
				path := "-"
				if len(run.URIs) > 0 {
					path = relPath(run.URIs[0])
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", job.Name, job.Source, format(job), run.Status,
					humanize.Comma(run.Rows), humanize.IBytes(uint64(run.Bytes)), path)
				for _, uri := range run.URIs[min(1, len(run.URIs)):] { // a dashboard's other tiles
					fmt.Fprintf(tw, "\t\t\t\t\t\t%s\n", relPath(uri))
				}
			}
			tw.Flush()
			if failed != nil {
				return &exitError{code: exitFailed, err: failed}
			}
			fmt.Fprintf(g.stdout, "\nRun history is in %s. Next: copy config.example.yaml, point it at your Looker, and run `exporter validate --config jobs.yaml`.\n", cfg.State.DSN)
			if !serveToo {
				return nil
			}
			fmt.Fprintf(g.stdout, "Serving the sample jobs on their schedules (every 5 minutes); Ctrl-C to stop.\nStatus page: http://%s/ (to use Run now, Sign in with the token in %s)\n", cfg.Server.Listen, relPath("file://"+tokenFile))
			return serve(cmd, a, 30*time.Second)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "exports", "directory to write the demo files and run history to")
	cmd.Flags().IntVar(&rows, "rows", 10000, "rows in each sandbox result")
	cmd.Flags().StringVar(&listen, "listen", config.DefaultListen, "with --serve: address of the status page, metrics and API")
	cmd.Flags().BoolVar(&serveToo, "serve", false, "after the runs, keep the daemon firing the sample jobs until interrupted")
	return cmd
}

// relPath shows a file:// URI as a path relative to the working directory
// when it is below it.
func relPath(uri string) string {
	p, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return uri
	}
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !filepath.IsAbs(r) && len(r) > 0 && r[0] != '.' {
			return r
		}
	}
	return p
}

// demoToken makes a fresh random bearer token for the demo's status page
// and writes it to dir/.demo-token (readable by the user only). The token
// is never printed: the user reads it from the file to sign in.
func demoToken(dir string) (token, path string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make the demo's status page token: %w", err)
	}
	token = hex.EncodeToString(b)
	path = filepath.Join(dir, ".demo-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write the demo's status page token: %w", err)
	}
	return token, path, nil
}
