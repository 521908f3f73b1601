package gcs_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
)

// These tests set environment variables, so they cannot run in parallel.

func TestNewClientEmulator(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http"})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	t.Setenv(gcs.EmulatorHostEnv, srv.URL())

	// With an emulator the credentials file is not even read.
	client, err := gcs.NewClient(t.Context(), filepath.Join(t.TempDir(), "missing.json"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	s := gcs.New(client, zaptest.NewLogger(t), gcs.Options{})
	require.NoError(t, write(t, s, "gs://b/via-emulator.csv", []byte("hello"), sinks.WriteOptions{}))
	obj, err := srv.GetObject("b", "via-emulator.csv")
	require.NoError(t, err)
	require.Equal(t, []byte("hello"), obj.Content)
}

const secret = "-----BEGIN PRIVATE KEY-----SUPERSECRET"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// serviceAccountKey writes a well-formed service account key file with a
// freshly generated (and useless) private key.
func serviceAccountKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	data, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "test-project",
		"private_key_id": "0123",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "exporter@test-project.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	require.NoError(t, err)
	return writeFile(t, "key.json", string(data))
}

func TestNewClientCredentialsFile(t *testing.T) {
	t.Setenv(gcs.EmulatorHostEnv, "")
	missing := filepath.Join(t.TempDir(), "missing.json")
	notJSON := writeFile(t, "bad.json", secret+"\n")
	noType := writeFile(t, "notype.json", `{"private_key":"`+secret+`"}`)
	badType := writeFile(t, "badtype.json", `{"type":"api_key","private_key":"`+secret+`"}`)
	cases := []struct {
		name, path, wantErr string
	}{
		{"missing", missing, "check the credentials file path"},
		{"not JSON", notJSON, "credentials file " + notJSON + " is not a JSON credentials file"},
		{"no type", noType, `has no "type" field`},
		{"unknown type", badType, `has type "api_key"; want service_account`},
		{"service account", serviceAccountKey(t), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, err := gcs.NewClient(t.Context(), c.path)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				require.NotContains(t, err.Error(), "SUPERSECRET")
				return
			}
			require.NoError(t, err)
			require.NoError(t, client.Close())
		})
	}
}

func TestNewClientApplicationDefaultCredentials(t *testing.T) {
	t.Setenv(gcs.EmulatorHostEnv, "")
	// An empty credentials file means ADC, which the client loads when
	// it is built: a broken GOOGLE_APPLICATION_CREDENTIALS fails here.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, err := gcs.NewClient(t.Context(), "")
	require.ErrorContains(t, err, "create storage client with Application Default Credentials")
	require.ErrorContains(t, err, "missing.json")

	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKey(t))
	client, err := gcs.NewClient(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, client.Close())
}
