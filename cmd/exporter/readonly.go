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
	cmd.Flags().StringVarP(&ro.output, "output", "o", "text", "output format: text or json")
}

func (ro *readOnly) open(ctx context.Context) (*config.Config, state.Store, error) {
	if ro.output != "text" && ro.output != "json" {
		return nil, nil, usageErr("--output %q: use text or json", ro.output)
	}
	cfg, err := loadConfig(ro.path, exitUsage)
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
