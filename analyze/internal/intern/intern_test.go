package intern

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// A table shares short strings and remembers no long one, whatever their
// number: its memory stays within MaxStrings of MaxStringBytes.
func TestTableBounded(t *testing.T) {
	var in Table
	a := in.Bytes([]byte("/usr/bin/true"))
	if b := in.Bytes([]byte("/usr/bin/true")); unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("a repeated short string is not shared")
	}
	long := strings.Repeat("a", MaxStringBytes)
	for i := range 100 {
		if s := in.Bytes([]byte(long + strconv.Itoa(i))); s != long+strconv.Itoa(i) {
			t.Fatalf("string %d read back wrong", i)
		}
		in.String(long + "x" + strconv.Itoa(i))
	}
	if len(in) != 1 {
		t.Errorf("the table remembers %d strings, want only the short one", len(in))
	}
	for i := range 2 * MaxStrings {
		in.String(strconv.Itoa(i))
	}
	if len(in) != MaxStrings {
		t.Errorf("the table remembers %d strings, want at most %d", len(in), MaxStrings)
	}
}
