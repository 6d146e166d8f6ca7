package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the serve issue's work before it lands.
func newServeCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "(not yet built)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("serve: not yet built") },
	}
}
