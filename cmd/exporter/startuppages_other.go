//go:build !linux

package main

// releaseStartupPages is Linux's alone (startuppages_linux.go).
func releaseStartupPages() {}
