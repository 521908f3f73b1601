// Package config loads and validates exporter's YAML configuration.
//
// Loading is strict and reports every problem at once, each with the file
// and line it comes from: unknown keys, bad values, cron expressions,
// time zones, destination templates and missing secrets. ${VAR} and
// ${VAR:-default} in string values are expanded from the environment
// before validation; an unset variable without a default is an error.
// The official Looker SDK variables (LOOKERSDK_BASE_URL,
// LOOKERSDK_CLIENT_ID, LOOKERSDK_CLIENT_SECRET, LOOKERSDK_VERIFY_SSL,
// LOOKERSDK_TIMEOUT) fill what the looker block leaves out, and a
// looker.ini section (looker.ini_file, looker.ini_section) what they leave
// out; looker.client_secret_file reads the secret from a file.
//
// Secrets are held as Secret values, which print as "<secret>".
package config
