package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenShowOptions struct {
	g      *globalOptions
	Token  string
	Output tokenOutputFlag
}

func newTokenShowCmd(g *globalOptions, runF func(context.Context, *tokenShowOptions) error) *cobra.Command {
	opts := &tokenShowOptions{g: g}
	cmd := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one token (never its secrets)",
		Long: `Show one token: permissions, mode, callback URL, limits, SMPP system_id,
the first characters of its API key (to recognise a leaked key) and its
timestamps. Secrets are never shown.`,
		Example: `  smppd token show shop
  smppd token show tok_3xq7mzk2b4yd6p1a --output json`,
		Args: exactlyOneToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Token = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenShow(cmd.Context(), opts)
		},
	}
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTokenShow(ctx context.Context, o *tokenShowOptions) error {
	if err := o.Output.check(); err != nil {
		return err
	}
	var t tokenstore.Token
	err := withTokens(ctx, o.g, false, func(ops admin.TokenOps) error {
		var err error
		t, err = ops.GetToken(ctx, o.Token)
		return err
	})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeTokenJSON(o.g.Stdout, tokenViewOf(t))
	}
	return writeTokenText(o.g.Stdout, t)
}
