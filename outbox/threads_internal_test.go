package outbox

import (
	"encoding/json"
	"testing"

	"github.com/triaged/triaged/notify"
)

// The web UI finds an incident's delivery records by RecordIncidentKey: it must be the key's
// part records.key writes, hashed ids included.
func TestThreadOfReadsWhatRecordsWrite(t *testing.T) {
	for _, id := range []string{"20261126-targetdown-3f9a1c2b7e", "an.id.with.dots", "späte"} {
		key := records{sink: "slack"}.key(id)
		if want := "slack." + RecordIncidentKey(id); key != want {
			t.Errorf("key of %q: %q, RecordIncidentKey gives %q", id, key, want)
		}
		data, _ := json.Marshal(record{Thread: &notify.Thread{Channel: "C1", RootID: "1.2", RootURL: "https://x.example/p1"}, Last: 1})
		sink, part, th := ThreadOf(key, data)
		if sink != "slack" || part != RecordIncidentKey(id) || th == nil || th.RootURL != "https://x.example/p1" {
			t.Errorf("ThreadOf(%q) = %q %q %+v", key, sink, part, th)
		}
	}
	if _, _, th := ThreadOf("stdout.x", []byte(`{"last":3}`)); th != nil {
		t.Errorf("a record without a thread gave %+v", th)
	}
}
