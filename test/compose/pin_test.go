package compose

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pinned is an image reference with a digest: the bytes cannot change
// behind the tag.
var pinned = regexp.MustCompile(`^\S+@sha256:[0-9a-f]{64}$`)

// TestImagesPinnedByDigest: every image docker-compose.yml pulls and every
// base image of the Dockerfile is pinned by digest.
func TestImagesPinnedByDigest(t *testing.T) {
	cf := loadCompose(t)
	built := fedsagaServices(cf)
	for name, svc := range cf.Services {
		if _, ok := built[name]; ok {
			continue // fedsaga's own image, built from the Dockerfile
		}
		if !pinned.MatchString(svc.Image) {
			t.Errorf("%s: service %s: image %q is not pinned by digest (IMAGE:TAG@sha256:...)", composePath, name, svc.Image)
		}
	}

	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	froms := 0
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "FROM" {
			continue
		}
		froms++
		if len(f) == 4 && strings.EqualFold(f[2], "AS") {
			stages[f[3]] = true
		}
		if image := f[1]; image != "scratch" && !stages[image] && !pinned.MatchString(image) {
			t.Errorf("Dockerfile: FROM %s is not pinned by digest (IMAGE:TAG@sha256:...)", image)
		}
	}
	if froms == 0 {
		t.Error("Dockerfile: no FROM line")
	}
}
