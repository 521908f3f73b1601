package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// readOnly is what the read commands (jobs, history, logs) share: the
// config and the state store the daemon writes.
type readOnly struct {
	path   string
	output string
}

func (ro *readOnly) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&ro.path, "config", "c", "", "config file (YAML); its state: section names the store to read")
	outputFlag(cmd, &ro.output)
}

// outputFlag adds -o/--output text|json to cmd.
func outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "text", "output format: text or json")
}

// checkOutput refuses an --output other than text or json.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageErr("--output %q: use text or json", output)
	}
	return nil
}

func (ro *readOnly) open(ctx context.Context, g *globals) (*config.Config, state.Store, error) {
	if err := checkOutput(ro.output); err != nil {
		return nil, nil, err
	}
	cfg, err := g.loadConfig(ro.path, exitUsage)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, &exitError{code: exitFailed, err: err}
	}
	return cfg, store, nil
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
