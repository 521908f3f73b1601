# syntax=docker/dockerfile:1
# Build: docker build -t exporter .
# Run:   docker run -v $PWD/jobs.yaml:/etc/exporter/jobs.yaml -e LOOKERSDK_CLIENT_ID -e LOOKERSDK_CLIENT_SECRET exporter
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/exporter ./cmd/exporter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/exporter /usr/local/bin/exporter
WORKDIR /home/nonroot
USER nonroot:nonroot
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/exporter"]
CMD ["serve", "--config", "/etc/exporter/jobs.yaml"]
