package triage

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/triaged/triaged"
)

var validFingerprint = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)

func decodeAlert(data []byte) (*triaged.Alert, error) {
	var a triaged.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	switch {
	case a.Status != triaged.StatusFiring && a.Status != triaged.StatusResolved:
		return nil, fmt.Errorf("status %q", a.Status)
	case len(a.Labels) == 0:
		return nil, errors.New("no labels")
	case a.StartsAt.IsZero():
		return nil, errors.New("no startsAt")
	case !validFingerprint.MatchString(a.ID()):
		return nil, fmt.Errorf("fingerprint %q is not hexadecimal", a.ID())
	}
	return &a, nil
}
