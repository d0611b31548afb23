package federation_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fedsaga/fedsaga/federation"
)

// FuzzParseCursor: ParseCursor never panics; what it accepts has an id
// PostgreSQL can take as text and encodes back to a cursor that parses to
// the same position; everything else is ErrBadCursor.
func FuzzParseCursor(f *testing.F) {
	at := time.Date(2026, 11, 28, 17, 24, 56, 261641000, time.UTC)
	for _, c := range []federation.Cursor{{CreatedAt: at, ID: "order-1"}, {CreatedAt: at, ID: "a|b"}, {CreatedAt: at, ID: "é"}} {
		f.Add(c.String())
	}
	for _, raw := range []string{"", "garbage!", "2026-11-28T17:24:56Z|x", "MjAyNg", "=", "\x00", "\xff",
		"2026-11-28T17:24:56Z|", "2026-11-28T17:24:56Z|a\x00b", "2026-11-28T17:24:56Z|\xff\xfe", "|x", "2026-13-40T99:99:99Z|x",
		"9999-12-31T23:59:59.999999999+23:59|" + strings.Repeat("z", 300)} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(raw)))
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := federation.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, federation.ErrBadCursor) || c != (federation.Cursor{}) {
				t.Fatalf("ParseCursor(%q) = %+v, %v; want the zero Cursor and ErrBadCursor", s, c, err)
			}
			return
		}
		if c.ID == "" || !utf8.ValidString(c.ID) || strings.ContainsRune(c.ID, 0) {
			t.Fatalf("ParseCursor(%q) accepted the id %q", s, c.ID)
		}
		again, err := federation.ParseCursor(c.String())
		if err != nil || again.ID != c.ID || !again.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("ParseCursor(%q) = %+v, whose String %q parses to %+v, %v", s, c, c.String(), again, err)
		}
	})
}
