package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/tokenstore"
)

type tokenCreateOptions struct {
	g            *globalOptions
	Name         string
	SMPP         bool
	HTTP         bool
	Test         bool
	CallbackURL  string
	MaxBinds     int
	MaxTPS       int
	AllowIPs     []string
	LongPassword bool
	Output       tokenOutputFlag
}

func newTokenCreateCmd(g *globalOptions, runF func(context.Context, *tokenCreateOptions) error) *cobra.Command {
	opts := &tokenCreateOptions{g: g}
	cmd := &cobra.Command{
		Use:   "create --name NAME [--smpp] [--http] [flags]",
		Short: "Issue a new token and show its secrets once",
		Long: `Issue a new API token for one application.

Every token gets an API key (smppd_live_… or smppd_test_…, for the HTTP API)
and a callback signing secret (whsec_…, for verifying delivery-report
callbacks). With --smpp it also gets an SMPP system_id and password: 8
characters by default, the SMPP 3.4 limit that many clients truncate to, or 32
with --long-password for clients that send long passwords.

The secrets are printed once and cannot be shown again; "smppd token rotate"
issues new ones.`,
		Example: `  # An SMPP sender, live traffic
  smppd token create --name shop --smpp

  # A test-mode integration with HTTP and SMPP, receipts posted to a URL
  smppd token create --name staging --smpp --http --test \
      --callback-url https://staging.example.com/dlr

  # Limited to 2 binds, 100 msg/s, from one network; machine-readable
  smppd token create --name bulk --smpp --max-binds 2 --max-tps 100 \
      --allow-ip 203.0.113.0/24 --output json`,
		Args: tokenNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokenCreate(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Name, "name", "", "token name, unique, up to 64 characters (required)")
	f.BoolVar(&opts.SMPP, "smpp", false, "allow sending over SMPP (issues a system_id and password)")
	f.BoolVar(&opts.HTTP, "http", false, "allow sending over the HTTP API")
	f.BoolVar(&opts.Test, "test", false, "test mode: messages are simulated, never sent to a network")
	f.StringVar(&opts.CallbackURL, "callback-url", "", "http(s) URL that receives delivery reports")
	f.IntVar(&opts.MaxBinds, "max-binds", 0, "maximum concurrent SMPP binds (0 = unlimited)")
	f.IntVar(&opts.MaxTPS, "max-tps", 0, "maximum messages per second (0 = unlimited)")
	f.StringArrayVar(&opts.AllowIPs, "allow-ip", nil, "allow binds only from this CIDR or address (repeatable; default any)")
	f.BoolVar(&opts.LongPassword, "long-password", false, "issue a 32-character SMPP password instead of 8")
	addTokenOutputFlag(cmd, &opts.Output)
	return cmd
}

// params checks the flags and turns them into CreateParams.
func (o *tokenCreateOptions) params() (tokenstore.CreateParams, error) {
	if err := o.Output.check(); err != nil {
		return tokenstore.CreateParams{}, err
	}
	if o.Name == "" {
		return tokenstore.CreateParams{}, usageErrorf("--name is required")
	}
	if err := tokenstore.ValidateName(o.Name); err != nil {
		return tokenstore.CreateParams{}, tokenFlagErr("--name", err)
	}
	if !o.SMPP && !o.HTTP {
		return tokenstore.CreateParams{}, usageErrorf("no permission chosen: give --smpp, --http or both")
	}
	if o.LongPassword && !o.SMPP {
		return tokenstore.CreateParams{}, usageErrorf("--long-password needs --smpp")
	}
	if err := tokenstore.ValidateCallbackURL(o.CallbackURL); err != nil {
		return tokenstore.CreateParams{}, tokenFlagErr("--callback-url", err)
	}
	if o.MaxBinds < 0 {
		return tokenstore.CreateParams{}, usageErrorf("--max-binds must be 0 (unlimited) or more, not %d", o.MaxBinds)
	}
	if o.MaxTPS < 0 {
		return tokenstore.CreateParams{}, usageErrorf("--max-tps must be 0 (unlimited) or more, not %d", o.MaxTPS)
	}
	ips, err := parseTokenAllowIPs(o.AllowIPs)
	if err != nil {
		return tokenstore.CreateParams{}, err
	}
	return tokenstore.CreateParams{
		Name:         o.Name,
		Permissions:  tokenstore.Permissions{SMPP: o.SMPP, HTTP: o.HTTP},
		TestMode:     o.Test,
		CallbackURL:  o.CallbackURL,
		Limits:       tokenstore.Limits{MaxBinds: o.MaxBinds, MaxTPS: o.MaxTPS, AllowIPs: ips},
		LongPassword: o.LongPassword,
	}, nil
}

func runTokenCreate(ctx context.Context, o *tokenCreateOptions) error {
	p, err := o.params()
	if err != nil {
		return err
	}
	var res admin.TokenResult
	err = withTokens(ctx, o.g, true, func(ops admin.TokenOps) error {
		res, err = ops.CreateToken(ctx, p)
		return err
	})
	if err != nil {
		return err
	}
	w := o.g.Stdout
	if o.Output == "json" {
		err = writeTokenJSON(w, createdView{tokenView: tokenViewOf(res.Token), Password: res.Secrets.Password,
			APIKey: res.Secrets.APIKey, CallbackSecret: res.CallbackSecret})
	} else {
		t := res.Token
		fmt.Fprintf(w, "Created token %q (%s): %s mode, permissions %s.\n\n", t.Name, t.ID, tokenMode(t), t.Permissions)
		err = writeSecretsText(w, res)
	}
	fmt.Fprintln(o.g.Stderr, tokenSecretsWarning)
	return err
}
