package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/fedsaga/fedsaga", Version: "v0.3.1-0.20261202100000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-12-02T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	cases := []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string
		want                  Info
	}{
		{"no build information", nil, "", "", "",
			Info{Version: Devel}},
		{"a test or go run binary", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "", "",
			Info{Version: Devel, GoVersion: "go1.26.8"}},
		{"go build in a checkout", stamped, "", "", "",
			Info{Version: stamped.Main.Version, Commit: "0123456789abcdef", Time: "2026-12-02T10:00:00Z", Modified: true, GoVersion: "go1.26.8"}},
		{"release: the linker's values win", stamped, "v1.2.0", "fedcba", "2026-12-01T00:00:00Z",
			Info{Version: "v1.2.0", Commit: "fedcba", Time: "2026-12-01T00:00:00Z", Modified: true, GoVersion: "go1.26.8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.bi, tc.version, tc.commit, tc.date)
			if got.Platform == "" {
				t.Errorf("Platform is empty")
			}
			if tc.want.GoVersion == "" {
				tc.want.GoVersion = got.GoVersion // the running toolchain's
			}
			tc.want.Platform = got.Platform
			if got != tc.want {
				t.Errorf("get = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := Info{Version: "v1.2.0", Commit: "abc", Modified: true, GoVersion: "go1.26.8", Platform: "linux/amd64"}.String()
	for _, want := range []string{"version: v1.2.0\n", "commit:  abc (modified)\n", "go:      go1.26.8 linux/amd64\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, want it to contain %q", s, want)
		}
	}
	if s := (Info{Version: Devel}).String(); !strings.Contains(s, "commit:  unknown\n") {
		t.Errorf("String() of an unknown commit = %q", s)
	}
}
