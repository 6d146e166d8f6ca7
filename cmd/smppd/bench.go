package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the bench issue's work before it lands.
func newBenchCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "(not yet built)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench: not yet built") },
	}
}
