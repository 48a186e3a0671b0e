package fielderr

import (
	"errors"
	"testing"
)

func TestList(t *testing.T) {
	err := Join([]*Error{Errorf("http.url", "bad %q", "x"), Errorf("", "whole spec")})
	fs := List(err)
	if len(fs) != 2 || fs[0].Field != "http.url" || fs[0].Msg != `bad "x"` || fs[1].Field != "" {
		t.Fatalf("List = %+v", fs)
	}
	if err.Error() != "http.url: bad \"x\"\nwhole spec" {
		t.Errorf("Error() = %q", err)
	}
	if Join(nil) != nil || List(nil) != nil {
		t.Error("no errors should give nil")
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Field != "http.url" {
		t.Errorf("errors.As found %+v", fe)
	}
}

func TestUnder(t *testing.T) {
	err := errors.Join(Errorf("http.url", "bad"), Errorf("", "whole spec"), errors.New("plain"))
	got := Under("[0].probes[1]", err)
	want := []string{"[0].probes[1].http.url: bad", "[0].probes[1]: whole spec", "[0].probes[1]: plain"}
	if len(got) != len(want) {
		t.Fatalf("Under = %v", got)
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("%d: %q, want %q", i, got[i], want[i])
		}
	}
	if len(Under("x", nil)) != 0 {
		t.Error("no errors should give none")
	}
}
