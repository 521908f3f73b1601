package gcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
)

// EmulatorHostEnv names the environment variable that points the storage
// client at an emulator such as fake-gcs-server ("localhost:4443" or
// "http://localhost:4443"). When it is set, NewClient connects there
// without credentials.
const EmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// NewClient returns a storage client (JSON API over HTTP). Credentials
// come from credentialsFile, a JSON key or credentials file of type
// service_account, authorized_user, external_account or
// impersonated_service_account; or, when it is empty, from Application
// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
// application-default login, or the metadata server on GCP). When
// STORAGE_EMULATOR_HOST is set the client talks to that emulator without
// credentials and credentialsFile is not read.
//
// The file's content never appears in errors; it is read only to learn its
// type. The caller closes the client.
func NewClient(ctx context.Context, credentialsFile string) (*storage.Client, error) {
	if host := os.Getenv(EmulatorHostEnv); host != "" {
		c, err := storage.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("gcs: create storage client for the emulator at %s=%s: %w", EmulatorHostEnv, host, err)
		}
		return c, nil
	}
	if credentialsFile == "" {
		c, err := storage.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("gcs: create storage client with Application Default Credentials: %w (set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or configure a credentials file)", err)
		}
		return c, nil
	}
	typ, err := credentialsType(credentialsFile)
	if err != nil {
		return nil, err
	}
	c, err := storage.NewClient(ctx, option.WithAuthCredentialsFile(typ, credentialsFile))
	if err != nil {
		return nil, fmt.Errorf("gcs: create storage client with credentials file %s: %w", credentialsFile, err)
	}
	return c, nil
}

// credentialsType reads the "type" field of a credentials file. Its errors
// name the file but never quote it: it holds a private key or a token.
func credentialsType(path string) (option.CredentialsType, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		hint := ""
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hint = " (check the credentials file path in the config)"
		case errors.Is(err, fs.ErrPermission):
			hint = fmt.Sprintf(" (the exporter's user, uid %d, must be able to read it)", os.Getuid())
		}
		return "", fmt.Errorf("gcs: read credentials file: %w%s", err, hint)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		// Not wrapped: a syntax error can quote a byte of the file.
		return "", fmt.Errorf("gcs: credentials file %s is not a JSON credentials file; download a service account key or use Application Default Credentials", path)
	}
	switch t := option.CredentialsType(head.Type); t {
	case option.ServiceAccount, option.AuthorizedUser, option.ExternalAccount, option.ImpersonatedServiceAccount:
		return t, nil
	case "":
		return "", fmt.Errorf("gcs: credentials file %s has no \"type\" field; is it a Google credentials file?", path)
	default:
		return "", fmt.Errorf("gcs: credentials file %s has type %q; want service_account, authorized_user, external_account or impersonated_service_account", path, head.Type)
	}
}
