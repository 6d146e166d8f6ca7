package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// PLACEHOLDER: replaced by the token issue's work before it lands.
func newTokenCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "token",
		Short: "(not yet built)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("token: not yet built") },
	}
}
