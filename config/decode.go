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

	"github.com/agnivade/levenshtein"
	"github.com/go-viper/mapstructure/v2"
)

// itemDefaults starts every database, stream and observer from its
// defaults, so that a table sets only the keys it changes.
func itemDefaults(from, to reflect.Value) (any, error) {
	table, ok := from.Interface().(map[string]any)
	d, known := tableDefaults[to.Type()]
	if !ok || !known {
		return from.Interface(), nil
	}
	out := toMap(reflect.ValueOf(d), false)
	maps.Copy(out, table)
	return out, nil
}

var tableDefaults = map[reflect.Type]any{
	reflect.TypeFor[Database](): DefaultDatabase(),
	reflect.TypeFor[Stream]():   DefaultStream(),
	reflect.TypeFor[Observer](): DefaultObserver(),
	reflect.TypeFor[Consumer](): DefaultConsumer(),
}

// expandHook expands the ${NAME} references of a string value. A string
// that becomes a list is expanded item by item, once split.
func expandHook(from, to reflect.Value) (any, error) {
	if from.Kind() != reflect.String || to.Kind() == reflect.Slice {
		return from.Interface(), nil
	}
	return expand(from.String())
}

var (
	refPattern = regexp.MustCompile(`\$\$\{|\$\{([^}]*)(\}?)`) // $${, or ${ up to the next }
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

// convertHook converts text, as the file or the environment gives it, to
// a duration (a Go duration string), a list of strings (comma-separated,
// items trimmed, empty ones dropped), an integer (decimal only) or a
// boolean, and refuses any other change of kind: a value converts only to
// its own kind (an integer to a field of any integer type that holds it, a
// table to a table). So a bare number is no duration, and a Secret, like
// any string, must be a string.
func convertHook(from, to reflect.Value) (any, error) {
	fk, tk := kind(from.Type()), kind(to.Type())
	s := strings.TrimSpace(from.String()) // used only when from is a string
	switch {
	case to.Type() == durationType && fk == reflect.String:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf(`invalid duration %q; use a Go duration such as "5s", "1m30s" or "200ms"`, from.String())
		}
		return d, nil
	case fk == reflect.String && tk == reflect.Slice && (to.Type().Elem().Kind() == reflect.String || to.Type().Elem() == durationType): // []string, []Secret, []time.Duration
		list := []string{}
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		return list, nil
	case fk == reflect.String && tk == reflect.Int:
		n, err := strconv.ParseInt(s, 10, to.Type().Bits())
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%s is out of range for a %d-bit integer", s, to.Type().Bits())
		} else if err != nil {
			return nil, fmt.Errorf("invalid integer %q", from.String())
		}
		return n, nil
	case fk == reflect.String && tk == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", from.String())
		}
		return f, nil
	case fk == reflect.Int && tk == reflect.Float64: // sample_ratio = 1
		return float64(from.Int()), nil
	case fk == reflect.String && tk == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("invalid boolean %q; use true or false", from.String())
		}
		return b, nil
	case fk != tk || to.Type() == durationType && from.Type() != durationType:
		return nil, &mapstructure.UnconvertibleTypeError{Expected: to, Value: from.Interface()}
	case fk == reflect.Int && to.OverflowInt(from.Int()):
		return nil, fmt.Errorf("%d is out of range for a %d-bit integer", from.Int(), to.Type().Bits())
	}
	return from.Interface(), nil
}

// kind groups the kinds that convert into each other without loss.
func kind(t reflect.Type) reflect.Kind {
	switch k := t.Kind(); {
	case k >= reflect.Int && k <= reflect.Int64:
		return reflect.Int
	case k == reflect.Struct:
		return reflect.Map
	case k == reflect.Float32:
		return reflect.Float64
	default:
		return k
	}
}

// decodeErrors translates what mapstructure reports into fedsaga's
// errors, in the order of their keys, each naming its key: the key of the
// DecodeError it is in, key outside one.
func decodeErrors(err error, key string) []*Error {
	var errs []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok { // several, or several bad ${NAME} in one value
		for _, e := range j.Unwrap() {
			errs = append(errs, decodeErrors(e, key)...)
		}
		slices.SortStableFunc(errs, func(a, b *Error) int { return strings.Compare(a.Key, b.Key) })
		return errs
	}
	de, isDecode := err.(*mapstructure.DecodeError)
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case isDecode:
		name := de.Name()
		if name == reflect.TypeFor[Config]().String() { // mapstructure ≥ v2.5.0 names the root by its type
			name = ""
		}
		key, t := locate(name)
		if unused, ok := strings.CutPrefix(de.Unwrap().Error(), "has invalid keys: "); ok && t != nil {
			for _, k := range strings.Split(unused, ", ") {
				errs = append(errs, &Error{Key: joinKey(key, k), Err: unknownKeyError{hint: suggest(k, t, key)}})
			}
			return errs
		}
		return decodeErrors(de.Unwrap(), key)
	case key == "" && errors.Unwrap(err) != nil: // "decoding failed due to the following error(s)"
		return decodeErrors(errors.Unwrap(err), key)
	case errors.As(err, &ue): // never quote a secret
		hint := ""
		if n, ok := ue.Value.(int64); ok && ue.Expected.Type() == durationType {
			hint = durationHint(n)
		}
		return []*Error{keyErr(key, "expected %s, got %s%s", describeType(ue.Expected.Type()),
			describeValue(ue.Value, ue.Expected.Type() != secretType), hint)}
	}
	return []*Error{{Key: key, Err: err}}
}

// nameSegment matches one level of a field's name as mapstructure gives
// it: [key] for a map entry or list index, else a struct field.
var nameSegment = regexp.MustCompile(`\[([^\]]*)\]|\.?([^.\[]+)`)

// locate follows name, a field's name as mapstructure gives it
// (databases[orders].url, observers[0].channel), down from Config. It
// returns the key as fedsaga writes it (databases.orders.url,
// observers[0].channel) and the Go type there, nil if name leaves Config.
func locate(name string) (string, reflect.Type) {
	key, t := "", reflect.TypeFor[Config]()
	for _, m := range nameSegment.FindAllStringSubmatch(name, -1) {
		seg := m[1] + m[2]
		switch {
		case t != nil && t.Kind() == reflect.Slice:
			key, t = fmt.Sprintf("%s[%s]", key, seg), t.Elem()
		case t != nil && t.Kind() == reflect.Map:
			key, t = joinKey(key, seg), t.Elem()
		case t != nil && t.Kind() == reflect.Struct:
			key, t = joinKey(key, seg), fieldType(t, seg)
		default:
			key, t = joinKey(key, seg), nil
		}
	}
	return key, t
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
		if f.Tag.Get("koanf") == k {
			return f.Type
		}
	}
	return nil
}

// suggest returns "did you mean" with the full key of the field of t, the
// type of the table key, closest to the unknown key k, if it is close
// enough to be a likely typo.
func suggest(k string, t reflect.Type, key string) string {
	if hint, ok := aliasHint(k, t, key); ok {
		return hint
	}
	best, bestDist := "", min(3, len(k)/2+1)
	for f := range t.Fields() {
		name := f.Tag.Get("koanf")
		if d := levenshtein.ComputeDistance(k, name); d < bestDist || d == bestDist && name < best {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", joinKey(key, best))
}

// describeType names t the way a configuration file writer thinks of it.
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration string such as "5s"`
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables ([[...]])"
	}
	return map[reflect.Kind]string{reflect.Int: "an integer", reflect.String: "a string", reflect.Bool: "true or false",
		reflect.Slice: "a list of strings", reflect.Map: "a table"}[kind(t)]
}

// describeValue names the TOML type of v, with v itself when show is set
// and v is a short scalar.
func describeValue(v any, show bool) string {
	scalar := map[reflect.Kind]string{reflect.Bool: "boolean", reflect.Int64: "integer", reflect.Float64: "float"}
	other := map[reflect.Kind]string{reflect.String: "a string", reflect.Slice: "a list", reflect.Map: "a table"}
	k := reflect.TypeOf(v).Kind()
	switch {
	case scalar[k] != "" && show:
		return fmt.Sprintf("%s %v", scalar[k], v)
	case scalar[k] != "":
		return "a value of type " + scalar[k]
	case other[k] != "":
		return other[k]
	}
	return "a date or time"
}
