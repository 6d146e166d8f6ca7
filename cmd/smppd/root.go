package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	// DataDir holds the bbolt files and the admin socket.
	DataDir string
	Stdout  io.Writer
	Stderr  io.Writer
}

// usageError marks an error caused by how the command was called (bad flag
// value, missing argument); main exits 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{msg: err.Error()}
	})

	root.AddCommand(
		newServeCmd(g),
		newTokenCmd(g),
		newBenchCmd(g),
		newSessionsCmd(g),
		newStatusCmd(g),
		newVersionCmd(g),
	)
	return root
}
