// Package deploy checks what ships the exporter: the Dockerfile (built
// here with its own flags, as docker is not available to the tests) and
// the Helm chart in deploy/helm/exporter (its rendered manifests decoded
// strictly into the Kubernetes API types). It has only tests, so the
// product binary never imports k8s.io.
package deploy
