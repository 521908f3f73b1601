package main

import (
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/config"
)

// completeJobs completes a job name argument from the jobs of the
// command's --config (shell completion: `exporter completion bash`).
// max is how many job arguments the command takes (0: any number); names
// already given are not offered again. A config that does not validate
// (a secret's variable unset in this shell, say) still offers the names
// of its main file's jobs.
func completeJobs(g *globals, max int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		path, _ := cmd.Flags().GetString("config")
		if path == "" || (max > 0 && len(args) >= max) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		if cfg, err := config.Load(path, g.loadOptions()); err == nil {
			names = cfg.JobNames()
		} else {
			names = rawJobNames(path)
		}
		var out []cobra.Completion
		for _, name := range names {
			if strings.HasPrefix(name, toComplete) && !slices.Contains(args, name) {
				out = append(out, name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// rawJobNames are the job names in a config file read as plain YAML,
// without validation (nil when it cannot be read).
func rawJobNames(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var raw struct {
		Jobs []struct {
			Name string `yaml:"name"`
		} `yaml:"jobs"`
	}
	if yaml.Unmarshal(data, &raw) != nil {
		return nil
	}
	var names []string
	for _, j := range raw.Jobs {
		if j.Name != "" {
			names = append(names, j.Name)
		}
	}
	return names
}
