package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenRevokeOptions struct {
	g      *globalOptions
	Token  string
	Output tokenOutputFlag
}

func newTokenRevokeCmd(g *globalOptions, runF func(context.Context, *tokenRevokeOptions) error) *cobra.Command {
	opts := &tokenRevokeOptions{g: g}
	cmd := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token for good",
		Long: `Revoke a token: its SMPP password and API key stop working at once, and
while the daemon runs its bound SMPP sessions are unbound immediately.
Revocation cannot be undone; the token stays listed as revoked and its name
may be given to a new token. Revoking a revoked token changes nothing.`,
		Example: `  smppd token revoke shop
  smppd token revoke tok_3xq7mzk2b4yd6p1a`,
		Args: exactlyOneToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Token = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenRevoke(cmd.Context(), opts)
		},
	}
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTokenRevoke(ctx context.Context, o *tokenRevokeOptions) error {
	if err := o.Output.check(); err != nil {
		return err
	}
	var t tokenstore.Token
	err := withTokens(ctx, o.g, true, func(ops admin.TokenOps) error {
		var err error
		t, err = ops.RevokeToken(ctx, o.Token)
		return err
	})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeTokenJSON(o.g.Stdout, tokenViewOf(t))
	}
	_, err = fmt.Fprintf(o.g.Stdout, "Revoked token %q (%s) at %s.\n", t.Name, t.ID, tokenTimeText(t.RevokedAt, "-"))
	return err
}
