package config

import (
	"bytes"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mask replaces the value of every secret key when printing.
const Mask = "********"

// isSecretKey reports whether a key's value must not be printed: passwords
// (upstream binds) and anything called a secret or a key material.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret")
}

// YAML renders c as a config file smppd would load back (secrets masked),
// each key set by something other than its default followed by a comment
// saying where it was set.
func (c Config) YAML(origins Origins) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	tidy(&doc)
	if doc.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if o, ok := origins[doc.Content[i].Value]; ok {
				doc.Content[i+1].LineComment = o
			}
		}
	}
	doc.HeadComment = "effective configuration of smppd serve\nprecedence: defaults < config file < environment (SMPPD_<KEY>) < flags"
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tidy masks secrets and shortens durations ("72h0m0s" → "72h") in place.
func tidy(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isSecretKey(k.Value) && v.Kind == yaml.ScalarNode && v.Value != "" {
				v.Value, v.Style, v.Tag = Mask, 0, "!!str"
				continue
			}
			tidy(v)
		}
		return
	}
	if n.Kind == yaml.ScalarNode {
		if d, err := time.ParseDuration(n.Value); err == nil && d.String() == n.Value && strings.ContainsAny(n.Value, "hms") {
			n.Value = FormatDuration(d)
		}
		return
	}
	for _, c := range n.Content {
		tidy(c)
	}
}
