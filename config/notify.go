package config

// notifySteps checks saga.notify_channel when saga.notify_steps is on: a
// PostgreSQL channel name, at most 63 bytes (longer ones are cut, and would
// not match the observer's LISTEN).
func (v *validator) notifySteps(s Saga) {
	if !s.NotifySteps {
		return
	}
	v.notEmpty("saga.notify_channel", s.NotifyChannel)
	v.want(len(s.NotifyChannel) <= 63, "saga.notify_channel", "must be at most 63 bytes (PostgreSQL's longest name), got %d", len(s.NotifyChannel))
}
