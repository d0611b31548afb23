package config

import (
	"strings"
	"testing"
)

func TestValidateNotifyChannel(t *testing.T) {
	c := validConfig()
	c.Saga.NotifyChannel = ""
	if err := c.Validate(); err != nil {
		t.Errorf("notify_steps off, no channel: %v", err)
	}
	c.Saga.NotifySteps = true
	if got := errorList(c.Validate()); len(got) != 1 || got[0] != "config: saga.notify_channel: must not be empty" {
		t.Errorf("notify_steps on, no channel: %q", got)
	}
	c.Saga.NotifyChannel = strings.Repeat("c", 64)
	if got := errorList(c.Validate()); len(got) != 1 || !strings.Contains(got[0], "saga.notify_channel: must be at most 63 bytes") {
		t.Errorf("notify_steps on, long channel: %q", got)
	}
}
