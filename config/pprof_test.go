package config

import (
	"slices"
	"strings"
	"testing"
)

func TestWorkerPprofNeedsTheHTTPAddress(t *testing.T) {
	c := validConfig()
	c.Worker.Pprof = true
	if err := c.Validate(); err != nil {
		t.Fatalf("pprof on the worker's address: %v", err)
	}
	c.Worker.HTTPAddress = ""
	err := c.Validate()
	if keys := problemKeys(err); !slices.Equal(keys, []string{"worker.pprof"}) || !strings.Contains(err.Error(), "worker.http_address") {
		t.Errorf("pprof without an address: %v (keys %v), want one problem with worker.pprof naming worker.http_address", err, keys)
	}
}
