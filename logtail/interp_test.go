package logtail

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/fielderr"
)

// TestLabelsNeverReachAnInterpreter: an argument filled from labels is refused at load when a
// shell or interpreter would run it as code, whatever the allow pattern.
func TestLabelsNeverReachAnInterpreter(t *testing.T) {
	refused := []struct {
		argv  []string
		field string
		of    string
	}{
		{[]string{"sh", "-c", "tail -n 50 /var/log/{{ .Labels.app }}.log"}, "command.argv[2]", `"sh" (argv[0])`},
		{[]string{"/bin/bash", "-c", "journalctl -u {{ .Labels.unit }}"}, "command.argv[2]", `"/bin/bash" (argv[0])`},
		{[]string{"/bin/sh", "-c", "tail \"$1\"", "sh", "{{ .Labels.file }}"}, "command.argv[4]", `"/bin/sh" (argv[0])`},
		{[]string{"python3", "-c", "print('{{ .Labels.x }}')"}, "command.argv[2]", `"python3" (argv[0])`},
		{[]string{"/usr/bin/python3.12", "/opt/logs.py", "{{ .Labels.x }}"}, "command.argv[2]", `"/usr/bin/python3.12" (argv[0])`},
		{[]string{"perl", "-e", "{{ .Labels.x }}"}, "command.argv[2]", `"perl" (argv[0])`},
		{[]string{"node", "-e", "{{ .Labels.x }}"}, "command.argv[2]", `"node" (argv[0])`},
		{[]string{"ruby", "-e", "{{ .Labels.x }}"}, "command.argv[2]", `"ruby" (argv[0])`},
		{[]string{"php8.2", "-r", "{{ .Labels.x }}"}, "command.argv[2]", `"php8.2" (argv[0])`},
		{[]string{"awk", "{{ .Labels.x }}", "/var/log/app.log"}, "command.argv[1]", `"awk" (argv[0])`},
		{[]string{"ZSH", "-c", "{{ .Labels.x }}"}, "command.argv[2]", `"ZSH" (argv[0])`},
		{[]string{"ssh", "logs.internal", "tail /var/log/{{ .Labels.x }}"}, "command.argv[2]", `"ssh" (argv[0])`},
		// A shell further along argv, behind a program that runs it.
		{[]string{"env", "bash", "-c", "{{ .Labels.x }}"}, "command.argv[3]", `"bash" (argv[1])`},
		{[]string{"kubectl", "exec", "deploy/checkout", "--", "/bin/sh", "-c", "tail {{ .Labels.x }}"}, "command.argv[6]", `"/bin/sh" (argv[4])`},
		{[]string{"sudo", "-u", "app", "python", "-c", "{{ .Labels.x }}"}, "command.argv[5]", `"python" (argv[3])`},
	}
	for _, c := range refused {
		_, err := Compile(Spec{Command: &CommandSpec{Argv: c.argv, Allow: `[a-z0-9-]+`}})
		errs := fielderr.List(err)
		if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Msg, "is filled from alert labels but is an argument of "+c.of+", a shell or interpreter") {
			t.Errorf("%q: %v; want one error at %s naming %s", c.argv, err, c.field, c.of)
		}
	}

	allowed := [][]string{
		{"kubectl", "logs", "-n", "shop", "deploy/{{ .Labels.deployment }}"},
		{"journalctl", "--unit={{ .Labels.unit }}"},
		// "sh" as a path segment or a word within an argument is not a program.
		{"kubectl", "logs", "deploy/sh", "{{ .Labels.pod }}"},
		{"kubectl", "logs", "--container=bash", "{{ .Labels.pod }}"},
		// A template before the interpreter is an argument of the program before it.
		{"kubectl", "exec", "{{ .Labels.pod }}", "--", "cat", "/var/log/app.log"},
	}
	for _, argv := range allowed {
		if _, err := Compile(Spec{Command: &CommandSpec{Argv: argv, Allow: `[a-z0-9/=-]+`}}); err != nil {
			t.Errorf("%q: %v", argv, err)
		}
	}
	// Without labels, a shell is the operator's own choice.
	if _, err := Compile(Spec{Command: &CommandSpec{Argv: []string{"/bin/sh", "-c", "tail -n 100 /var/log/app.log | grep -v DEBUG"}}}); err != nil {
		t.Errorf("literal shell command: %v", err)
	}
}

func TestCodeRunner(t *testing.T) {
	for in, want := range map[string]string{
		"sh": "sh", "/usr/bin/bash": "bash", "python3": "python", "python3.12": "python", "pypy3": "pypy",
		"perl5.36.0": "perl", "PWSH.EXE": "pwsh", "lua5.4": "lua", "nodejs": "nodejs",
		"kubectl": "", "journalctl": "", "deploy/sh": "", "--shell=bash": "", "shop": "", "bash-logs": "",
	} {
		if got := codeRunner(in); got != want {
			t.Errorf("codeRunner(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestREADMENamesCodeRunners: every program the README says is counted as a shell or interpreter
// is one here.
func TestREADMENamesCodeRunners(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, ok := strings.Cut(string(md), "The programs counted:")
	para, _, _ = strings.Cut(para, "A shell command line")
	names := regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(para, -1)
	if !ok || len(names) < 20 {
		t.Fatalf("README.md lists %d programs", len(names))
	}
	for _, m := range names {
		if codeRunner(m[1]) == "" {
			t.Errorf("README.md names %q, which is not counted", m[1])
		}
	}
}
