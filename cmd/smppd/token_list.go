package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenListOptions struct {
	g      *globalOptions
	Output tokenOutputFlag
}

func newTokenListCmd(g *globalOptions, runF func(context.Context, *tokenListOptions) error) *cobra.Command {
	opts := &tokenListOptions{g: g}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Long: `List every token, revoked ones included, oldest first: name, id, SMPP
system_id, permissions, test or live mode, active or revoked, creation time and
last SMPP bind. Secrets are never shown.`,
		Example: `  smppd token list
  smppd token list --output json | jq -r '.[] | select(.active) | .name'`,
		Args: tokenNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenList(cmd.Context(), opts)
		},
	}
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTokenList(ctx context.Context, o *tokenListOptions) error {
	if err := o.Output.check(); err != nil {
		return err
	}
	var ts []tokenstore.Token
	err := withTokens(ctx, o.g, false, func(ops admin.TokenOps) error {
		var err error
		ts, err = ops.ListTokens(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		views := make([]tokenView, 0, len(ts))
		for _, t := range ts {
			views = append(views, tokenViewOf(t))
		}
		return writeTokenJSON(o.g.Stdout, views)
	}
	return writeTokenTable(o.g.Stdout, ts)
}
