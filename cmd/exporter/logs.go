package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
)

func logsCmd(g *globals) *cobra.Command {
	var ro readOnly
	cmd := &cobra.Command{
		Use:   "logs RUN_ID --config FILE",
		Short: "Show a run's outcome and its saved log lines",
		Long: `logs prints a run's status, error and outputs, then the log lines saved with it
(the last server.log_lines lines of the run), from the state store: it works
after the fact and from any replica. Find run ids with ` + "`exporter history`" + `.`,
		Example: `  exporter logs 01JD3Q8V5ZK2M7X4T9R6B1C0EA --config jobs.yaml
  exporter logs 01JD3Q8V5ZK2M7X4T9R6B1C0EA --config jobs.yaml -o json | jq '.lines[].message'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, store, err := ro.open(ctx, g)
			if err != nil {
				return err
			}
			defer store.Close()
			run, err := store.GetRun(ctx, args[0])
			if errors.Is(err, state.ErrNotFound) {
				return &exitError{code: exitFailed, err: fmt.Errorf("no run %q in the state store; list runs with `exporter history`", args[0])}
			}
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("read run %s: %w", args[0], err)}
			}
			lines, err := store.RunLog(ctx, run.ID)
			if err != nil && !errors.Is(err, state.ErrNotFound) {
				return &exitError{code: exitFailed, err: fmt.Errorf("read the log of run %s: %w", run.ID, err)}
			}
			ri := web.NewRunInfo(run, time.Now())
			if ro.output == "json" {
				return writeJSONOut(g.stdout, map[string]any{"run": ri, "lines": web.NewLogLines(lines)})
			}
			w := g.stdout
			fmt.Fprintf(w, "run %s  job %s  attempt %d  %s\n", ri.ID, sanitize(ri.Job), ri.Attempt, strings.ToUpper(ri.Status))
			fmt.Fprintf(w, "scheduled %s  started %s  took %s  rows %d  bytes %d\n", ri.ScheduledTime.Format(time.RFC3339), ri.StartedAt.Format(time.RFC3339),
				time.Duration(ri.DurationSeconds*float64(time.Second)).Round(time.Millisecond), ri.Rows, ri.Bytes)
			for _, u := range ri.URIs {
				fmt.Fprintf(w, "output %s\n", sanitize(u))
			}
			if ri.Error != "" {
				fmt.Fprintf(w, "error (%s): %s\n", ri.ErrorClass, sanitize(ri.Error))
			}
			fmt.Fprintln(w)
			if len(lines) == 0 {
				fmt.Fprintln(w, "(no log lines saved for this run)")
			}
			for _, l := range web.NewLogLines(lines) {
				fmt.Fprintf(w, "%s %-5s %s%s\n", l.Time.UTC().Format("2006-01-02T15:04:05.000Z"), strings.ToUpper(l.Level), sanitize(l.Message), fieldsSuffix(l.Fields))
			}
			return nil
		},
	}
	ro.flags(cmd)
	return cmd
}

// fieldsSuffix shows a log line's fields as key=value, without the job,
// run_id and attempt every line carries.
func fieldsSuffix(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return " " + string(raw)
	}
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		switch k {
		case "job", "run_id", "attempt":
			continue
		}
		v := m[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(&b, " %s=%q", k, s)
			continue
		}
		js, _ := json.Marshal(v)
		fmt.Fprintf(&b, " %s=%s", k, js)
	}
	return b.String()
}

// oneLine shortens s to n runes on one line, without terminal control.
func oneLine(s string, n int) string {
	s = strings.ReplaceAll(sanitize(s), "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
