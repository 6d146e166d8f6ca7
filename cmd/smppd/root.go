package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smppd/smppd/internal/config"
)

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	// DataDir holds the bbolt files and the admin socket.
	DataDir string
	// ConfigFile is the YAML configuration (--config, env SMPPD_CONFIG).
	ConfigFile string
	Stdout     io.Writer
	Stderr     io.Writer
}

// usageError marks an error caused by how the command was called (bad flag
// value, missing argument); main exits 2 for it.
// Its text is one line; main appends hint, when set, to the same line
// ("...; see 'smppd serve --help'").
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

// withHint returns err as a usage error carrying hint.
func withHint(err error, hint string) error {
	return &usageError{msg: err.Error(), hint: hint}
}

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func defaultDataDir() string {
	if d := os.Getenv("SMPPD_DATA_DIR"); d != "" {
		return d
	}
	return "./smppd-data"
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{Stdout: stdout, Stderr: stderr}
	root := &cobra.Command{
		Use:   "smppd",
		Short: "SMPP 3.4 gateway with token-authenticated binds",
		Long: `smppd is an SMPP 3.4 gateway. High-volume senders bind to it with their own
SMPP clients, authenticated by API tokens that operators issue from this CLI.

Start a throw-away gateway with a test token:   smppd serve --dev
Issue a token for an application:              smppd token create --name shop --smpp
Drive load at a gateway:                        smppd bench --addr 127.0.0.1:2775 ...`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.DataDir, "data-dir", defaultDataDir(),
		"directory holding the bbolt files and the admin socket (env SMPPD_DATA_DIR)")
	root.PersistentFlags().StringVar(&g.ConfigFile, "config", os.Getenv("SMPPD_CONFIG"),
		"YAML configuration file; 'smppd serve --help' explains the keys (env SMPPD_CONFIG)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		hint := fmt.Sprintf("see '%s --help'", c.CommandPath())
		if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
			var names []string
			c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
			if best := config.Closest(name, names); best != "" {
				hint = fmt.Sprintf("did you mean --%s? (%s)", best, hint)
			}
		}
		return withHint(err, hint)
	})
	// The client commands (token, sessions, status) find the daemon's data
	// directory in the config file when neither --data-dir nor
	// SMPPD_DATA_DIR names it, so `--config /etc/smppd/smppd.yaml` is
	// enough for all of them.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.ConfigFile == "" || cmd.Flags().Changed("data-dir") || os.Getenv("SMPPD_DATA_DIR") != "" {
			return nil
		}
		cfg, _, err := config.Load(config.LoadOptions{File: g.ConfigFile, SkipValidate: true})
		if err != nil {
			return configError(err)
		}
		g.DataDir = cfg.DataDir
		return nil
	}

	root.AddCommand(
		newServeCmd(g),
		newTokenCmd(g),
		newBenchCmd(g),
		newSessionsCmd(g),
		newStatusCmd(g),
		newVersionCmd(g),
		newUpstreamCmd(g),
		newBackupCmd(g),
		newManCmd(g),
	)
	requireUsageErrors(root)
	return root
}

// requireUsageErrors makes every argument-count error a usage error (exit
// 2) with a pointer to the command's help, on root and all its children.
func requireUsageErrors(c *cobra.Command) {
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return withHint(err, "see '"+cmd.CommandPath()+" --help'")
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		requireUsageErrors(sub)
	}
}
