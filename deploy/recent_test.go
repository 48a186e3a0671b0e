package deploy

import (
	"fmt"
	"testing"
	"time"
)

func TestRecentListsLatestPairsFirst(t *testing.T) {
	ix := memIndex(t,
		ev("checkout", "prod", "c1", 3*time.Hour),
		ev("checkout", "prod", "c2", 2*time.Hour),
		ev("checkout", "prod", "c3", 1*time.Hour),
		ev("payments", "prod", "p1", 10*time.Minute),
		ev("checkout", "staging", "s1", 20*time.Minute),
		ev("auth", "", "a1", 20*time.Minute),
	)
	for _, tc := range []struct {
		maxSeries, perSeries int
		want                 string
	}{
		{10, 10, "payments/prod[p1] auth/[a1] checkout/staging[s1] checkout/prod[c3 c2 c1]"},
		{2, 10, "payments/prod[p1] auth/[a1]"},
		{10, 2, "payments/prod[p1] auth/[a1] checkout/staging[s1] checkout/prod[c3 c2]"},
		{0, 10, ""},
	} {
		got := ""
		for _, s := range ix.Recent(tc.maxSeries, tc.perSeries) {
			var versions []string
			for _, e := range s.Events {
				versions = append(versions, e.Version)
			}
			if got != "" {
				got += " "
			}
			got += fmt.Sprintf("%s/%s%v", s.Service, s.Environment, versions)
		}
		if got != tc.want {
			t.Errorf("Recent(%d, %d) = %s, want %s", tc.maxSeries, tc.perSeries, got, tc.want)
		}
	}
	if s := ix.Recent(1, 1); len(s) != 1 || s[0].Held != 1 {
		t.Errorf("held: %+v", s)
	}
}
