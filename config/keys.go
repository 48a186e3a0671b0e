package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks the YAML mapping against the struct's yaml tags, so an unknown or misspelt key
// is reported with its position and the keys that would have been accepted.
func checkKeys(n *yaml.Node, t reflect.Type, path string, pos positions) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		// Checked here rather than left to decoding, which stops at the first bad value.
		var d Duration
		if err := d.UnmarshalYAML(n); err != nil {
			return []error{locatedAt(n, pos.at(path), err.Error())}
		}
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		known := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				known[name] = f.Type
			}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			pos.nodes[p] = v
			ft, ok := known[k.Value]
			if !ok {
				where := fmt.Sprintf("%s:%d:%d: %s", pos.file, k.Line, k.Column, p)
				errs = append(errs, locatedAt(k, where, "unknown key (known keys: "+strings.Join(slices.Sorted(maps.Keys(known)), ", ")+")"))
				continue
			}
			errs = append(errs, checkKeys(v, ft, p, pos)...)
		}
		return errs
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		var errs []error
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			pos.nodes[p] = item
			errs = append(errs, checkKeys(item, t.Elem(), p, pos)...)
		}
		return errs
	}
	return nil
}

var durationType = reflect.TypeOf(Duration(0))
