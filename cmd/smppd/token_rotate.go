package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenRotateOptions struct {
	g              *globalOptions
	Token          string
	SMPPPassword   bool
	APIKey         bool
	CallbackSecret bool
	Output         tokenOutputFlag
}

func newTokenRotateCmd(g *globalOptions, runF func(context.Context, *tokenRotateOptions) error) *cobra.Command {
	opts := &tokenRotateOptions{g: g}
	cmd := &cobra.Command{
		Use:   "rotate ID|NAME [--smpp-password] [--api-key] [--callback-secret]",
		Short: "Replace a token's secrets and show the new ones once",
		Long: `Replace some of a token's secrets and show the new ones once. Without flags,
rotate replaces the API key and, if the token has the SMPP permission, the SMPP
password; the callback signing secret changes only with --callback-secret,
since every receiver must then be given the new one.

Old secrets stop working at once: new SMPP binds need the new password and the
old API key is refused. SMPP sessions that are already bound stay bound (they
authenticated when they bound); to end them now, revoke the token, or remove
and re-grant its SMPP permission with "smppd token update".`,
		Example: `  smppd token rotate shop
  smppd token rotate shop --smpp-password
  smppd token rotate shop --api-key --output json
  smppd token rotate shop --callback-secret`,
		Args: exactlyOneToken,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Token = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenRotate(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.SMPPPassword, "smpp-password", false, "issue a new SMPP password (same length kind as before)")
	f.BoolVar(&opts.APIKey, "api-key", false, "issue a new API key (prefix follows the current test/live mode)")
	f.BoolVar(&opts.CallbackSecret, "callback-secret", false, "issue a new callback signing secret")
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTokenRotate(ctx context.Context, o *tokenRotateOptions) error {
	if err := o.Output.check(); err != nil {
		return err
	}
	p := tokenstore.RotateParams{SMPPPassword: o.SMPPPassword, APIKey: o.APIKey, CallbackSecret: o.CallbackSecret}
	var res admin.TokenResult
	err := withTokens(ctx, o.g, true, func(ops admin.TokenOps) error {
		var err error
		res, err = ops.RotateToken(ctx, o.Token, p)
		return err
	})
	if err != nil {
		return err
	}
	w := o.g.Stdout
	if o.Output == "json" {
		err = writeTokenJSON(w, issuedView{tokenView: tokenViewOf(res.Token), Password: res.Secrets.Password,
			APIKey: res.Secrets.APIKey, CallbackSecret: res.CallbackSecret})
	} else {
		fmt.Fprintf(w, "Rotated secrets of token %q (%s).\n\n", res.Token.Name, res.Token.ID)
		err = writeSecretsText(w, res)
	}
	fmt.Fprintln(o.g.Stderr, tokenSecretsWarning)
	return err
}
