package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
)

// Exit codes. `exporter run` maps a run's outcome onto them.
const (
	exitOK          = 0
	exitFailed      = 1  // the run failed and retrying will not help until something is fixed
	exitUsage       = 2  // bad flags, arguments or config
	exitTempFail    = 75 // the run failed with a retryable error (EX_TEMPFAIL): try again later
	exitInterrupted = 130
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

type globals struct {
	stdout, stderr io.Writer
	logFormat      string
	logLevel       string
	lookerINI      string // --looker-ini

	termOnce sync.Once
	terminal *terminal // stderr, shared by log lines and the progress line; see term
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "exporter",
		Short: "Run Looker queries on a schedule and deliver the results to GCS or local files",
		Long: `exporter runs Looker Looks, saved queries, inline queries and SQL Runner queries
on cron schedules, converts the results to CSV, JSON lines or Parquet, compresses
them, and writes them atomically to gs:// or local paths. Every run is recorded
in a state store (SQLite by default).`,
		Example: `  exporter demo                                  # try it: built-in Looker sandbox, files in ./exports
  exporter validate --config jobs.yaml           # check a config, every problem with its line
  exporter run --config jobs.yaml orders_daily   # one run now
  exporter serve --config jobs.yaml              # the daemon, with its status page on 127.0.0.1:9464
  exporter history --config jobs.yaml            # recent runs; then: exporter logs RUN_ID --config jobs.yaml
  exporter serve --config jobs.yaml --log-format gcp   # JSON lines for Google Cloud Logging: severity, message, time, labels job and run_id
  source <(exporter completion bash)             # tab-completes commands, flags and (after --config) job names`,
		Version:       readBuildInfo().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}")
	root.Flags().BoolP("version", "v", false, "print the version, VCS revision and Go version (as exporter version does)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: json, console, gcp (Google Cloud Logging), or auto (console on a terminal, gcp on Cloud Run and GKE, else json)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.lookerINI, "looker-ini", "", "a looker.ini file to take the Looker connection from, as the SDKs do (section looker.ini_section, default Looker); the config's looker: keys and LOOKERSDK_* variables override it")
	root.AddCommand(
		validateCmd(g),
		runCmd(g),
		backfillCmd(g),
		serveCmd(g),
		demoCmd(g),
		jobsCmd(g),
		historyCmd(g),
		logsCmd(g),
		checkCmd(g),
		versionCmd(g),
		healthcheckCmd(g),
	)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	printError(stderr, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own errors are about flags and arguments.
	return exitUsage
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the exporter version, VCS revision and Go version",
		Long: `Print the exporter's version, the VCS revision it was built from ("(modified)" when
the checkout had uncommitted changes) and the Go version and platform. The same as
exporter --version. A running daemon shows the same in exporter_build_info on /metrics.`,
		Example: `  exporter version
  exporter --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(g.stdout, readBuildInfo())
			return nil
		},
	}
}
