// Package fielderr is a problem at one named field of a value that was decoded elsewhere — a
// probe or log-source spec, a catalog entry, a deploy event — for the caller to place: the config
// loader prefixes its own path ("services[0].probes[1]") and looks up the line and column; the
// deploy API answers 400 with the text; triagetool names the flag.
package fielderr

import (
	"errors"
	"fmt"
)

// Error is a problem at a field. Field is a dotted path relative to the value ("http.url",
// "command.argv[2]", "service"), or "" for the value as a whole.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Errorf returns an *Error at field.
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Join returns the errors as one error (nil for none), in order, for errors.As and errors.Join
// consumers alike.
func Join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// List takes apart an error made by Join, in order. An error in it that is not an *Error becomes
// one for the value as a whole.
func List(err error) []*Error {
	if err == nil {
		return nil
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, List(e)...)
		}
		return out
	}
	var fe *Error
	if errors.As(err, &fe) {
		return []*Error{fe}
	}
	return []*Error{{Msg: err.Error()}}
}

// Under returns the errors of err (see List) with their fields placed under path:
// Under("[0].probes[1]", err) turns "http.url" into "[0].probes[1].http.url".
func Under(path string, err error) []*Error {
	list := List(err)
	out := make([]*Error, len(list))
	for i, fe := range list {
		field := path
		if fe.Field != "" {
			field += "." + fe.Field
		}
		out[i] = &Error{Field: field, Msg: fe.Msg}
	}
	return out
}
