package config

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	gotoml "github.com/pelletier/go-toml/v2"
)

// Redacted returns the configuration as a nested map of its keys, ready to
// log or print: durations are Go duration strings, every url is redacted by
// RedactURL, and every Secret is "[REDACTED]".
func (c *Config) Redacted() map[string]any {
	return toMap(reflect.ValueOf(*c), true)
}

// Print writes the effective configuration to w as TOML, secrets shown as
// [REDACTED], sections in the order of Config's fields, keys sorted. Load
// reads it back, the secrets aside: a literal "${" is written as "$${".
func (c *Config) Print(w io.Writer) error {
	m := c.Redacted()
	var buf bytes.Buffer
	for f := range reflect.TypeFor[Config]().Fields() {
		key := f.Tag.Get("koanf")
		if list, ok := m[key].([]map[string]any); ok && len(list) == 0 {
			continue // an empty array of tables: nothing to print
		}
		if buf.Len() > 0 {
			buf.WriteByte('\n')
		}
		if err := gotoml.NewEncoder(&buf).SetIndentTables(true).Encode(map[string]any{key: m[key]}); err != nil {
			return fmt.Errorf("config: print %s: %w", key, err)
		}
	}
	// Only strings hold "${": escaped, Load reads them back literally.
	if _, err := io.WriteString(w, strings.ReplaceAll(buf.String(), "${", "$${")); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	return nil
}

// toMap turns v, a struct with koanf tags, into the nested map of its
// keys. With redact set, values of keys named url go through RedactURL and
// Secrets are masked.
func toMap(v reflect.Value, redact bool) map[string]any {
	m := map[string]any{}
	for i := range v.NumField() {
		if key := v.Type().Field(i).Tag.Get("koanf"); key != "" {
			m[key] = plain(key, v.Field(i), redact)
		}
	}
	return m
}

// plain returns v, the value of key, as koanf and TOML hold it: durations
// as Go duration strings, tables as maps, arrays of tables as lists of maps.
func plain(key string, v reflect.Value, redact bool) any {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == secretType && redact:
		return Secret(v.String()).String()
	case v.Kind() == reflect.String && redact && key == "url":
		return RedactURL(v.String())
	case v.Kind() == reflect.String:
		return v.String()
	case v.Kind() == reflect.Struct:
		return toMap(v, redact)
	case v.Kind() == reflect.Map:
		m := make(map[string]any, v.Len())
		for iter := v.MapRange(); iter.Next(); {
			m[iter.Key().String()] = plain(key, iter.Value(), redact)
		}
		return m
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		out := make([]map[string]any, v.Len())
		for i := range out {
			out[i] = toMap(v.Index(i), redact)
		}
		return out
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		list := make([]string, v.Len()) // []string or []Secret
		for i := range list {
			list[i] = plain(key, v.Index(i), redact).(string)
		}
		return list
	}
	return v.Interface()
}
