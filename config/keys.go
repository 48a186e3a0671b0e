package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/promquery"
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
	var errs []error
	if t == httpConfigType {
		// Decoding validates the block as Prometheus does, and stops at its first problem:
		// checked here, placed at the block, and its keys checked below.
		var h promquery.HTTPConfig
		if err := h.UnmarshalYAML(n); err != nil {
			errs = append(errs, locatedAt(n, pos.at(path), err.Error()))
		}
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		known := map[string]reflect.Type{}
		if anyKey := fieldsOf(t, known); anyKey {
			return errs // an inline map takes any key
		}
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
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			pos.nodes[p] = item
			errs = append(errs, checkKeys(item, t.Elem(), p, pos)...)
		}
		return errs
	}
	return errs
}

// fieldsOf adds the keys of struct t to known, those of its inline structs too; it says whether
// an inline map takes any key.
func fieldsOf(t reflect.Type, known map[string]reflect.Type) (anyKey bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case name == "" && strings.Contains(opts, "inline") && ft.Kind() == reflect.Map:
			anyKey = true
		case name == "" && strings.Contains(opts, "inline") && ft.Kind() == reflect.Struct:
			anyKey = fieldsOf(ft, known) || anyKey
		case name != "" && name != "-":
			known[name] = f.Type
		}
	}
	return anyKey
}

var (
	durationType   = reflect.TypeOf(Duration(0))
	httpConfigType = reflect.TypeOf(promquery.HTTPConfig{})
)
