# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t exporter .
# Run:   see README.md "Docker": the image serves on 0.0.0.0:9464 (EXPORTER_LISTEN) and needs a token
#        (EXPORTER_TOKEN_FILE or EXPORTER_TOKEN), the config at /etc/exporter/jobs.yaml, and a volume on
#        /var/lib/exporter for SQLite state (or state.driver: postgres).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
# go build fetches only the modules the binary imports: none of the tests'
# (chromedp, fake-gcs-server, testify, k8s.io/api); deploy/dockerfile_test.go
# builds with this line's flags and checks it. The disable_grpc_modules tag
# leaves out the GCS client's gRPC DirectPath (xDS and Envoy's protobufs),
# which the exporter never uses (it talks to GCS over HTTPS): the binary is
# 20 MB smaller and a run starts in 13 MiB less RSS.
ARG VERSION=dev
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -tags disable_grpc_modules -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/exporter ./cmd/exporter
# The state directory, owned by distroless' nonroot user (65532).
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/exporter /usr/local/bin/exporter
COPY --from=build --chown=65532:65532 /out/state /var/lib/exporter
# SQLite state (state.dsn exporter.db, relative to here) lives on a volume,
# not in the container's writable layer: mount one here, or use postgres.
VOLUME /var/lib/exporter
WORKDIR /var/lib/exporter
USER 65532:65532
# Probes and Prometheus reach the server from outside the container: it
# listens on all interfaces, so it needs a token (EXPORTER_TOKEN_FILE or
# EXPORTER_TOKEN, or server.token(_file) in jobs.yaml; the config's keys win).
ENV EXPORTER_LISTEN=0.0.0.0:9464
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/exporter", "healthcheck", "--config", "/etc/exporter/jobs.yaml", "--timeout", "5s"]
# On SIGTERM (docker stop) serve stops firing, drains runs for --drain-timeout,
# then records them interrupted: give docker stop -t (or Kubernetes'
# terminationGracePeriodSeconds) more than the drain, e.g. drain + 15s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/exporter"]
CMD ["serve", "--config", "/etc/exporter/jobs.yaml", "--drain-timeout", "60s"]
