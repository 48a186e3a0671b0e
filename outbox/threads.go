package outbox

import (
	"encoding/json"
	"strings"

	"github.com/triaged/triaged/notify"
)

// RecordIncidentKey is the incident's part of its delivery records' keys, "<sink>.<part>": the
// id itself, or a hash of it when the id cannot be a key token.
func RecordIncidentKey(incident string) string {
	return strings.TrimPrefix(records{}.key(incident), ".")
}

// ThreadOf reads a delivery record as the deliveries bucket holds it under key, for the web UI's
// links to the message a chat sink posted: the sink, the incident's part of the key
// (RecordIncidentKey), and the thread, nil when the sink posted none or the record is not one.
func ThreadOf(key string, value []byte) (sink, incident string, th *notify.Thread) {
	sink, incident, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", nil
	}
	var r record
	if json.Unmarshal(value, &r) != nil {
		return sink, incident, nil
	}
	return sink, incident, r.Thread
}
