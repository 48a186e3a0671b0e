// Package rules decides the severity of an alert: it compiles severity rules written in YAML with
// expr expressions, classifies alerts with them (first match wins, else the default), escalates
// the result over the facts enrichment found, explains how it decided, runs rule unit tests,
// reloads rule files atomically behind an Engine, and runs a candidate set beside them on live
// traffic (Shadow), counting where the two disagree.
//
// A rule file and the vocabulary of its expressions (Env, EscalationEnv) are documented in
// README.md next to this file.
package rules
