// Package httpin holds the rules every JSON POST endpoint of triaged follows, so the webhook and
// the deploy intake answer bad input alike: 405 for another method, 415 for another content type,
// 413 above the size limit, and a one-line plain-text reason with every error status.
package httpin

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// Error is a reply: a 4xx for input that a retry cannot fix, a 5xx for a failure one can.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an Error with a one-line reason.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ReadJSON checks that r POSTs JSON and reads its body into buf, at most limit bytes. what names
// the expected body in the 405 reason ("an Alertmanager webhook").
func ReadJSON(w http.ResponseWriter, r *http.Request, limit int64, buf *bytes.Buffer, what string) error {
	if r.Method != http.MethodPost {
		return Errorf(http.StatusMethodNotAllowed, "method %s not allowed: POST %s", r.Method, what)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, "content type %q not supported: want application/json", r.Header.Get("Content-Type"))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "body larger than the limit of %d bytes", tooBig.Limit)
		}
		return Errorf(http.StatusBadRequest, "read body: %v", err)
	}
	return nil
}

// Reply writes err as the response: its status, and its reason on one line. An error that is not
// an *Error is a 500. It returns the reply as an *Error, for logging and metrics.
func Reply(w http.ResponseWriter, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(http.StatusInternalServerError, "%v", err)
	}
	if e.Code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	http.Error(w, e.Msg, e.Code)
	return e
}
