package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// versionJSON is what `fedsaga version --output json` prints.
type versionJSON struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Time      string `json:"time"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// buildFedsaga builds the fedsaga binary with the given -ldflags.
func buildFedsaga(t *testing.T, ldflags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fedsaga")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags %q: %v\n%s", ldflags, err, out)
	}
	return bin
}

// runBin runs bin with args outside any configuration and returns stdout.
func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()                                              // no ./fedsaga.toml
	cmd.Env = append(os.Environ(), "FEDSAGA_CONFIG=/nonexistent.toml") // version must not read it
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fedsaga %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func decodeVersion(t *testing.T, s string) versionJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var v versionJSON
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("version --output json printed %q: %v", s, err)
	}
	return v
}

// A release build: the linker's values are what version and --version
// print.
func TestVersionFromLdflags(t *testing.T) {
	const pkg = "github.com/fedsaga/fedsaga/internal/buildinfo"
	bin := buildFedsaga(t, "-X "+pkg+".version=v9.8.7-test -X "+pkg+".commit=0123456789abcdef0123456789abcdef01234567 -X "+pkg+".date=2026-12-02T10:00:00Z")

	text := runBin(t, bin, "version")
	for _, want := range []string{"version: v9.8.7-test\n", "commit:  0123456789abcdef0123456789abcdef01234567\n", "time:    2026-12-02T10:00:00Z\n", "go:      go1."} {
		if !strings.Contains(text, want) {
			t.Errorf("fedsaga version printed %q, want it to contain %q", text, want)
		}
	}
	if flag := runBin(t, bin, "--version"); flag != text {
		t.Errorf("fedsaga --version printed %q, want what fedsaga version prints, %q", flag, text)
	}
	v := decodeVersion(t, runBin(t, bin, "version", "--output", "json"))
	if v.Version != "v9.8.7-test" || v.Commit != "0123456789abcdef0123456789abcdef01234567" || v.Time != "2026-12-02T10:00:00Z" ||
		!strings.HasPrefix(v.GoVersion, "go1.") || v.Platform == "" {
		t.Errorf("fedsaga version --output json = %+v", v)
	}
}

// Without -ldflags the Go build information recorded in the binary is
// what version prints, and "devel" when it has no version.
func TestVersionFromBuildInfo(t *testing.T) {
	bin := buildFedsaga(t, "")
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := versionJSON{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if want.Version == "" || want.Version == "(devel)" {
		want.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			want.Commit = s.Value
		case "vcs.time":
			want.Time = s.Value
		}
	}
	v := decodeVersion(t, runBin(t, bin, "version", "--output", "json"))
	v.Platform = ""
	if v != want {
		t.Errorf("fedsaga version --output json = %+v, want %+v from the binary's build information", v, want)
	}
	if text := runBin(t, bin, "--version"); !strings.Contains(text, "version: "+want.Version+"\n") {
		t.Errorf("fedsaga --version printed %q, want version %s", text, want.Version)
	}
}
