package triaged

import "fmt"

// Bounds of a graph's key in the graphs bucket, "<incident id>.<graph name>".
const (
	MaxGraphIncidentIDLen = 128
	MaxGraphNameLen       = 128
)

// GraphKey is the key of incident id's graph name in the graphs bucket: "<id>.<name>". It
// refuses what would make an invalid or ambiguous key: an id holds letters, digits, '_' and
// '-' (incident ids are "20261126-targetdown-3f9a1c2b7e"), a name is a metric's name as the
// service catalog gives it, [a-z_][a-z0-9_]* (AlertExpressionMetric among them).
func GraphKey(id, name string) (string, error) {
	if err := CheckGraphIncidentID(id); err != nil {
		return "", err
	}
	if err := CheckGraphName(name); err != nil {
		return "", err
	}
	return id + "." + name, nil
}

// CheckGraphIncidentID says why id cannot be an incident's in a graph's key, or nil.
func CheckGraphIncidentID(id string) error {
	if id == "" || len(id) > MaxGraphIncidentIDLen {
		return fmt.Errorf("incident id %q: want 1 to %d characters", cut(id, 64), MaxGraphIncidentIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("incident id %q: %q is not allowed, want letters, digits, '_' or '-'", cut(id, 64), c)
		}
	}
	return nil
}

// CheckGraphName says why name cannot be a graph's, or nil: it must match [a-z_][a-z0-9_]*.
func CheckGraphName(name string) error {
	if name == "" || len(name) > MaxGraphNameLen {
		return fmt.Errorf("graph name %q: want 1 to %d characters", cut(name, 64), MaxGraphNameLen)
	}
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("graph name %q: %q is not allowed at %d, want [a-z_][a-z0-9_]*", cut(name, 64), c, i)
		}
	}
	return nil
}
