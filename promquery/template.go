package promquery

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Template is a catalog query with placeholders for the alert's values. It was parsed as PromQL
// with each placeholder standing for a string literal, so filling it can only ever change the
// value of a literal or a label matcher: a label value carrying PromQL syntax stays a value.
type Template struct {
	Name string
	Unit string
	// text is the query with each placeholder replaced by a marker string literal.
	text   string
	places []string // the placeholder of marker i: "service", "labels.job", …
}

// Values are what a template's placeholders take from an alert.
type Values struct {
	Service     string
	Environment string
	AlertName   string
	Labels      map[string]string
}

// placeholder finds $service, $environment, $alertname and $labels.NAME.
var placeholder = regexp.MustCompile(`^\$(service|environment|alertname|labels\.[a-zA-Z_][a-zA-Z0-9_]*)`)

// Parsing is permissive (experimental functions, duration expressions): the server is the judge
// of what it supports, and the parse is only to find the literals.
var promql = parser.NewParser(parser.Options{EnableExperimentalFunctions: true, ExperimentalDurationExpr: true, EnableExtendedRangeSelectors: true})

func marker(i int) string { return fmt.Sprintf("__triaged_placeholder_%d__", i) }

// Compile parses query, a PromQL expression with placeholders ($service, $environment,
// $alertname, $labels.NAME) where string values go. A parse error gives its line and column
// in query as written.
func Compile(name, query, unit string) (*Template, error) {
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("required")
	}
	if len(query) > MaxQueryBytes {
		return nil, fmt.Errorf("%d bytes: at most %d", len(query), MaxQueryBytes)
	}
	t := &Template{Name: name, Unit: unit}
	var b strings.Builder
	// spans maps a position of the marked text back to query.
	var spans []span
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			b.WriteByte(c)
			if c == '\\' && quote != '`' && i+1 < len(query) {
				i++
				b.WriteByte(query[i])
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
			b.WriteByte(c)
		case c == '#':
			// A comment runs to the end of the line; a placeholder in it is not one.
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case c == '$':
			m := placeholder.FindStringSubmatch(query[i:])
			if m == nil {
				return nil, fmt.Errorf("%s: unknown placeholder %q: use $service, $environment, $alertname or $labels.NAME where a string value goes", position(query, i), placeholderText(query[i:]))
			}
			spans = append(spans, span{marked: b.Len(), orig: i, markedLen: 0, origLen: len(m[0])})
			b.WriteString(`"` + marker(len(t.places)) + `"`)
			spans[len(spans)-1].markedLen = b.Len() - spans[len(spans)-1].marked
			t.places = append(t.places, m[1])
			i += len(m[0]) - 1
		default:
			b.WriteByte(c)
		}
	}
	t.text = b.String()
	expr, err := promql.ParseExpr(t.text)
	if err != nil {
		var perrs parser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			at := unmark(spans, int(perrs[0].PositionRange.Start))
			return nil, fmt.Errorf("%s: %v", position(query, min(max(at, 0), len(query))), perrs[0].Err)
		}
		return nil, err
	}
	if ty := expr.Type(); ty != parser.ValueTypeVector && ty != parser.ValueTypeScalar {
		return nil, fmt.Errorf("the query gives a %s: want an instant vector or a scalar", ty)
	}
	found := make([]bool, len(t.places))
	var misplaced error
	visit(expr, func(value *string, _ *labels.Matcher) {
		if i, ok := markerIndex(*value); ok {
			found[i] = true
		} else if strings.Contains(*value, "__triaged_placeholder_") && misplaced == nil {
			misplaced = errors.New("a placeholder must be a whole string value")
		}
	})
	if misplaced != nil {
		return nil, misplaced
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("$%s is not where a string value goes (a label matcher's value or a function's string argument)", t.places[i])
		}
	}
	return t, nil
}

// span is a placeholder's place in the query and in the marked text that was parsed.
type span struct{ marked, markedLen, orig, origLen int }

// unmark maps an offset in the marked text back to the query as written: inside a marker, to
// its placeholder's start.
func unmark(spans []span, at int) int {
	delta := 0
	for _, s := range spans {
		if at < s.marked {
			break
		}
		if at < s.marked+s.markedLen {
			return s.orig
		}
		delta = s.marked + s.markedLen - (s.orig + s.origLen)
	}
	return at - delta
}

func placeholderText(s string) string {
	end := 1
	for end < len(s) && (s[end] == '_' || s[end] == '.' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z' || s[end] >= '0' && s[end] <= '9') {
		end++
	}
	return s[:end]
}

// position is offset's line:column in s, both from 1, the column in characters.
func position(s string, offset int) string {
	line, col := 1, 1
	for _, r := range s[:offset] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%d:%d", line, col)
}

func markerIndex(s string) (int, bool) {
	var i int
	if _, err := fmt.Sscanf(s, "__triaged_placeholder_%d__", &i); err != nil || marker(i) != s {
		return 0, false
	}
	return i, true
}

// visit calls f with every string value of expr: string literals (m nil) and label matchers'
// values (m the matcher).
func visit(expr parser.Expr, f func(value *string, m *labels.Matcher)) {
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.StringLiteral:
			f(&n.Val, nil)
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				f(&m.Value, m)
			}
		}
		return nil
	})
}

// Placeholders are the template's placeholders in order, without their "$".
func (t *Template) Placeholders() []string { return t.places }

// Fill returns the query with the alert's values in place of the placeholders, each a string
// literal (escaped as a regular expression after =~ and !~, so it matches itself only). A
// placeholder the alert has no value for is an error naming it: a query with an empty value
// would silently match other series.
func (t *Template) Fill(v Values) (string, error) {
	vals := make([]string, len(t.places))
	for i, p := range t.places {
		var val string
		switch p {
		case "service":
			val = v.Service
		case "environment":
			val = v.Environment
		case "alertname":
			val = v.AlertName
		default:
			val = v.Labels[strings.TrimPrefix(p, "labels.")]
		}
		if val == "" {
			return "", fmt.Errorf("the alert has no value for $%s", p)
		}
		vals[i] = val
	}
	if len(vals) == 0 {
		return t.text, nil
	}
	expr, err := promql.ParseExpr(t.text)
	if err != nil {
		return "", fmt.Errorf("query %s: %w", t.Name, err) // cannot happen: Compile parsed it
	}
	var ferr error
	visit(expr, func(value *string, m *labels.Matcher) {
		i, ok := markerIndex(*value)
		if !ok {
			return
		}
		val := vals[i]
		if m == nil {
			*value = val
			return
		}
		if m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp {
			val = regexp.QuoteMeta(val)
		}
		nm, err := labels.NewMatcher(m.Type, m.Name, val)
		if err != nil {
			ferr = fmt.Errorf("$%s: %w", t.places[i], err)
			return
		}
		*m = *nm
	})
	if ferr != nil {
		return "", ferr
	}
	return expr.String(), nil
}
