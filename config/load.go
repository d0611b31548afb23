package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	gotoml "github.com/pelletier/go-toml/v2"
)

const (
	// DefaultPath is the configuration file Load reads, relative to the
	// working directory, when neither a path nor FEDSAGA_CONFIG is given.
	// Unlike an explicit path, it may be missing.
	DefaultPath = "fedsaga.toml"
	// EnvConfig names the environment variable that holds the
	// configuration file's path when Load gets none.
	EnvConfig = "FEDSAGA_CONFIG"
	// EnvLog names the environment variable that, when set and not empty,
	// overrides log.level.
	EnvLog = "FEDSAGA_LOG"
	// EnvPrefix starts every environment variable that overrides a key:
	// FEDSAGA_SAGA__TIMEOUT=1m sets saga.timeout. Since every key has two
	// levels at least, a variable without "__", such as EnvConfig, EnvLog
	// or a test's FEDSAGA_TEST_PG, is not a key override.
	EnvPrefix = "FEDSAGA_"
	// envSep separates the levels of a key in an environment variable name.
	envSep = "__"
)

// ResolvePath returns the configuration file Load(path) reads: path itself
// when it is not empty, else the value of FEDSAGA_CONFIG when that is set
// and not empty, else DefaultPath when it exists. It returns "" when there
// is no file to read, in which case Load uses the defaults and the
// environment only. It does not check that an explicit path exists: Load
// reports a missing one.
func ResolvePath(path string) string {
	if path != "" {
		return path
	}
	if p := os.Getenv(EnvConfig); p != "" {
		return p
	}
	// Anything but "does not exist", such as a permission problem, is
	// left for Load to report.
	if _, err := os.Stat(DefaultPath); !errors.Is(err, fs.ErrNotExist) {
		return DefaultPath
	}
	return ""
}

// Load reads the configuration. It starts from Default, merges the TOML
// file chosen by ResolvePath(path), then the environment, decodes the
// result, expanding ${NAME} references in string values on the way, and
// validates it.
//
// Environment: every variable FEDSAGA_<KEY> overrides one key; "__"
// separates the levels of the key, so variables without "__", such as
// FEDSAGA_CONFIG and FEDSAGA_LOG, are not key overrides. Each level is
// lower-cased unless it matches, ignoring case, a key that the defaults or
// the file already have at that level, whose spelling is then kept. So
// FEDSAGA_DATABASES__ORDERS__URL sets databases.orders.url, and
// FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__REPLICAS sets
// nats.jetstream.streams.ORDERS.replicas. Text is converted to the key's
// type: integers as Go writes them, booleans as true or false, and a list
// of strings comma-separated. FEDSAGA_LOG, when not empty, overrides
// log.level, even over FEDSAGA_LOG__LEVEL.
//
// Expansion: ${NAME} inside any string value, lists included, is replaced
// by the environment variable NAME, which must be set; $${ stands for a
// literal "${". Expanded text is not expanded again.
//
// Durations are Go duration strings such as "5s" or "1m30s".
//
// Load reports every problem it finds at once, each as an *Error naming
// its key, joined with errors.Join; keys that are not part of the
// configuration are problems too (ErrUnknownKey). On error it returns a nil
// Config.
func Load(path string) (*Config, error) {
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(toMap(Default(), false), ""), nil); err != nil {
		return nil, fmt.Errorf("config: load defaults: %w", err)
	}
	if p := ResolvePath(path); p != "" {
		if err := loadFile(ko, p, path == "" && os.Getenv(EnvConfig) != ""); err != nil {
			return nil, err
		}
	}
	origin, errs := loadEnv(ko)

	cfg := &Config{}
	if err := ko.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{DecoderConfig: decoderConfig()}); err != nil {
		errs = append(errs, decodeErrors(err)...)
	}
	// A value that could not be read would also fail validation, usually
	// less clearly, or leave its table out: report it once.
	loadErrs := errs
	for _, e := range validate(cfg) {
		if !overlaps(e.Key, loadErrs) {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	for _, e := range errs {
		if e.Source == "" {
			key, _, _ := strings.Cut(e.Key, "[") // a list from one variable
			e.Source = origin[key]
		}
	}
	return nil, joinErrors(errs)
}

// loadFile merges the TOML file at path into ko. fromEnv says that
// FEDSAGA_CONFIG named the file.
func loadFile(ko *koanf.Koanf, path string, fromEnv bool) error {
	err := ko.Load(file.Provider(path), toml.Parser())
	var (
		de *gotoml.DecodeError
		pe *fs.PathError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		row, col := de.Position()
		return &Error{Err: fmt.Errorf("%s:%d:%d: %w", path, row, col, err)}
	case errors.As(err, &pe) && fromEnv:
		return &Error{Err: fmt.Errorf("read config file named by %s: %w", EnvConfig, err)}
	case errors.As(err, &pe):
		return &Error{Err: fmt.Errorf("read config file: %w", err)}
	}
	return &Error{Err: fmt.Errorf("%s: %w", path, err)}
}

// loadEnv merges the FEDSAGA_ variables into ko and returns, for each key
// it set, the variable that set it.
func loadEnv(ko *koanf.Koanf) (map[string]string, []*Error) {
	raw := ko.Raw()
	origin := map[string]string{}
	var errs []*Error
	transform := func(name, value string) (string, any) {
		rest := strings.TrimPrefix(name, EnvPrefix)
		if !strings.Contains(rest, envSep) {
			return "", nil // FEDSAGA_CONFIG, FEDSAGA_LOG and the like
		}
		segs := strings.Split(rest, envSep)
		if slices.Contains(segs, "") {
			errs = append(errs, &Error{Err: fmt.Errorf(
				"environment variable %s names no key; write FEDSAGA_ then the key's levels separated by %q, such as FEDSAGA_SAGA__TIMEOUT",
				name, envSep)})
			return "", nil
		}
		key, err := envKey(raw, segs)
		switch prev, dup := origin[key]; {
		case err != nil:
			errs = append(errs, &Error{Key: key, Source: name, Err: err})
			return "", nil
		case dup:
			errs = append(errs, keyErr(key, "set by both %s and %s; unset one", prev, name))
			return "", nil
		}
		origin[key] = name
		return key, value
	}
	environ := func() []string { return slices.Sorted(slices.Values(os.Environ())) }
	err := ko.Load(env.Provider(".", env.Opt{Prefix: EnvPrefix, TransformFunc: transform, EnvironFunc: environ}), nil)
	if lvl := os.Getenv(EnvLog); lvl != "" && err == nil {
		err = ko.Set("log.level", lvl)
		origin["log.level"] = EnvLog
	}
	if err != nil {
		errs = append(errs, &Error{Err: fmt.Errorf("load environment: %w", err)})
	}
	return origin, errs
}

// envKey returns the key that segs, the levels of an environment variable
// name, stand for in raw: each level keeps the spelling of the one key
// that raw has there equal to it ignoring case, and is lower-cased
// otherwise. On error, the key is as far as it got.
func envKey(raw map[string]any, segs []string) (string, error) {
	path := make([]string, 0, len(segs))
	level := raw
	for _, seg := range segs {
		key := strings.ToLower(seg)
		var matches []string
		for k := range level {
			if k == seg || k == key {
				matches = []string{k}
				break
			}
			if strings.EqualFold(k, seg) {
				matches = append(matches, k)
			}
		}
		if len(matches) > 1 {
			sort.Strings(matches)
			return strings.Join(append(path, key), "."), fmt.Errorf(
				"matches the keys %s, which differ only in case; set it in the file instead", strings.Join(matches, ", "))
		}
		if len(matches) == 1 {
			key = matches[0]
		}
		path = append(path, key)
		level, _ = level[key].(map[string]any)
	}
	return strings.Join(path, "."), nil
}

// decoderConfig is how mapstructure turns the merged configuration into a
// Config: an unknown key is an error, text converts to numbers and
// booleans (environment variables are text), and the hooks of decode.go
// fill in the defaults of each table and convert the rest.
func decoderConfig() *mapstructure.DecoderConfig {
	return &mapstructure.DecoderConfig{
		TagName:     "koanf",
		ErrorUnused: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			itemDefaults, expandHook, durationHook, listHook, strictHook),
	}
}

// overlaps reports whether key is, holds or is inside a key of errs.
func overlaps(key string, errs []*Error) bool {
	inside := func(a, b string) bool {
		return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
	}
	for _, e := range errs {
		if e.Key != "" && (inside(key, e.Key) || inside(e.Key, key)) {
			return true
		}
	}
	return false
}

// joinErrors joins errs into one error, nil when there are none.
func joinErrors(errs []*Error) error {
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
