package logtail

import (
	"fmt"
	"path/filepath"
	"strings"
)

// codeRunners are programs that run code taken from their arguments — a script text after -c or
// -e, or a script file named by one — or hand their arguments to a shell (ssh, su -c, watch).
// An argument of theirs filled from labels is code chosen by whoever writes the labels, whatever
// the allow pattern: "$(id)" passes a pattern like [^;|&]+, and every interpreter has other ways
// in. So a template may not follow one in argv; run the program that reads the logs directly,
// with the label as its own argument, instead.
var codeRunners = map[string]bool{
	// shells
	"sh": true, "ash": true, "dash": true, "bash": true, "zsh": true, "ksh": true, "mksh": true,
	"pdksh": true, "oksh": true, "lksh": true, "yash": true, "posh": true, "csh": true, "tcsh": true,
	"fish": true, "elvish": true, "xonsh": true, "busybox": true, "toybox": true, "pwsh": true,
	"powershell": true,
	// interpreters
	"python": true, "pypy": true, "ipython": true, "perl": true, "ruby": true, "irb": true,
	"jruby": true, "node": true, "nodejs": true, "deno": true, "bun": true, "php": true,
	"lua": true, "luajit": true, "tclsh": true, "wish": true, "expect": true, "rscript": true,
	"julia": true, "awk": true, "gawk": true, "mawk": true, "nawk": true, "sed": true,
	"osascript": true, "groovy": true, "jshell": true, "guile": true, "racket": true,
	// programs that pass their arguments to a shell
	"ssh": true, "su": true, "runuser": true, "watch": true, "script": true, "flock": true,
	"xargs": true,
}

// refuseFilledCode reports every template in argv that follows a code runner: argv[0] itself, or
// a later literal element that runs one (`env bash -c …`, `kubectl exec pod -- sh -c …`).
func refuseFilledCode(argv []string, bad func(string, string, ...any)) {
	runner, at := "", -1
	for i, a := range argv {
		if strings.Contains(a, "{{") {
			if runner != "" {
				bad(fmt.Sprintf("command.argv[%d]", i), "%q is filled from alert labels but is an argument of %q (argv[%d]), a shell or interpreter that runs its arguments as code: a label must never reach one; run the program that reads the logs directly, with the label as its own argument", a, argv[at], at)
			}
			continue
		}
		if runner == "" {
			if r := codeRunner(a); r != "" {
				runner, at = r, i
			}
		}
	}
}

// codeRunner returns the canonical name of the code runner that a literal argv element names,
// or "". The element must look like a program (a bare name or an absolute path: "deploy/sh" is
// not one); the name is its base name, case-folded, without ".exe" and without a version suffix
// ("/usr/bin/python3.12" is python, "perl5.36" perl).
func codeRunner(arg string) string {
	if strings.Contains(arg, "/") && !filepath.IsAbs(arg) {
		return ""
	}
	name := strings.ToLower(filepath.Base(arg))
	name = strings.TrimSuffix(name, ".exe")
	if codeRunners[name] {
		return name
	}
	if trimmed := strings.TrimRight(name, "0123456789.-"); trimmed != name && codeRunners[trimmed] {
		return trimmed
	}
	return ""
}
