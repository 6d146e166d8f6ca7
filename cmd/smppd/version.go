package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildInfo is `smppd version --output json`.
type buildInfo struct {
	Version   string `json:"version"`            // module version, "(devel)" for a source build
	Revision  string `json:"revision,omitempty"` // VCS commit
	Time      string `json:"time,omitempty"`     // commit time (RFC 3339)
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`         // toolchain
	Platform  string `json:"platform"`           // GOOS/GOARCH
	CGO       string `json:"cgo_enabled,omitempty"`
}

func readBuildInfo() buildInfo {
	info := buildInfo{Version: "(unknown)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.Version = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "CGO_ENABLED":
			info.CGO = s.Value
		}
	}
	return info
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version smppd was built from",
		Long: `Print the module version, VCS revision and Go toolchain recorded by the Go
toolchain at build time (runtime/debug.ReadBuildInfo). A binary built from a
checkout with -buildvcs=false has no revision.`,
		Example: `  smppd version
  smppd version --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if output == "json" {
				return writeTokenJSON(g.Stdout, readBuildInfo())
			}
			bi := readBuildInfo()
			fmt.Fprintf(g.Stdout, "smppd %s (%s, %s)\n", version(), bi.GoVersion, bi.Platform)
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

// version is the module version and the VCS revision's first 12 digits
// (with "+dirty" when the tree had uncommitted changes): what logs and
// `smppd status` show.
func version() string {
	bi := readBuildInfo()
	v := bi.Version
	if len(bi.Revision) >= 12 {
		v += " " + bi.Revision[:12]
		if bi.Modified {
			v += "+dirty"
		}
	}
	return v
}
