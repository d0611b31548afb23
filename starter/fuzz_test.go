package starter

import (
	"testing"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// FuzzParseItem: ParseItem never panics; what it accepts is within the
// order's limits and formats back to a string it parses to the same item;
// what it refuses names the limit or the SKU=QTY form.
func FuzzParseItem(f *testing.F) {
	for _, seed := range []string{
		"WIDGET=2", " GADGET =1", "GIZMO-LTD=1000000", "W=1000001", "W=4294967297",
		"W=-1", "W=0", "W=+5", "W= 7", "W=0x10", "=1", "W", "W==1", "a.b@c=3",
		"W=99999999999999999999", "\x00=1", "\xff=1", "é=1", "W=1\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		it, err := ParseItem(s)
		if err != nil {
			if it != (Item{}) {
				t.Errorf("ParseItem(%q) = %+v with error %v; want the zero Item", s, it, err)
			}
			if len(err.Error()) > 3*spec.MaxIDLength+100 {
				t.Errorf("ParseItem(%q): error of %d bytes echoes the whole input", s, len(err.Error()))
			}
			return
		}
		if spec.CheckSKU(it.SKU) != nil || spec.CheckQuantity(it.Quantity) != nil {
			t.Fatalf("ParseItem(%q) = %+v: outside the limits", s, it)
		}
		req := Request{OrderID: "ord-1", CustomerID: "alice", Items: []Item{it}}
		if err := req.Validate(); err != nil {
			t.Fatalf("ParseItem(%q) = %+v, which Validate refuses: %v", s, it, err)
		}
		back, err := ParseItem(FormatItem(it))
		if err != nil || back != it {
			t.Fatalf("round trip of %q: ParseItem(%q) = %+v, %v; want %+v", s, FormatItem(it), back, err, it)
		}
	})
}
