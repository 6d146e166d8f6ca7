package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd generates the man pages from the commands themselves, so they
// never drift from --help. Packagers run it at build time (make man).
func newManCmd(g *globalOptions) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man --dir DIR",
		Short: "Write the man pages (section 1) of every smppd command into DIR",
		Long: `Write one roff man page per command (smppd.1, smppd-serve.1,
smppd-token-create.1, ...) into DIR, generated from the same text as --help.
'make man' runs it into ./man; 'make install' installs the pages.`,
		Example: `  smppd man --dir ./man && man ./man/smppd-serve.1`,
		Args:    cobra.NoArgs,
		Hidden:  true, // a packaging tool, not an operator command
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return withHint(errors.New("man needs --dir DIR"), "smppd man --dir ./man")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			header := &doc.GenManHeader{Title: "SMPPD", Section: "1", Source: "smppd " + version(), Manual: "smppd manual"}
			// Reproducible builds set SOURCE_DATE_EPOCH; the page date follows it.
			if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
				date := time.Unix(sec, 0).UTC()
				header.Date = &date
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "man pages written to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write the pages into (created)")
	return cmd
}
