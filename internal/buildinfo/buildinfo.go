// Package buildinfo tells which build of fedsaga is running: its version,
// the commit it was built from and the Go toolchain that built it.
//
// A release sets the version and commit with the linker:
//
//	go build -ldflags "-X github.com/fedsaga/fedsaga/internal/buildinfo.version=v1.2.0 \
//	    -X github.com/fedsaga/fedsaga/internal/buildinfo.commit=$(git rev-parse HEAD)" ./cmd/fedsaga
//
// Without them, the Go toolchain's own build information fills them in
// (runtime/debug.ReadBuildInfo: the main module's version, vcs.revision,
// vcs.time and vcs.modified), which `go build` in a git checkout records.
package buildinfo

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set with -ldflags -X for a release; each overrides what the Go build
// information says.
var (
	version string // e.g. v1.2.0
	commit  string // the full commit hash
	date    string // the commit's time, RFC 3339
)

// Devel is the version of a build that neither the linker nor the Go build
// information gave a version, such as a test binary.
const Devel = "devel"

// Info describes one build of fedsaga.
type Info struct {
	// Version is the release version (-X ...buildinfo.version), else the
	// main module's version from the Go build information (a tag or a
	// pseudo-version, "+dirty" when the tree had changes), else Devel.
	Version string `json:"version"`
	// Commit is the commit hash (-X ...buildinfo.commit, else
	// vcs.revision), "" when unknown.
	Commit string `json:"commit,omitempty"`
	// Time is the commit's time (-X ...buildinfo.date, else vcs.time),
	// "" when unknown.
	Time string `json:"time,omitempty"`
	// Modified reports uncommitted changes in the tree it was built from
	// (vcs.modified).
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the running binary's build information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(bi, version, commit, date)
}

// get merges the linker's values over bi, which may be nil.
func get(bi *debug.BuildInfo, version, commit, date string) Info {
	info := Info{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var vcs map[string]string
	if bi != nil {
		info.GoVersion = bi.GoVersion
		vcs = map[string]string{}
		for _, s := range bi.Settings {
			vcs[s.Key] = s.Value
		}
		if v := bi.Main.Version; v != "(devel)" {
			info.Version = v
		}
	}
	info.Version = cmp.Or(version, info.Version, Devel)
	info.Commit = cmp.Or(commit, vcs["vcs.revision"])
	info.Time = cmp.Or(date, vcs["vcs.time"])
	info.Modified = vcs["vcs.modified"] == "true"
	return info
}

// Version is the running binary's version: Get().Version.
func Version() string { return Get().Version }

// String is the text `fedsaga version` prints, one fact a line.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %s\n", i.Version)
	c := cmp.Or(i.Commit, "unknown")
	if i.Modified {
		c += " (modified)"
	}
	fmt.Fprintf(&b, "commit:  %s\n", c)
	if i.Time != "" {
		fmt.Fprintf(&b, "time:    %s\n", i.Time)
	}
	fmt.Fprintf(&b, "go:      %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}
