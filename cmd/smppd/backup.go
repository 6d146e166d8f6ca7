package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

func newBackupCmd(g *globalOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Write a consistent copy of the running daemon's stores and master key",
		Long: `Ask the running daemon to write a consistent copy of tokens.db, messages.db
and the master key (secret.key) into DIR, while it keeps serving. Each
database is copied from one read transaction, so the copy is what a clean
stop at that instant would have left. DIR must not exist or be empty, and the
daemon writes it: under systemd's ProtectSystem=strict that means a path
inside the data directory or one listed in ReadWritePaths=.

Never copy the .db files of a running daemon with cp or rsync: bbolt rewrites
pages in place, and such a copy can be torn. To restore, stop the daemon,
put the three files in an empty data directory (mode 0700, owned by the
daemon's user) and start it. The master key decrypts the stored callback
secrets; keep the backup as secret as the data directory.`,
		Example: `  smppd backup --to /var/lib/smppd/backups/$(date -u +%Y%m%dT%H%M%SZ)
  smppd --config /etc/smppd/smppd.yaml backup --to /srv/backup/smppd/today`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return withHint(errors.New("backup needs --to DIR"), "smppd backup --to "+filepath.Join(g.DataDir, "backups", "now"))
			}
			dir, err := filepath.Abs(to)
			if err != nil {
				return usageErrorf("--to %q: %v", to, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			var res backupResult
			if err := daemonClient(g).Call(ctx, opBackup, backupArgs{Dir: dir}, &res); err != nil {
				return daemonErr(g, err)
			}
			for _, f := range res.Files {
				fmt.Fprintf(g.Stdout, "%s\t%s\n", f.Path, humanBytes(f.Bytes))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "directory to write the copy into (absolute on the daemon's side; must not exist or be empty)")
	return cmd
}
