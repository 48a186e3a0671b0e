package ui

import (
	"context"
	"net/http"

	"github.com/triaged/triaged/broker"
)

// DeadLettersSource reads the dead-letters stream: *broker.DeadLetterStore.
type DeadLettersSource interface {
	List(ctx context.Context, limit int) (broker.DeadLetterList, error)
}

// deadLettersShown bounds the dead letters page; the API pages further.
const deadLettersShown = 200

type deadLettersData struct {
	Available  bool
	List       broker.DeadLetterList
	Err        string
	Shown      int
	BearerAuth bool
}

func (u *UI) deadLettersPage(w http.ResponseWriter, r *http.Request) {
	d := deadLettersData{Shown: deadLettersShown, BearerAuth: u.opts.WriteAuth == WriteAuthBearer}
	if src := u.opts.DeadLetters; src != nil {
		d.Available = true
		list, err := boundedErr(r.Context(), u.opts.ReadTimeout, func(ctx context.Context) (broker.DeadLetterList, error) {
			return src.List(ctx, deadLettersShown)
		})
		if err != nil {
			d.Err = err.Error()
		}
		d.List = list
	}
	u.render(w, r, "dead-letters", "Dead letters · triaged", d)
}
