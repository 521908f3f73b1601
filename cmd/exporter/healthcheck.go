package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func healthcheckCmd(g *globals) *cobra.Command {
	var path, address string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck --config FILE",
		Short: "Ask a running daemon's /healthz; exit 0 when healthy, 1 when not",
		Long: `healthcheck sends GET /healthz to the daemon serving on the config's
server.listen (or --address) and exits 0 when it answers 200 and 1 otherwise:
not listening, not answering within --timeout, or answering anything else.
A listen address on all interfaces (0.0.0.0:9464, :9464, [::]:9464) is asked
on loopback. It is meant for Docker's HEALTHCHECK in images without a shell
or curl (the exporter image is distroless); Kubernetes probes /healthz and
/readyz itself. /healthz needs no token.`,
		Example: `  exporter healthcheck --config /etc/exporter/jobs.yaml
  exporter healthcheck --address 127.0.0.1:9464 --timeout 2s
  # Dockerfile: HEALTHCHECK CMD ["/usr/local/bin/exporter", "healthcheck", "--config", "/etc/exporter/jobs.yaml"]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if address == "" {
				cfg, err := g.loadConfig(path, exitFailed)
				if err != nil {
					return err
				}
				address = cfg.Server.Listen
			}
			url := "http://" + dialAddress(address) + "/healthz"
			if err := probe(cmd.Context(), url, timeout); err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("unhealthy: %w; is `exporter serve` running with this config, and does server.listen match?", err)}
			}
			fmt.Fprintf(g.stdout, "healthy: %s\n", url)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML): its server.listen is asked")
	cmd.Flags().StringVar(&address, "address", "", "host:port to ask instead of the config's server.listen")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// dialAddress turns a listen address into one to connect to: a listener on
// all interfaces is reached on loopback.
func dialAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// probe GETs url and wants 200.
func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
