package config

// UI bounds the web UI's incidents pages.
type UI struct {
	// MaxIncidents is how many incidents the incidents page keeps in memory to list (the open
	// ones first, then the most recently updated); the incidents API reads the bucket itself.
	MaxIncidents int `yaml:"max_incidents"`
	// MaxLiveClients is how many browsers may follow the live updates at once; more are refused
	// (503) and their pages stay as loaded.
	MaxLiveClients int `yaml:"max_live_clients"`
}

func defaultUI() UI { return UI{MaxIncidents: 20000, MaxLiveClients: 64} }

func (c *Config) validateUI(v check) {
	v.inRange("ui.max_incidents", c.UI.MaxIncidents, 100, 1000000)
	v.inRange("ui.max_live_clients", c.UI.MaxLiveClients, 1, 10000)
}
