package app

import "fmt"

// checkReportBudget refuses a report budget the NATS server connected to cannot take: a report
// waits in its incident's record (base64, 4/3 of its size, beside its evidence) before it is
// published, so both must fit the server's max payload. The config check knows only the
// default max payload of 1 MiB; an external server may have set another.
func (a *App) checkReportBudget() error {
	budget, limit := int64(a.cfg.Report.MaxBytes), a.nc.MaxPayload()
	if budget <= 0 || 2*budget <= limit {
		return nil
	}
	where := "the default config"
	if a.cfg.File != "" {
		where = fmt.Sprintf("%q", a.cfg.File)
	}
	return fmt.Errorf("%s: report.max_bytes: %d bytes cannot fit the NATS server's max payload of %d bytes: "+
		"a report and its incident's record must both fit, so the budget can be at most half of it (%d bytes)", where, budget, limit, limit/2)
}
