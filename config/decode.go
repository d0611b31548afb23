package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// The decode hooks below run, in this order, on every value mapstructure
// decodes, with the Go value it is decoded into.

// itemDefaults starts every database, stream and observer from its
// defaults, so that a table sets only the keys it changes.
func itemDefaults(from, to reflect.Value) (any, error) {
	table, ok := from.Interface().(map[string]any)
	d, known := tableDefaults[to.Type()]
	if !ok || !known {
		return from.Interface(), nil
	}
	out := toMap(d, false)
	maps.Copy(out, table)
	return out, nil
}

var tableDefaults = map[reflect.Type]any{
	reflect.TypeFor[Database](): DefaultDatabase(),
	reflect.TypeFor[Stream]():   DefaultStream(),
	reflect.TypeFor[Observer](): DefaultObserver(),
}

// expandHook expands the ${NAME} references of a string value. A string
// that becomes a list is expanded item by item, once split.
func expandHook(from, to reflect.Value) (any, error) {
	if from.Kind() != reflect.String || to.Kind() == reflect.Slice {
		return from.Interface(), nil
	}
	return expand(from.String())
}

// refPattern matches "$${", or "${" and what follows up to the next "}".
var (
	refPattern = regexp.MustCompile(`\$\$\{|\$\{([^}]*)(\}?)`)
	varName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// expand replaces each ${NAME} in s by the environment variable NAME and
// each $${ by a literal "${".
func expand(s string) (string, error) {
	var errs []error
	out := refPattern.ReplaceAllStringFunc(s, func(ref string) string {
		m := refPattern.FindStringSubmatch(ref)
		switch {
		case ref == "$${":
			return "${"
		case m[2] == "":
			errs = append(errs, errors.New(`unterminated "${"; write ${NAME}, or $${ for a literal "${"`))
		case !varName.MatchString(m[1]):
			errs = append(errs, errors.New(`invalid reference "${...}": a variable name has letters, digits and "_"; write $${ for a literal "${"`))
		default:
			if v, ok := os.LookupEnv(m[1]); ok {
				return v
			}
			errs = append(errs, fmt.Errorf("environment variable %s is not set", m[1]))
		}
		return ref
	})
	return out, errors.Join(errs...)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// durationHook reads a duration from a Go duration string, and from
// nothing else: a bare number has no unit.
func durationHook(from, to reflect.Value) (any, error) {
	if to.Type() != durationType || from.Type() == durationType {
		return from.Interface(), nil
	}
	if from.Kind() != reflect.String {
		return nil, &mapstructure.UnconvertibleTypeError{Expected: to, Value: from.Interface()}
	}
	d, err := time.ParseDuration(strings.TrimSpace(from.String()))
	if err != nil {
		return nil, fmt.Errorf(`invalid duration %q; use a Go duration such as "5s", "1m30s" or "200ms"`, from.String())
	}
	return d, nil
}

// listHook splits a comma-separated string into a list of strings,
// trimming spaces around each item and dropping empty ones.
func listHook(from, to reflect.Value) (any, error) {
	if from.Kind() != reflect.String || to.Type() != reflect.TypeFor[[]string]() {
		return from.Interface(), nil
	}
	list := []string{}
	for item := range strings.SplitSeq(from.String(), ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list, nil
}

// strictHook refuses what WeaklyTypedInput would convert besides text:
// a value converts only to its own kind (an integer to a field of any
// integer type that holds it, a table to a table) or, from a string, to
// an integer or a boolean. So a Secret, like any string, must be a string.
func strictHook(from, to reflect.Value) (any, error) {
	fk, tk := kind(from.Type()), kind(to.Type())
	switch {
	case from.Kind() == reflect.String && (tk == reflect.Int || tk == reflect.Bool):
		return strings.TrimSpace(from.String()), nil
	case fk != tk:
		return nil, &mapstructure.UnconvertibleTypeError{Expected: to, Value: from.Interface()}
	case fk == reflect.Int && to.OverflowInt(from.Int()):
		return nil, fmt.Errorf("%d is out of range for a %d-bit integer", from.Int(), to.Type().Bits())
	}
	return from.Interface(), nil
}

// kind groups the kinds that convert into each other without loss.
func kind(t reflect.Type) reflect.Kind {
	switch k := t.Kind(); k {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return reflect.Int
	case reflect.Float32:
		return reflect.Float64
	case reflect.Struct:
		return reflect.Map
	case reflect.Array:
		return reflect.Slice
	default:
		return k
	}
}

// decodeErrors translates what mapstructure reports into fedsaga's
// errors, each naming its key.
func decodeErrors(err error) []*Error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []*Error
		for _, e := range j.Unwrap() {
			errs = append(errs, decodeErrors(e)...)
		}
		slices.SortStableFunc(errs, func(a, b *Error) int { return strings.Compare(a.Key, b.Key) })
		return errs
	}
	de, ok := err.(*mapstructure.DecodeError)
	if !ok {
		if inner := errors.Unwrap(err); inner != nil {
			return decodeErrors(inner) // "decoding failed due to..."
		}
		return []*Error{{Err: err}}
	}
	key, t := locate(de.Name())
	cause := de.Unwrap()
	var (
		ue *mapstructure.UnconvertibleTypeError
		pe *mapstructure.ParseError
	)
	switch unused, isUnused := strings.CutPrefix(cause.Error(), "has invalid keys: "); {
	case errors.As(cause, &ue) && ue.Expected.Type() == secretType:
		// Never quote what may be a secret.
		return []*Error{keyErr(key, "expected a string, got a value of type %s", kindOf(ue.Value))}
	case errors.As(cause, &ue):
		return []*Error{keyErr(key, "expected %s, got %s", describeType(ue.Expected.Type()), describeValue(ue.Value))}
	case errors.As(cause, &pe) && pe.Expected.Kind() == reflect.Bool:
		return []*Error{keyErr(key, "invalid boolean %q; use true or false", pe.Value)}
	case errors.As(cause, &pe) && errors.Is(pe.Err, strconv.ErrRange):
		return []*Error{keyErr(key, "%s is out of range for a %d-bit integer", pe.Value, pe.Expected.Type().Bits())}
	case errors.As(cause, &pe):
		return []*Error{keyErr(key, "invalid integer %q", pe.Value)}
	case isUnused && t != nil:
		var errs []*Error
		for _, k := range strings.Split(unused, ", ") {
			errs = append(errs, &Error{Key: joinKey(key, k), Err: unknownKeyError{suggestion: suggest(k, t, key)}})
		}
		return errs
	}
	var errs []*Error
	for _, e := range unjoin(cause) {
		errs = append(errs, &Error{Key: key, Err: e})
	}
	return errs
}

// unjoin returns the errors err joins, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// locate follows name, a field's name as mapstructure gives it
// (databases[orders].url, observers[0].channel), down from Config. It
// returns the key as fedsaga writes it (databases.orders.url,
// observers[0].channel) and the Go type there, nil if name leaves Config.
func locate(name string) (string, reflect.Type) {
	key, t := "", reflect.TypeFor[Config]()
	for name != "" && t != nil {
		var seg string
		if end := strings.IndexByte(name, ']'); name[0] == '[' && end > 0 {
			seg, name = name[1:end], name[end+1:]
		} else {
			name = strings.TrimPrefix(name, ".")
			end := strings.IndexAny(name, ".[")
			if end <= 0 {
				end = len(name)
			}
			seg, name = name[:end], name[end:]
		}
		switch t.Kind() {
		case reflect.Slice:
			key, t = fmt.Sprintf("%s[%s]", key, seg), t.Elem()
		case reflect.Map:
			key, t = joinKey(key, seg), t.Elem()
		case reflect.Struct:
			key, t = joinKey(key, seg), fieldType(t, seg)
		default:
			key, t = joinKey(key, seg), nil
		}
	}
	return key + name, t
}

// joinKey returns the key k inside the table key.
func joinKey(key, k string) string {
	if key == "" {
		return k
	}
	return key + "." + k
}

// fieldType returns the type of the field of struct t whose key is k, nil
// for none.
func fieldType(t reflect.Type, k string) reflect.Type {
	for f := range t.Fields() {
		if koanfTag(f) == k {
			return f.Type
		}
	}
	return nil
}

// suggest returns the full key of the field of t, the type of the table
// key, closest to the unknown key k, if it is close enough to be a likely
// typo.
func suggest(k string, t reflect.Type, key string) string {
	if t.Kind() != reflect.Struct {
		return ""
	}
	best, bestDist := "", 3
	for f := range t.Fields() {
		name := koanfTag(f)
		if d := editDistance(k, name); name != "" && (d < bestDist || d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best == "" || bestDist > len(k)/2 {
		return ""
	}
	return joinKey(key, best)
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

// describeType names t the way a configuration file writer thinks of it.
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration string such as "5s"`
	case kind(t) == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables ([[...]])"
	case t.Kind() == reflect.Slice:
		return "a list of strings"
	}
	return "a table"
}

// describeValue names the TOML type of v, with v itself when it is short.
func describeValue(v any) string {
	switch v := v.(type) {
	case bool, int64, float64:
		return fmt.Sprintf("%s %v", kindOf(v), v)
	case string:
		return "a string"
	case []any, []string, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a " + kindOf(v)
}

// kindOf names the TOML type of v without its content.
func kindOf(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	}
	return "date or time"
}
