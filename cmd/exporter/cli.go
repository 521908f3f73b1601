package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Exit codes. `exporter run` maps a run's outcome onto them.
const (
	exitOK          = 0
	exitFailed      = 1  // the run failed and retrying will not help until something is fixed
	exitUsage       = 2  // bad flags, arguments or config
	exitTempFail    = 75 // the run failed with a retryable error (EX_TEMPFAIL): try again later
	exitInterrupted = 130
)

// version is set with -ldflags "-X main.version=v1.2.3".
var version = ""

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
  exporter history --config jobs.yaml            # recent runs; then: exporter logs RUN_ID --config jobs.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal, else json)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
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
	fmt.Fprintln(stderr, "exporter:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own errors are about flags and arguments.
	return exitUsage
}

func (g *globals) logger() (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, usageErr("--log-level %q: use debug, info, warn or error", g.logLevel)
	}
	format := g.logFormat
	if format == "auto" {
		format = "json"
		if f, ok := g.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, usageErr("--log-format %q: use json, console or auto", g.logFormat)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(g.stderr)), level)
	return zap.New(core), nil
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the exporter version",
		Example: "  exporter version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			bi, ok := debug.ReadBuildInfo()
			if v == "" && ok {
				v = bi.Main.Version
			}
			if v == "" || v == "(devel)" {
				v = "dev"
			}
			goVersion := "unknown"
			if ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(g.stdout, "exporter %s (%s)\n", v, goVersion)
			return nil
		},
	}
}
