// Package devserver reads the Temporal dev server's dynamic configuration,
// deploy/temporal/devserver.conf, the one list that scripts/lib.sh and the
// tests' stack start their dev servers with.
package devserver

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Setting is one dynamic-config value: its key and its value as JSON.
type Setting struct {
	Key, Value string
}

// ReadConfig reads the key=value lines of the file at path, skipping blank
// lines and # comments.
func ReadConfig(path string) ([]Setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var settings []Setting
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" || value == "" {
			return nil, fmt.Errorf("%s:%d: %q is not key=value", path, n, line)
		}
		settings = append(settings, Setting{Key: key, Value: value})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return settings, nil
}

// Args turns settings into the Temporal CLI's dev server flags.
func Args(settings []Setting) []string {
	args := make([]string, 0, 2*len(settings))
	for _, s := range settings {
		args = append(args, "--dynamic-config-value", s.Key+"="+s.Value)
	}
	return args
}
