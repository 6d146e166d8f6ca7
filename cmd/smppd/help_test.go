package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// noExamplesYet are commands that have no Example yet; every runnable
// command has one now.
var noExamplesYet = map[string]bool{}

// TestHelpEveryCommand runs --help on every command: it succeeds, prints
// the usage, and every runnable command shows examples.
func TestHelpEveryCommand(t *testing.T) {
	var walk func(c *cobra.Command)
	var paths [][]string
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&bytes.Buffer{}, &bytes.Buffer{}))
	if len(paths) < 10 {
		t.Fatalf("found %d commands", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.Join(append([]string{"smppd"}, path...), " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRootCmd(&out, &errOut)
			root.SetArgs(append(path, "--help"))
			if err := root.Execute(); err != nil {
				t.Fatalf("--help: %v", err)
			}
			text := out.String()
			if !strings.Contains(text, "Usage:") {
				t.Errorf("--help printed no usage:\n%s", text)
			}
			c, _, _ := root.Find(path)
			if c.Runnable() && !strings.HasPrefix(c.CommandPath(), "smppd completion") && !noExamplesYet[c.CommandPath()] &&
				!strings.Contains(text, "Examples:") {
				t.Errorf("%s --help has no examples", c.CommandPath())
			}
		})
	}
}

// TestServeHelpNamesEnv: every configuration flag names its environment
// variable in --help, so the three spellings of a key are in one place.
func TestServeHelpNamesEnv(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd(&out, &out)
	root.SetArgs([]string{"serve", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--receipt-ttl duration", "[SMPPD_RECEIPT_TTL]", "[SMPPD_HTTP_LISTEN]", "--print-config", "--config string"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}
