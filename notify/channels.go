package notify

// Channels says whether the sink posts into a channel that routing picks (a chat sink); the
// other kinds ignore Delivery.Channel.
func (p *SinkPlan) Channels() bool { return p.kind.channels }

// Channel is the sink's default channel: where it posts when routing picks none.
func (p *SinkPlan) Channel() string { return p.cfg.Channel }
