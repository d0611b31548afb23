package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
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
	// DefaultPath is the file Load reads, relative to the working directory,
	// when neither a path nor FEDSAGA_CONFIG is given. It may be missing.
	DefaultPath = "fedsaga.toml"
	// EnvConfig names the variable that holds the file's path when Load gets none.
	EnvConfig = "FEDSAGA_CONFIG"
	// EnvLog names the variable that, when not empty, overrides log.level.
	EnvLog = "FEDSAGA_LOG"
	// EnvPrefix starts every variable that overrides a key:
	// FEDSAGA_SAGA__TIMEOUT=1m sets saga.timeout. Every key has two levels at
	// least, so a variable without "__" (EnvConfig, EnvLog) overrides none.
	EnvPrefix = "FEDSAGA_"
	envSep    = "__" // separates the levels of a key in a variable's name
)

// ResolvePath returns the file Load(path) reads: path, else FEDSAGA_CONFIG,
// else DefaultPath when it exists, else "" (defaults and environment only).
// Load, not ResolvePath, reports an explicit path that is missing.
func ResolvePath(path string) string {
	if path != "" {
		return path
	}
	if p := os.Getenv(EnvConfig); p != "" {
		return p
	}
	// Anything but "does not exist", such as no permission, is Load's to report.
	if _, err := os.Stat(DefaultPath); !errors.Is(err, fs.ErrNotExist) {
		return DefaultPath
	}
	return ""
}

// Load reads the configuration: Default, then the TOML file chosen by
// ResolvePath(path), then the environment; it decodes the result,
// expanding ${NAME} references in string values, and validates it.
//
// Temporal: the [temporal] keys that neither the file nor a FEDSAGA_
// variable sets come from the Temporal SDK's environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*,
// and the profile TEMPORAL_PROFILE of TEMPORAL_CONFIG_FILE) when it has them.
//
// Environment: FEDSAGA_<KEY> overrides one key, "__" separating its levels.
// Each level is lower-cased unless it matches, ignoring case, a key the
// defaults or the file have at that level, whose spelling is kept: so
// FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__REPLICAS sets
// nats.jetstream.streams.ORDERS.replicas. Integers are decimal, booleans
// true or false, lists comma-separated. FEDSAGA_LOG, when not empty,
// overrides log.level, even over FEDSAGA_LOG__LEVEL.
//
// Expansion: ${NAME} in any string value, lists included, is replaced by
// the environment variable NAME, which must be set; $${ stands for a
// literal "${". Expanded text is not expanded again. Durations are Go
// duration strings such as "5s" or "1m30s".
//
// Load reports every problem at once, each an *Error naming its key, joined
// with errors.Join; an unknown key is one (ErrUnknownKey). On error it
// returns a nil Config.
func Load(path string) (*Config, error) {
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(toMap(reflect.ValueOf(*Default()), false), ""), nil); err != nil {
		return nil, fmt.Errorf("config: load defaults: %w", err)
	}
	var fileKeys []string
	if p := ResolvePath(path); p != "" {
		var err error
		if fileKeys, err = loadFile(ko, p, path == "" && os.Getenv(EnvConfig) != ""); err != nil {
			return nil, err
		}
	}
	origin, errs := loadEnv(ko)
	temporalOrigin, temporalErrs := loadTemporalEnv(ko, func(key string) bool {
		_, fromEnv := origin[key]
		return fromEnv || slices.Contains(fileKeys, key)
	})
	maps.Copy(origin, temporalOrigin)
	errs = append(errs, temporalErrs...)
	cfg := &Config{}
	conf := &mapstructure.DecoderConfig{TagName: "koanf", ErrorUnused: true, DecodeHook: mapstructure.ComposeDecodeHookFunc(
		itemDefaults, expandHook, convertHook)}
	if err := ko.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{DecoderConfig: conf}); err != nil {
		errs = append(errs, decodeErrors(err, "")...)
	}
	cfg.deriveSlots()
	cfg.derivePartitionStream()
	// A value that could not be read would also fail validation, usually
	// less clearly, or leave its table out: report it once.
	inside := func(a, b string) bool { return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") }
	loadErrs := errs
	for _, e := range validate(cfg) {
		if !slices.ContainsFunc(loadErrs, func(l *Error) bool {
			return l.Key != "" && (inside(e.Key, l.Key) || inside(l.Key, e.Key))
		}) {
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

// loadFile merges the TOML file at path into ko and returns the keys it
// sets; fromEnv says that FEDSAGA_CONFIG named it.
func loadFile(ko *koanf.Koanf, path string, fromEnv bool) ([]string, error) {
	f := koanf.New(".")
	err := f.Load(file.Provider(path), toml.Parser())
	var de *gotoml.DecodeError
	var pe *fs.PathError
	switch {
	case err == nil:
		return f.Keys(), ko.Merge(f)
	case errors.As(err, &de):
		row, col := de.Position()
		err = fmt.Errorf("%s:%d:%d: %w", path, row, col, err)
	case errors.As(err, &pe) && fromEnv:
		err = fmt.Errorf("read config file named by %s: %w", EnvConfig, err)
	case errors.As(err, &pe):
		err = fmt.Errorf("read config file: %w", err)
	default:
		err = fmt.Errorf("%s: %w", path, err)
	}
	return nil, &Error{Err: err}
}

// loadEnv merges the FEDSAGA_ variables into ko and returns, for each key
// it set, the variable that set it.
func loadEnv(ko *koanf.Koanf) (map[string]string, []*Error) {
	raw := ko.Raw()
	origin := map[string]string{}
	var errs []*Error
	transform := func(name, value string) (string, any) {
		segs := strings.Split(strings.TrimPrefix(name, EnvPrefix), envSep)
		key, err := envKey(raw, segs)
		prev, dup := origin[key]
		switch {
		case len(segs) == 1: // FEDSAGA_CONFIG, FEDSAGA_LOG and the like
		case slices.Contains(segs, ""):
			errs = append(errs, &Error{Err: fmt.Errorf("environment variable %s names no key; "+
				"write FEDSAGA_ then the key's levels separated by %q, such as FEDSAGA_SAGA__TIMEOUT", name, envSep)})
		case err != nil:
			errs = append(errs, &Error{Key: key, Source: name, Err: err})
		case dup:
			errs = append(errs, keyErr(key, "set by both %s and %s; unset one", prev, name))
		default:
			origin[key] = name
			return key, value
		}
		return "", nil
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
// name, stand for in raw: each level keeps the spelling of the key that raw
// has there, the same or lower-cased or (if it is the only one) equal
// ignoring case, and is lower-cased otherwise. On error, the key is as far
// as it got.
func envKey(raw map[string]any, segs []string) (string, error) {
	var path []string
	level := raw
	for _, seg := range segs {
		key := strings.ToLower(seg)
		matches := slices.DeleteFunc(slices.Sorted(maps.Keys(level)), func(k string) bool { return !strings.EqualFold(k, seg) })
		switch {
		case slices.Contains(matches, seg):
			key = seg
		case slices.Contains(matches, key):
		case len(matches) == 1:
			key = matches[0]
		case len(matches) > 1:
			return strings.Join(append(path, key), "."), fmt.Errorf(
				"matches the keys %s, which differ only in case; set it in the file instead", strings.Join(matches, ", "))
		}
		path = append(path, key)
		level, _ = level[key].(map[string]any)
	}
	return strings.Join(path, "."), nil
}

// joinErrors joins errs into one error, nil when there are none.
func joinErrors(errs []*Error) error {
	var all []error
	for _, e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}
