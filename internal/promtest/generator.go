package promtest

import (
	"net/url"
	"strings"
)

// GeneratorURL is the generatorURL Prometheus gives the alerts of a rule whose expression is
// expr, when its external URL is promURL:
//
//	{promURL}/graph?g0.expr={url.QueryEscape(expr)}&g0.tab=1
//
// That is rules.SendAlerts: externalURL + strutil.TableLinkForExpression(expr), with the
// external URL's trailing slashes removed. Prometheus passes the expression as its parser
// prints it back (parser.ParseExpr(rule.expr).String()), which for a simple expression is the
// rule's text, and for others may differ in spacing, parentheses or durations: give GeneratorURL
// the printed form to get the URL byte for byte.
func GeneratorURL(promURL, expr string) string {
	return strings.TrimRight(promURL, "/") + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}
