package chattest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// TeamsMaxBytes is the largest message a Teams webhook takes.
const TeamsMaxBytes = 28 * 1024

// Teams is a Workflows "Post to a channel when a webhook request is received" trigger: it takes
// a message with Adaptive Card attachments at WebhookURL.
type Teams struct {
	*httptest.Server
	faults

	mu    sync.Mutex
	cards [][]byte
}

// teamsPath is the trigger's path; its sig parameter is the secret.
const teamsPath = "/workflows/4f1c/triggers/manual/paths/invoke"

// NewTeams starts a fake Teams workflow webhook, closed when the test ends.
func NewTeams(t testing.TB) *Teams {
	tm := &Teams{}
	tm.Server = httptest.NewServer(http.HandlerFunc(tm.serveHTTP))
	t.Cleanup(tm.Close)
	return tm
}

// WebhookURL is the trigger's URL, signature included.
func (tm *Teams) WebhookURL() string { return tm.URL + teamsPath + "?api-version=1&sig=s3cr3t" }

// Fail makes the next requests get these answers, one each.
func (tm *Teams) Fail(r ...Reply) { tm.push("", "", r...) }

// Cards returns the accepted messages as they were posted.
func (tm *Teams) Cards() [][]byte {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.cards)
}

func teamsError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (tm *Teams) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if tm.serve(w, r) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != teamsPath || r.URL.Query().Get("sig") != "s3cr3t" {
		teamsError(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated.")
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		teamsError(w, http.StatusBadRequest, "InvalidRequestContent", "The content type must be application/json.")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		teamsError(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return
	}
	if len(data) > TeamsMaxBytes {
		teamsError(w, http.StatusRequestEntityTooLarge, "MessageSizeExceeded", fmt.Sprintf("The message is %d bytes, more than %d.", len(data), TeamsMaxBytes))
		return
	}
	if err := CheckTeamsMessage(data); err != nil {
		teamsError(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return
	}
	tm.mu.Lock()
	tm.cards = append(tm.cards, data)
	tm.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// CheckTeamsMessage checks what Teams needs of a workflow message with an Adaptive Card: the
// message type, the card's content type, type and version, a body of known elements with their
// required fields (an Image's http(s) url among them), and Action.OpenUrl buttons with http(s)
// URLs.
func CheckTeamsMessage(data []byte) error {
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
				Actions []map[string]any `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return err
	}
	if msg.Type != "message" || len(msg.Attachments) == 0 {
		return fmt.Errorf(`type must be "message" with attachments`)
	}
	for i, a := range msg.Attachments {
		c := a.Content
		switch {
		case a.ContentType != "application/vnd.microsoft.card.adaptive":
			return fmt.Errorf("attachments[%d].contentType %q", i, a.ContentType)
		case c.Type != "AdaptiveCard" || c.Version == "":
			return fmt.Errorf("attachments[%d].content: type AdaptiveCard and a version required", i)
		case len(c.Body) == 0:
			return fmt.Errorf("attachments[%d].content.body is empty", i)
		}
		if err := checkElements(c.Body); err != nil {
			return fmt.Errorf("attachments[%d].content.body%w", i, err)
		}
		for j, act := range c.Actions {
			u, err := url.Parse(fmt.Sprint(act["url"]))
			if act["type"] != "Action.OpenUrl" || act["title"] == nil || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return fmt.Errorf("attachments[%d].content.actions[%d]: an Action.OpenUrl with a title and an http(s) url required", i, j)
			}
		}
	}
	return nil
}

func checkElements(els []map[string]any) error {
	for i, e := range els {
		switch e["type"] {
		case "TextBlock":
			if s, ok := e["text"].(string); !ok || s == "" {
				return fmt.Errorf("[%d]: a TextBlock needs text", i)
			}
		case "FactSet":
			facts, _ := e["facts"].([]any)
			for j, f := range facts {
				fm, _ := f.(map[string]any)
				if _, ok := fm["title"].(string); !ok {
					return fmt.Errorf("[%d].facts[%d]: title required", i, j)
				}
				if _, ok := fm["value"].(string); !ok {
					return fmt.Errorf("[%d].facts[%d]: value required", i, j)
				}
			}
		case "Container":
			raw, _ := json.Marshal(e["items"])
			var items []map[string]any
			if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
				return fmt.Errorf("[%d]: a Container needs items", i)
			}
			if err := checkElements(items); err != nil {
				return fmt.Errorf("[%d].items%w", i, err)
			}
		case "Image":
			// Teams fetches the picture itself: a path or another scheme shows nothing.
			raw, _ := e["url"].(string)
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("[%d]: an Image needs an http(s) url, not %q", i, raw)
			}
			if alt, ok := e["altText"]; ok {
				if s, ok := alt.(string); !ok || s == "" {
					return fmt.Errorf("[%d]: an Image's altText must be text", i)
				}
			}
		default:
			return fmt.Errorf("[%d]: unknown element type %v", i, e["type"])
		}
	}
	return nil
}
