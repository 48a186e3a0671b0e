package runbooks

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// The first steps a report carries are kept short: the report is read in a chat channel in the
// first minutes of an incident, and the runbook itself is one link away.
const (
	// MaxSteps is how many first steps a report carries.
	MaxSteps = 5
	// MaxStepLen is the most characters (runes) of one step; a longer one is cut and ends in "…".
	MaxStepLen = 200
)

var (
	headingLine = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// listItem is a bullet (-, *, +) or ordered (1. or 1)) item marker, its content after at least
	// one space, or nothing (an empty item).
	listItem  = regexp.MustCompile(`^( *)([-*+]|[0-9]{1,9}[.)])(?:([ \t]+)(.*))?$`)
	fenceLine = regexp.MustCompile("^( *)(```+|~~~+)")
	taskBox   = regexp.MustCompile(`^\[[ xX]\][ \t]+`)
)

// stepsSection names the section whose first list holds the first steps, when a runbook has one.
func stepsSection(title string) bool {
	t := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(title), ":"))
	return t == "first steps" || t == "steps"
}

// firstSteps returns the first steps of a runbook body: the items of the first list of the
// section headed "First steps" or "Steps" (any ATX heading level, any case) when there is one,
// else of the first list of the body. Only top-level items count, and of each only its first
// paragraph: nested lists, code blocks and later paragraphs are detail for the runbook itself.
// Lists inside fenced code blocks are not lists.
func firstSteps(body []string) []string {
	if section, ok := findSection(body); ok {
		return firstList(section)
	}
	return firstList(body)
}

// findSection returns the lines of the first steps section, up to the next heading of the same
// or a higher level.
func findSection(body []string) ([]string, bool) {
	var fence string
	start, level := -1, 0
	for i, line := range body {
		if f, ok := fenceToggle(line, fence); ok {
			fence = f
			continue
		}
		if fence != "" {
			continue
		}
		m := headingLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch {
		case start < 0 && stepsSection(m[2]):
			start, level = i+1, len(m[1])
		case start >= 0 && len(m[1]) <= level:
			return body[start:i], true
		}
	}
	if start < 0 {
		return nil, false
	}
	return body[start:], true
}

// fenceToggle reports whether line opens or closes a fenced code block, and the fence that is
// open after it ("" when none). A fence is closed by a run of the same character at least as long.
func fenceToggle(line, open string) (string, bool) {
	m := fenceLine.FindStringSubmatch(line)
	if m == nil || len(m[1]) > 3 && open == "" {
		return open, false
	}
	switch {
	case open == "":
		return m[2], true
	case m[2][0] == open[0] && len(m[2]) >= len(open) && strings.TrimSpace(line[len(m[0]):]) == "":
		return "", true
	}
	return open, false
}

// firstList returns the cleaned first paragraphs of the top-level items of the first list in
// lines, at most MaxSteps of them.
func firstList(lines []string) []string {
	var (
		steps     []string
		fence     string
		inList    bool
		marker    byte // the list's kind: '-', '*', '+', '.' or ')'
		content   int  // the current item's content indentation
		text      []string
		inPara    bool // still in the item's first paragraph
		sawBlank  bool
		itemFence string // a fenced block inside the current item
	)
	flush := func() {
		if s := cleanStep(strings.Join(text, " ")); s != "" {
			steps = append(steps, s)
		}
		text = nil
	}
	for _, line := range lines {
		if len(steps) >= MaxSteps {
			break
		}
		if !inList {
			if f, ok := fenceToggle(line, fence); ok {
				fence = f
				continue
			}
			if fence != "" || isThematicBreak(line) {
				continue
			}
			m := listItem.FindStringSubmatch(line)
			if m == nil || len(m[1]) > 3 {
				continue
			}
			inList, marker = true, kindOf(m[2])
			content, text, inPara, sawBlank = itemContent(m), []string{m[4]}, true, false
			continue
		}

		// Inside the list.
		if itemFence != "" {
			itemFence, _ = fenceToggle(line, itemFence)
			continue
		}
		if strings.TrimSpace(line) == "" {
			sawBlank, inPara = true, false
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if m := fenceLine.FindStringSubmatch(line); m != nil {
			if indent < content {
				break // a code block after the list
			}
			itemFence, inPara = m[2], false
			continue
		}
		if headingLine.MatchString(line) && indent < content || isThematicBreak(line) {
			break
		}
		if m := listItem.FindStringSubmatch(line); m != nil {
			if indent >= content {
				inPara = false // a nested list: detail, not a step
				continue
			}
			if kindOf(m[2]) != marker {
				break // another kind of marker starts another list
			}
			flush()
			content, text, inPara, sawBlank = itemContent(m), []string{m[4]}, true, false
			continue
		}
		switch {
		case indent >= content:
			if inPara {
				text = append(text, strings.TrimSpace(line))
			}
		case !sawBlank && inPara:
			text = append(text, strings.TrimSpace(line)) // a lazy continuation line
		case sawBlank:
			flush()
			return steps // a paragraph after the list ends it
		}
	}
	if inList && len(steps) < MaxSteps {
		flush()
	}
	return steps
}

// isThematicBreak reports whether line is a thematic break (---, ***, _ _ _): three or more of
// the same character, nothing else but spaces, indented less than four spaces.
func isThematicBreak(line string) bool {
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 || trimmed == "" {
		return false
	}
	c, n := trimmed[0], 0
	if c != '-' && c != '*' && c != '_' {
		return false
	}
	for i := 0; i < len(trimmed); i++ {
		switch trimmed[i] {
		case c:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

func kindOf(marker string) byte { return marker[len(marker)-1] }

// itemContent is the column where an item's content starts: after the marker and the spaces
// that follow it (one space when an item starts with indented code, as CommonMark counts).
func itemContent(m []string) int {
	spaces := len(m[3])
	if spaces > 4 || spaces == 0 {
		spaces = 1
	}
	return len(m[1]) + len(m[2]) + spaces
}

// cleanStep makes an item's first paragraph one line of at most MaxStepLen characters, without
// a task-list box: "[ ] Assign severity" reads as "Assign severity" in a report.
func cleanStep(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = taskBox.ReplaceAllString(s, "")
	if utf8.RuneCountInString(s) <= MaxStepLen {
		return s
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:MaxStepLen-1]), " ") + "…"
}
