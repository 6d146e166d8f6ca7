package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DevListen is where a --dev gateway listens when no layer sets listen.
const DevListen = "127.0.0.1:2775"

// Origins maps a key to where its value was set: "file /etc/smppd/smppd.yaml
// line 4", "env SMPPD_WINDOW" or "flag --window". A key that is absent kept
// its default.
type Origins map[string]string

// Flag is one flag given on the command line, its value spelled as the flag
// package prints it.
type Flag struct{ Name, Value string }

// LoadOptions are the layers Load reads. Every field may be empty.
type LoadOptions struct {
	// File is the config file (YAML); empty: none.
	File string
	// LookupEnv reads the environment (os.LookupEnv); nil: none. A variable
	// set to the empty string counts as unset.
	LookupEnv func(string) (string, bool)
	// Flags are the flags given on the command line.
	Flags []Flag
	// SkipValidate returns the merged configuration without validating it
	// (commands that only need data-dir).
	SkipValidate bool
}

// Load merges Default, the file, the environment and the flags, in that
// order (each layer overrides the ones before), applies the upstream
// defaults and validates the result. Errors wrap ErrInvalid; a bad value is
// a *KeyError that says where the value came from.
func Load(o LoadOptions) (Config, Origins, error) {
	c := Default()
	origins := Origins{}
	if o.File != "" {
		if err := c.loadFile(o.File, origins); err != nil {
			return c, origins, err
		}
	}
	if o.LookupEnv != nil {
		for _, k := range Keys() {
			v, ok := o.LookupEnv(k.EnvVar())
			if !ok || v == "" {
				continue
			}
			if err := c.Set(k.Name, v); err != nil {
				return c, origins, withOrigin(err, "env "+k.EnvVar())
			}
			origins[k.Name] = "env " + k.EnvVar()
		}
	}
	for _, f := range o.Flags {
		if _, ok := LookupKey(f.Name); !ok {
			continue // a flag that is not configuration (--config, --print-config)
		}
		if err := c.Set(f.Name, f.Value); err != nil {
			return c, origins, withOrigin(err, "flag --"+f.Name)
		}
		origins[f.Name] = "flag --" + f.Name
	}
	// A --dev gateway prints a working password: unless told otherwise it
	// listens on loopback only (vault -dev does the same).
	if c.Dev && origins["listen"] == "" {
		c.Listen = DevListen
		origins["listen"] = "dev (loopback unless listen is set)"
	}
	c.Live.SetDefaults()
	if o.SkipValidate {
		return c, origins, nil
	}
	if err := c.Validate(); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) && ke.Origin == "" {
			ke.Origin = originOf(origins, ke.Key)
		}
		return c, origins, err
	}
	return c, origins, nil
}

// originOf finds where key (or, for "upstreams[1].window", its top-level
// key) was set.
func originOf(origins Origins, key string) string {
	if o, ok := origins[key]; ok {
		return o
	}
	top, _, _ := strings.Cut(key, "[")
	top, _, _ = strings.Cut(top, ".")
	return origins[top]
}

func withOrigin(err error, origin string) error {
	var ke *KeyError
	if errors.As(err, &ke) {
		ke.Origin = origin
	}
	return err
}

// fileError is a problem with the config file as a whole.
func fileError(path string, format string, a ...any) error {
	return fmt.Errorf("%w: config file %s: %s", ErrInvalid, path, fmt.Sprintf(format, a...))
}

// loadFile overlays the file's keys. Flat keys go through Set (the same
// parsing and messages as environment variables and flags); the upstream
// part is decoded strictly, unknown fields being errors with their line.
func (c *Config) loadFile(path string, origins Origins) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", ErrInvalid, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fileError(path, "%s", oneLine(err))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: every default stands
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fileError(path, "line %d: the top level must be a mapping of keys (listen: ..., window: ...)", top.Line)
	}
	known := knownTopKeys()
	for i := 0; i+1 < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		origin := fmt.Sprintf("file %s line %d", path, kn.Line)
		if !contains(known, kn.Value) {
			return &KeyError{Key: kn.Value, Problem: "unknown key" + suggest(kn.Value), Origin: origin}
		}
		origins[kn.Value] = origin
		if _, flat := LookupKey(kn.Value); !flat {
			continue
		}
		if vn.Kind != yaml.ScalarNode {
			return &KeyError{Key: kn.Value, Problem: "must be a single value, not a list or mapping", Origin: origin}
		}
		value := vn.Value
		if vn.Tag == "!!null" {
			value = ""
		}
		if err := c.Set(kn.Value, value); err != nil {
			return withOrigin(err, origin)
		}
	}
	// The upstream part, strictly: unknown nested fields are errors.
	var scratch Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&scratch); err != nil && !errors.Is(err, io.EOF) {
		return fileError(path, "%s", oneLine(err))
	}
	c.Live = scratch.Live
	return nil
}

// oneLine folds yaml's multi-line error list into one line.
func oneLine(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n")
	fields := strings.Split(s, "\n")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
