package api

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fedsaga/fedsaga/federation"
)

// checkParamError fails t unless err is a BAD_REQUEST *Error on param
// whose message quotes no more than a short prefix of the input.
func checkParamError(t *testing.T, input, param string, err error) {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Code != CodeBadRequest || e.Code.Status() != 400 || e.Parameter != param {
		t.Fatalf("input %q: error %v, want a BAD_REQUEST on %s", input, err, param)
	}
	if len(e.Message) > 200 {
		t.Fatalf("input of %d bytes: message of %d bytes", len(input), len(e.Message))
	}
}

// FuzzParseCursor: the after= parameter as the handler parses it: no
// panic; a cursor it accepts holds an id of valid UTF-8, without NUL, of
// at most MaxIDLength bytes; anything else is a 400 on after.
func FuzzParseCursor(f *testing.F) {
	at := time.Date(2026, 11, 28, 17, 24, 56, 0, time.UTC)
	f.Add(federation.Cursor{CreatedAt: at, ID: "order-1"}.String())
	f.Add(federation.Cursor{CreatedAt: at, ID: strings.Repeat("x", 17)}.String())
	f.Add(federation.Cursor{CreatedAt: at, ID: "a\x00b"}.String())
	f.Add(federation.Cursor{CreatedAt: at, ID: "\xff"}.String())
	f.Add("garbage!")
	f.Add(strings.Repeat("A", 5000))
	a := &Server{MaxIDLength: 16}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := a.cursor(s)
		if err != nil {
			checkParamError(t, s, "after", err)
			return
		}
		if len(c.ID) > 16 || !utf8.ValidString(c.ID) || strings.ContainsRune(c.ID, 0) {
			t.Fatalf("after=%q accepted the id %q", s, c.ID)
		}
	})
}

// FuzzParseIDs: the ids= parameter: no panic; 1 to MaxIDs ids, each
// valid UTF-8 without NUL of at most MaxIDLength bytes, or a 400 on ids.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"a", "a,b,c", ",,", "", " a , b ", "a,b,c,d,e", "a\x00", "\xff", strings.Repeat("x", 17), strings.Repeat("i,", 1000), "é,ü"} {
		f.Add(s)
	}
	a := &Server{MaxIDs: 4, MaxIDLength: 16}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := a.ids(s)
		if err != nil {
			checkParamError(t, s, "ids", err)
			return
		}
		if len(ids) < 1 || len(ids) > 4 {
			t.Fatalf("ids=%q: %d ids accepted", s, len(ids))
		}
		for _, id := range ids {
			if id == "" || len(id) > 16 || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
				t.Fatalf("ids=%q accepted the id %q", s, id)
			}
		}
	})
}

func TestEcho(t *testing.T) {
	for in, want := range map[string]string{
		"short":                       `"short"`,
		strings.Repeat("x", 64):       `"` + strings.Repeat("x", 64) + `"`,
		strings.Repeat("x", 65):       `"` + strings.Repeat("x", 64) + `"... (65 bytes)`,
		strings.Repeat("x", 63) + "é": `"` + strings.Repeat("x", 63) + `"... (65 bytes)`, // not cut inside é
		"\xff\x00":                    `"\xff\x00"`,
		strings.Repeat("\xff", 20):    `"` + strings.Repeat(`\xff`, 16) + `"... (20 bytes)`,
	} {
		if got := echo(in); got != want {
			t.Errorf("echo(%.20q...) = %s, want %s", in, got, want)
		}
	}
}
