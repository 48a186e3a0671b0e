package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/yamlnode"
)

// LoadFile reads, decodes and validates the config at path. It does not build what the config
// names; package load does, for the daemon and `triagetool check config` alike.
func LoadFile(path string) (*Config, error) {
	c, probs := ParseFile(path)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load decodes and validates a config; filename is used in positions and to resolve relative
// paths. Every problem found is reported, each as "FILE:LINE:COL: key: message".
func Load(data []byte, filename string) (*Config, error) {
	c, probs := Parse(data, filename)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseFile is Parse of the file at path; its problems read `loading "PATH": ...`.
func ParseFile(path string) (*Config, *Problems) {
	data, err := os.ReadFile(path)
	if err != nil {
		probs := &Problems{pos: positions{file: path}, context: fmt.Sprintf("loading %q", path)}
		probs.Add(err)
		return nil, probs
	}
	c, probs := Parse(data, path)
	probs.context = fmt.Sprintf("loading %q", path)
	return c, probs
}

// Parse decodes data and validates the config's own values, like Load, but hands back the config
// together with its problems instead of refusing it, so that a caller which goes on to build
// what the config names can add the problems of those parts and report all of them in one pass.
// The config is nil when the data does not decode; with problems, it is fit to build parts from
// (to find their problems too) but not to run.
func Parse(data []byte, filename string) (*Config, *Problems) {
	c := Default()
	c.File = filename
	probs := &Problems{pos: positions{file: filename, nodes: map[string]*yaml.Node{}}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		probs.Add(yamlError(filename, data, err, true))
		return nil, probs
	}
	if len(root.Content) == 0 { // an empty file is the defaults
		c.validate(probs)
		return c, probs
	}
	pos := probs.pos
	// Unknown keys do not stop decoding, so one pass reports them and the invalid values too.
	probs.errs = checkKeys(root.Content[0], reflect.TypeOf(*c), "", pos)
	if err := root.Content[0].Decode(c); err != nil {
		var ve *confval.ValueError
		switch {
		case errors.As(err, &ve) && len(probs.errs) > 0:
			// checkKeys has reported every bad value already
		case errors.As(err, &ve):
			probs.errs = append(probs.errs, locatedAt(ve.Node, pos.atNode(ve.Node), ve.Msg))
		default:
			probs.Add(yamlError(filename, data, err, false))
		}
		return nil, probs
	}
	c.resolvePaths()
	c.validate(probs)
	return c, probs
}

var yamlLine = regexp.MustCompile(`(?m)^\s*(?:yaml: )?line (\d+): `)

// yamlError puts the file name where the YAML library says only "line N", and a line where it
// says none: at the byte its reader refused or the unknown alias (yamlnode.Locate), else, for an
// error of parsing, the first line, which is the one the library leaves out.
func yamlError(file string, data []byte, err error, parsing bool) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	if !yamlLine.MatchString(msg) {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if line, col := yamlnode.Locate(string(data), err); line > 0 {
			return fmt.Errorf("%s:%d:%d: %s", file, line, col, msg)
		}
		if parsing {
			return fmt.Errorf("%s:1: %s", file, msg)
		}
		return fmt.Errorf("%s: %s", file, msg)
	}
	msg = yamlLine.ReplaceAllString(msg, file+":$1: ")
	return errors.New(strings.TrimSpace(msg))
}

// resolvePaths makes relative paths relative to the config file, as Prometheus does.
func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.File)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range c.Rules.Files {
		c.Rules.Files[i] = abs(c.Rules.Files[i])
	}
	for i := range c.Rules.ShadowFiles {
		c.Rules.ShadowFiles[i] = abs(c.Rules.ShadowFiles[i])
	}
	c.Report.Template = abs(c.Report.Template)
	c.NATS.resolvePaths(abs)
	for i := range c.Sinks {
		s := &c.Sinks[i]
		s.Path, s.URLFile, s.TokenFile, s.SecretFile, s.Template = abs(s.Path), abs(s.URLFile), abs(s.TokenFile), abs(s.SecretFile), abs(s.Template)
	}
	for i := range c.Enrichment.RunbookDirs {
		c.Enrichment.RunbookDirs[i] = abs(c.Enrichment.RunbookDirs[i])
	}
	// Prometheus' http_config resolves its own files (password_file, credentials_file, TLS).
	c.Prometheus.HTTP.SetDirectory(dir)
	for i := range c.Services {
		if p := c.Services[i].Prometheus; p != nil {
			p.HTTP.SetDirectory(dir)
		}
		for j := range c.Services[i].Logs {
			if f := c.Services[i].Logs[j].File; f != nil {
				f.Path = abs(f.Path)
			}
		}
	}
}
