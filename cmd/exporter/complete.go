package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/config"
)

// completeJobs completes a job name argument from the jobs of the
// command's --config (shell completion: `exporter completion bash`).
// max is how many job arguments the command takes (0: any number); names
// already given are not offered again. Without a loadable --config it
// offers nothing.
func completeJobs(g *globals, max int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		path, _ := cmd.Flags().GetString("config")
		if path == "" || (max > 0 && len(args) >= max) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := config.Load(path, g.loadOptions())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, name := range cfg.JobNames() {
			if strings.HasPrefix(name, toComplete) && !slices.Contains(args, name) {
				out = append(out, name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
