package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/confmap"
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
// file chosen by ResolvePath(path), then the environment, expands ${NAME}
// references in string values, decodes the result and validates it.
//
// Environment: every variable FEDSAGA_<KEY> overrides one key; "__"
// separates the levels of the key, so variables without "__", such as
// FEDSAGA_CONFIG and FEDSAGA_LOG, are not key overrides. Each level is
// lower-cased unless it matches, ignoring case, a key that the defaults or
// the file already have at that level, whose spelling is then kept. So FEDSAGA_DATABASES__ORDERS__URL sets databases.orders.url,
// and FEDSAGA_NATS__JETSTREAM__STREAMS__ORDERS__REPLICAS sets
// nats.jetstream.streams.ORDERS.replicas. Values are converted to the key's
// type; a list of strings is written comma-separated. FEDSAGA_LOG, when not
// empty, overrides log.level, even over FEDSAGA_LOG__LEVEL.
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

	env, origin, errs := envOverrides(ko.Raw(), os.Environ())
	if lvl := os.Getenv(EnvLog); lvl != "" {
		setPath(env, []string{"log", "level"}, lvl)
		origin["log.level"] = EnvLog
	}
	if err := ko.Load(confmap.Provider(env, ""), nil); err != nil {
		return nil, fmt.Errorf("config: load environment: %w", err)
	}

	raw := ko.Raw()
	errs = append(errs, expandTree(raw, "")...)
	applyItemDefaults(raw)
	errs = append(errs, normalize(raw, reflect.TypeFor[Config](), "")...)

	cfg, err := decode(raw)
	if err != nil {
		// normalize leaves nothing that does not fit the Config.
		return nil, fmt.Errorf("config: decode: %w", err)
	}

	// A value that could not be expanded or decoded would also fail
	// validation, usually less clearly: report it once.
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
			e.Source = origin[baseKey(e.Key)]
		}
	}
	return nil, joinErrors(errs)
}

// loadFile merges the TOML file at path into ko. fromEnv says that
// FEDSAGA_CONFIG named the file.
func loadFile(ko *koanf.Koanf, path string, fromEnv bool) error {
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		what := "read config file"
		if fromEnv {
			what += " named by " + EnvConfig
		}
		return &Error{Err: fmt.Errorf("%s: %w", what, err)}
	}
	m, err := toml.Parser().Unmarshal(b)
	if err != nil {
		var de *gotoml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return &Error{Err: fmt.Errorf("%s:%d:%d: %w", path, row, col, err)}
		}
		return &Error{Err: fmt.Errorf("%s: %w", path, err)}
	}
	if err := ko.Load(confmap.Provider(m, ""), nil); err != nil {
		return &Error{Err: fmt.Errorf("%s: %w", path, err)}
	}
	return nil
}

// envOverrides turns the FEDSAGA_ variables of environ into a nested map to
// merge over raw, the configuration so far. It also returns, for each key it
// sets, the variable that set it.
func envOverrides(raw map[string]any, environ []string) (map[string]any, map[string]string, []*Error) {
	env := map[string]any{}
	origin := map[string]string{}
	var errs []*Error
	environ = slices.Clone(environ)
	sort.Strings(environ)
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix)
		if !ok || !strings.Contains(rest, envSep) {
			// Every key has two levels at least: FEDSAGA_CONFIG,
			// FEDSAGA_LOG and the like are not key overrides.
			continue
		}
		segs := strings.Split(rest, envSep)
		if slices.Contains(segs, "") {
			errs = append(errs, &Error{Err: fmt.Errorf(
				"environment variable %s names no key; write FEDSAGA_ then the key's levels separated by %q, such as FEDSAGA_SAGA__TIMEOUT",
				name, envSep)})
			continue
		}
		path, err := envPath(raw, segs)
		if err != nil {
			errs = append(errs, &Error{Key: strings.Join(path, "."), Source: name, Err: err})
			continue
		}
		key := strings.Join(path, ".")
		if prev, dup := origin[key]; dup {
			errs = append(errs, keyErr(key, "set by both %s and %s; unset one", prev, name))
			continue
		}
		origin[key] = name
		setPath(env, path, value)
	}
	return env, origin, errs
}

// envPath returns the key that segs, the levels of an environment variable
// name, stand for in raw. On error, the path is the key as far as it got.
func envPath(raw map[string]any, segs []string) ([]string, error) {
	path := make([]string, 0, len(segs))
	level := raw
	for _, seg := range segs {
		key, err := matchKey(level, seg)
		if err != nil {
			return append(path, strings.ToLower(seg)), err
		}
		path = append(path, key)
		level, _ = level[key].(map[string]any)
	}
	return path, nil
}

// matchKey returns the key of level that seg, one level of an environment
// variable name, stands for: seg itself or its lower-case form if level has
// it, else the one key of level equal to seg ignoring case, else seg in
// lower case (a new key).
func matchKey(level map[string]any, seg string) (string, error) {
	lower := strings.ToLower(seg)
	for _, k := range []string{seg, lower} {
		if _, ok := level[k]; ok {
			return k, nil
		}
	}
	var matches []string
	for k := range level {
		if strings.EqualFold(k, seg) {
			matches = append(matches, k)
		}
	}
	switch len(matches) {
	case 0:
		return lower, nil
	case 1:
		return matches[0], nil
	}
	sort.Strings(matches)
	return "", fmt.Errorf("matches the keys %s, which differ only in case; set it in the file instead",
		strings.Join(matches, ", "))
}

// setPath sets m[path[0]][path[1]]... to v, making the maps on the way and
// replacing any value that is not a map.
func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// varName is the form of NAME in ${NAME}.
var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandTree replaces ${NAME} references in the string values of m, whose
// keys start with prefix, in place.
func expandTree(m map[string]any, prefix string) []*Error {
	var errs []*Error
	for _, k := range sortedKeys(m) {
		key := prefix + k
		switch v := m[k].(type) {
		case string:
			s, e := expand(key, v)
			m[k], errs = s, append(errs, e...)
		case []any:
			for i, elem := range v {
				switch elem := elem.(type) {
				case string:
					var e []*Error
					v[i], e = expand(fmt.Sprintf("%s[%d]", key, i), elem)
					errs = append(errs, e...)
				case map[string]any:
					errs = append(errs, expandTree(elem, fmt.Sprintf("%s[%d].", key, i))...)
				}
			}
		case []map[string]any:
			for i, elem := range v {
				errs = append(errs, expandTree(elem, fmt.Sprintf("%s[%d].", key, i))...)
			}
		case []string:
			for i, s := range v {
				var e []*Error
				v[i], e = expand(fmt.Sprintf("%s[%d]", key, i), s)
				errs = append(errs, e...)
			}
		case map[string]any:
			errs = append(errs, expandTree(v, key+".")...)
		}
	}
	return errs
}

// expand replaces the ${NAME} references in s, the value of key.
func expand(key, s string) (string, []*Error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var (
		b    strings.Builder
		errs []*Error
	)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), errs
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is a literal "${".
			b.WriteString(s[:i])
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, keyErr(key, `unterminated "${"; write ${NAME}, or $${ for a literal "${"`))
			b.WriteString(s[i:])
			return b.String(), errs
		}
		name, ref := s[i+2:i+end], s[i:i+end+1]
		if !varName.MatchString(name) {
			errs = append(errs, keyErr(key, `invalid reference "${...}": a variable name has letters, digits and "_"; write $${ for a literal "${"`))
			b.WriteString(ref)
		} else if v, ok := os.LookupEnv(name); ok {
			b.WriteString(v)
		} else {
			errs = append(errs, keyErr(key, "environment variable %s is not set", name))
			b.WriteString(ref)
		}
		s = s[i+end+1:]
	}
}

// applyItemDefaults fills in, for every database and every stream of raw,
// the keys it lacks from DefaultDatabase and DefaultStream.
func applyItemDefaults(raw map[string]any) {
	fill := func(items any, defaults map[string]any) {
		m, _ := items.(map[string]any)
		for _, item := range m {
			if item, ok := item.(map[string]any); ok {
				for k, v := range defaults {
					if _, set := item[k]; !set {
						item[k] = v
					}
				}
			}
		}
	}
	fill(raw["databases"], toMap(DefaultDatabase(), false))
	switch obs := raw["observers"].(type) {
	case []any:
		for _, o := range obs {
			if o, ok := o.(map[string]any); ok {
				fill(map[string]any{"": o}, toMap(DefaultObserver(), false))
			}
		}
	case []map[string]any:
		for _, o := range obs {
			fill(map[string]any{"": o}, toMap(DefaultObserver(), false))
		}
	}
	if nats, ok := raw["nats"].(map[string]any); ok {
		if js, ok := nats["jetstream"].(map[string]any); ok {
			fill(js["streams"], toMap(DefaultStream(), false))
		}
	}
}

// normalize checks m, the value of a struct of type t whose keys start
// with prefix, against t and converts its values in place to the types of
// t's fields: strings from the environment become numbers, durations and
// lists, integers are range-checked, and durations are parsed. A key t has
// no field for, or a value that does not fit, is reported and removed, so
// that decoding cannot fail and the rest of the configuration can still be
// decoded and validated.
func normalize(m map[string]any, t reflect.Type, prefix string) []*Error {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if tag := koanfTag(f); tag != "" {
			fields[tag] = f.Type
		}
	}
	var errs []*Error
	for _, k := range sortedKeys(m) {
		key := prefix + k
		ft, ok := fields[k]
		if !ok {
			errs = append(errs, &Error{Key: key, Err: unknownKeyError{suggestion: suggest(k, fields, prefix)}})
			delete(m, k)
			continue
		}
		v, e := normalizeValue(m[k], ft, key)
		errs = append(errs, e...)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return errs
}

// normalizeValue returns v, the value of key, converted to type t, or nil
// if it does not fit.
func normalizeValue(v any, t reflect.Type, key string) (any, []*Error) {
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, []*Error{typeErr(key, t, v)}
		}
		return m, normalize(m, t, key+".")
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, []*Error{typeErr(key, t, v)}
		}
		var errs []*Error
		for _, name := range sortedKeys(m) {
			item, e := normalizeValue(m[name], t.Elem(), key+"."+name)
			errs = append(errs, e...)
			if item == nil {
				delete(m, name)
			} else {
				m[name] = item
			}
		}
		return m, errs
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		// An array of tables ([[observers]]).
		var items []any
		switch v := v.(type) {
		case []any:
			items = v
		case []map[string]any:
			for _, m := range v {
				items = append(items, m)
			}
		default:
			return nil, []*Error{typeErr(key, t, v)}
		}
		out := make([]any, 0, len(items))
		var errs []*Error
		for i, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				errs = append(errs, typeErr(fmt.Sprintf("%s[%d]", key, i), t.Elem(), item))
				continue
			}
			errs = append(errs, normalize(m, t.Elem(), fmt.Sprintf("%s[%d].", key, i))...)
			out = append(out, m)
		}
		return out, errs
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		switch v := v.(type) {
		case string:
			return splitList(v), nil
		case []string:
			return v, nil
		case []any:
			out := make([]string, 0, len(v))
			var errs []*Error
			for i, elem := range v {
				s, ok := elem.(string)
				if !ok {
					errs = append(errs, typeErr(fmt.Sprintf("%s[%d]", key, i), t.Elem(), elem))
					continue
				}
				out = append(out, s)
			}
			if errs != nil {
				return nil, errs
			}
			return out, nil
		}
		return nil, []*Error{typeErr(key, t, v)}
	}
	if t == secretType {
		if _, ok := v.(string); !ok {
			// Never quote what may be a secret.
			return nil, []*Error{keyErr(key, "expected a string, got a %s value", kindOf(v))}
		}
	}
	out, err := convertScalar(v, t)
	if err != nil {
		return nil, []*Error{{Key: key, Err: err}}
	}
	return out, nil
}

// kindOf names the TOML type of v without its content.
func kindOf(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int, int8, int16, int32, int64:
		return "integer"
	case float32, float64:
		return "float"
	}
	return "non-string"
}

// typeErr reports that v, the value of key, is not of type t.
func typeErr(key string, t reflect.Type, v any) *Error {
	return keyErr(key, "expected %s, got %s", describeType(t), describeValue(v))
}

// suggest returns the full key of the field closest to the unknown key k,
// if it is close enough to be a likely typo.
func suggest(k string, fields map[string]reflect.Type, prefix string) string {
	best, bestDist := "", 3
	for name := range fields {
		if d := editDistance(k, name); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	if best == "" || bestDist > len(k)/2 {
		return ""
	}
	return prefix + best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decode turns raw, normalized, into a Config.
func decode(raw map[string]any) (*Config, error) {
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(raw, ""), nil); err != nil {
		return nil, err
	}
	cfg := &Config{}
	err := ko.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{
			TagName:     "koanf",
			ErrorUnused: true,
		},
	})
	return cfg, err
}

var durationType = reflect.TypeFor[time.Duration]()

// convertScalar converts v to t, a duration, integer, string or boolean
// type. A
// duration is a Go duration string; an integer may be the decimal text of
// one, as environment variables give it.
func convertScalar(v any, t reflect.Type) (any, error) {
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected %s, got %s", describeType(t), describeValue(v))
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf(`invalid duration %q; use a Go duration such as "5s", "1m30s" or "200ms"`, s)
		}
		return d, nil
	case isSignedInt(t.Kind()):
		return toInt(v, t)
	case t.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected %s, got %s", describeType(t), describeValue(v))
		}
		return reflect.ValueOf(s).Convert(t).Interface(), nil
	case t.Kind() == reflect.Bool:
		switch v := v.(type) {
		case bool:
			return reflect.ValueOf(v).Convert(t).Interface(), nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("invalid boolean %q; use true or false", v)
			}
			return reflect.ValueOf(b).Convert(t).Interface(), nil
		}
		return nil, fmt.Errorf("expected %s, got %s", describeType(t), describeValue(v))
	}
	// A field of a new kind needs a case above.
	return nil, fmt.Errorf("cannot decode a %s", t)
}

// splitList splits a comma-separated list, trimming spaces around each item
// and dropping empty ones.
func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func isSignedInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

// toInt converts data, an integer or the decimal text of one, to the
// integer type to, checking its range.
func toInt(data any, to reflect.Type) (any, error) {
	var n int64
	v := reflect.ValueOf(data)
	switch {
	case v.Kind() == reflect.String:
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(v.String()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q", v.String())
		}
	case isSignedInt(v.Kind()):
		n = v.Int()
	default:
		return nil, fmt.Errorf("expected %s, got %s", describeType(to), describeValue(data))
	}
	out := reflect.New(to).Elem()
	if out.OverflowInt(n) {
		return nil, fmt.Errorf("%d is out of range for a %d-bit integer", n, to.Bits())
	}
	out.SetInt(n)
	return out.Interface(), nil
}

// describeType names t the way a configuration file writer thinks of it.
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration string such as "5s"`
	case isSignedInt(t.Kind()):
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables ([[...]])"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a table"
	}
	return t.String()
}

// describeValue names the TOML type of v, with v itself when it is short
// and cannot be a secret.
func describeValue(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case int, int8, int16, int32, int64:
		return fmt.Sprintf("integer %d", v)
	case float32, float64:
		return fmt.Sprintf("float %v", v)
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time, gotoml.LocalDate, gotoml.LocalDateTime, gotoml.LocalTime:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}

// koanfTag returns the key of a struct field, "" for none.
func koanfTag(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	return tag
}

// overlaps reports whether key is, or is inside, a key of errs.
func overlaps(key string, errs []*Error) bool {
	for _, e := range errs {
		if k := baseKey(e.Key); k != "" && (k == key || strings.HasPrefix(key, k+".")) {
			return true
		}
	}
	return false
}

// baseKey strips list indexes from the end of key: "a.b[1]" becomes "a.b".
func baseKey(key string) string {
	for strings.HasSuffix(key, "]") {
		i := strings.LastIndexByte(key, '[')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return key
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
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
