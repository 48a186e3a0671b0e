// Package logtail reads the end of a service's logs, from a file or a command the config names,
// and returns it as a capped, filtered and redacted triaged.LogTail.
//
// Specs decode from YAML (see README.md for the reference and a full example) and are compiled
// once, when the config loads; Compile reports every problem with the field at fault. Tail never
// fails: a refused target, a missing file, a timeout or a non-zero exit is an excerpt with Error
// set, and the lines read so far are kept.
//
// A file is read backwards from its end in blocks, never whole: at most scan_bytes are read, so
// the tail of a 1 GB file costs what the tail of a 1 MB one does. A command runs without a shell,
// with only the environment the config gives it, in a process group of its own that a timeout
// kills. Alert labels fill a path or an argument only through an allow pattern (DESIGN.md's
// safety line), and every line is redacted before it leaves the package.
package logtail
