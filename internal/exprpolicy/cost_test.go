package exprpolicy

import (
	"strings"
	"testing"
)

var ruleSpec = Spec{Env: env{}, Kind: spec.Kind, Yields: spec.Yields, Split: spec.Split, In: "rules"}

// TestCompileRefusesCostly: every construct whose cost is not bounded by a multiple of the
// alert it reads is refused at load time, with where and why.
func TestCompileRefusesCostly(t *testing.T) {
	const (
		square    = "its result grows with the square of its input"
		predicate = "inside a predicate ({...}) a string may only be built from the element (#) and literals: built from another value, it is built again for every element and its cost grows with the square of its input"
		through   = "reads through a value from outside the element once for every element: its cost grows with the product of the list's length and that value's size; compute it before the predicate with let"
		nested    = "may only go over a part of the element, as in any(logs, {any(.lines, ...)}): over another list it runs once for every element and its cost grows with the product of the two lists' lengths"
	)
	tests := []struct {
		name, text, want string
	}{
		{"repeat", `repeat(labels.x, 1000000) == "y"`, "repeat() is not allowed in rules: its cost grows with its input (1:1)\n | repeat(labels.x, 1000000) == \"y\"\n | ^"},
		{"repeat of a literal", `alertname == "x" && repeat("ab", 3) == "ababab"`, "repeat() is not allowed in rules: its cost grows with its input (1:21)"},
		{"toJSON", `toJSON(labels) contains "x"`, "toJSON() is not allowed in rules: its cost grows with its input (1:1)"},
		{"fromJSON", `fromJSON(labels.x) != nil`, "fromJSON() is not allowed in rules: its cost grows with its input (1:1)"},
		{"reduce", `reduce(values(labels), #acc + #, "") == ""`, "reduce() is not allowed in rules: its cost grows with the square of its input (the accumulator is rebuilt for every element) (1:1)"},
		{"replace of the empty string", `replace(labels.x, "", labels.x) == ""`, "replace() in rules needs string literals for what to replace (not empty) and what to put instead: otherwise " + square + " (1:1)"},
		{"replace of a label", `replace(labels.x, labels.y, "z") == ""`, "replace() in rules needs string literals"},
		{"replace with a label", `replace(labels.x, "a", labels.y) == ""`, "replace() in rules needs string literals"},
		{"join with a label", `join(split(labels.x, ","), labels.x) == ""`, "the separator of join() must be a string literal: otherwise " + square + " (1:1)"},
		{"huge range", `any(1..1000000000, {# == 7})`, "the range 1..1000000000 has 1000000000 elements, more than 1000: its cost grows with its length (1:6)"},
		{"range from a label", `len(1..len(labels.x)) > 0`, "the bounds of a range must be integer literals: otherwise its length grows with its input (1:6)"},
		{"concatenation in a predicate", `any(split(labels.x, ","), {# + labels.x == ""})`, predicate + " (1:30)"},
		{"label built in a predicate", `any(1..1000, {upper(labels.x) == string(#)})`, predicate + " (1:15)"},
		{"split in a predicate", `any(values(labels), {split(labels.x, ",")[0] == #})`, predicate},
		{"label repeated by map", `join(map(1..1000, {labels.x}), ",") == ""`, "this string repeats a value once for every element of a list: its cost grows with the square of its input (1:1)"},
		{"doubling with let", `let a = labels.x + labels.x; let b = a + a; let c = b + b; let d = c + c; d == ""`, "this string can be 16 times the size of the values it reads, more than 8: its cost grows with its input (1:70)"},
		{"long concatenation", `labels.x + labels.x + labels.x + labels.x + labels.x + labels.x + labels.x + labels.x + labels.x == ""`, "this string can be 9 times the size of the values it reads, more than 8"},
		{"a label scanned per element", `any(1..1000, {labels.x contains string(#)})`, "inside a predicate ({...}), contains " + through + " (1:24)"},
		{"a label matched per element", `any(values(labels), {labels.x matches "^a" && # == ""})`, "inside a predicate ({...}), matches " + through},
		{"a label counted per element", `any(split(labels.x, ","), {len(labels.y) == 3})`, "inside a predicate ({...}), len() " + through},
		{"a list searched per element", `let v = values(labels); any(values(labels), {# in v})`, "inside a predicate ({...}), in " + through},
		{"a builtin over a label per element", `any(1..100, {indexOf(labels.x, "a") == #})`, "inside a predicate ({...}), indexOf() " + through},
		{"a computed key per element", `any(1..100, {labels[labels.x] == "a"})`, "inside a predicate ({...}), a lookup by a computed key " + through},
		{"nested ranges", `any(1..1000, {any(1..1000, {labels.x contains "z"})})`, "inside a predicate ({...}), any() " + nested + " (1:15)"},
		{"nested over the labels", `any(values(labels), {count(split(labels.x, ","), {# == "a"}) > 1})`, "inside a predicate ({...}), count() " + nested},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.text, ruleSpec)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCompileAllowsLinear: what costs at most a multiple of its input stays allowed.
func TestCompileAllowsLinear(t *testing.T) {
	for _, text := range []string{
		`split(labels.instance, ":")[1] == "9100"`,
		`len(split(labels.x, ",", 3)) == 3`,
		`any(split(labels.teams, ","), {trim(#) == "db"})`,
		`any(values(labels), {lower(#) contains "disk"})`,
		`any(map(split(labels.x, ","), {# + "!"}), {# == "a!"})`,
		`labels.namespace + "/" + labels.pod == "kube-system/dns"`,
		`let a = labels.x + labels.x; let b = a + a; let c = b + b; c != ""`,
		`replace(labels.x, "-", "_") == "a_b"`,
		`join(split(labels.x, ","), ";") == "a;b"`,
		`any(-5..5, {# == active_for.Hours()})`,
		`count(1..1000, {# % 7 == 0}) > 3`,
		`alertname in map(1..3, {"Disk" + string(#)})`,
		`sortBy(values(labels), #)[0] == "a"`,
		`toBase64(labels.x) != ""`,
		`any(values(labels), {# contains alertname})`,
		`any(values(labels), {# in ["a", "b"] || # in labels})`,
		`any(keys(labels), {labels[#] == "x"})`,
		`let n = len(labels.x); any(1..1000, {# == n})`,
		`let allowed = ["a", "b"]; any(values(labels), {# in allowed})`,
		`any(split(labels.x, ","), {len(#) > 3 && # startsWith "db"})`,
	} {
		if _, err := Compile(text, ruleSpec); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
}

// TestSplitIsBounded: split and splitAfter fail rather than yield more than MaxSplit parts,
// and do not allocate them on the way.
func TestSplitIsBounded(t *testing.T) {
	hostile := strings.Repeat(",", 1_000_000)
	tests := []struct {
		text, x string
		want    any
		wantErr string
	}{
		{`len(split(labels.x, ",")) > 0`, hostile, nil, "split() yields more than 1000 parts (1:5)"},
		{`len(splitAfter(labels.x, ",")) > 0`, hostile, nil, "splitAfter() yields more than 1000 parts"},
		{`len(split(labels.x, "")) > 0`, strings.Repeat("a", 1001), nil, "split() yields more than 1000 parts"},
		{`len(split(labels.x, ",")) == 1000`, strings.Repeat(",", 999), true, ""},
		{`split(labels.x, ",", 2)[1] == "b,c"`, "a,b,c", true, ""},
		{`len(split(labels.x, ",", 2)) == 2`, hostile, true, ""},
		{`len(split(labels.x, ",", 0)) == 0`, "a,b", true, ""},
		{`splitAfter(labels.x, ",")[0] == "a,"`, "a,b", true, ""},
	}
	for _, tt := range tests {
		p, err := Compile(tt.text, ruleSpec)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		out, err := Run(p, &env{Labels: map[string]string{"x": tt.x}})
		switch {
		case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
			t.Errorf("%s: got %v, %v, want error %q", tt.text, out, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || out != tt.want):
			t.Errorf("%s: got %v, %v, want %v", tt.text, out, err, tt.want)
		}
	}
}

// TestMemoryBudget: an allowed expression that builds too many elements fails its evaluation
// instead of growing; the pooled VMs keep the budget.
func TestMemoryBudget(t *testing.T) {
	p, err := Compile(`any(1..1000, {len(1..1000) < 0})`, ruleSpec)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := Run(p, &env{}); err == nil || !strings.HasPrefix(err.Error(), "memory budget exceeded") {
			t.Fatalf("got %v, want memory budget exceeded", err)
		}
	}
	m := Borrow()
	defer Return(m)
	if m.MemoryBudget != MemoryBudget {
		t.Errorf("a pooled VM's budget is %d, want %d", m.MemoryBudget, MemoryBudget)
	}
}

// FuzzCompile: no expression makes the policy panic; each is compiled or refused.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`repeat(labels.x, 1000000) == "y"`,
		`any(split(labels.x, ","), {any(split(#, ";"), {# + labels.x == ""})})`,
		`let a = labels.x + labels.x; let b = a + a; b[1:] == ""`,
		`map(1..10, {#index}) == nil ?? true`,
		`len(filter(-5..5, .x)) > 0`,
		`replace(join(sortBy(values(labels), #, "desc"), ","), "a", "b") == ""`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if p, err := Compile(text, ruleSpec); err == nil {
			_, _ = Run(p, &env{Labels: map[string]string{"x": "a,b;c"}})
		}
	})
}
