package tracer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestEventJSONKeepsNonUTF8Bytes(t *testing.T) {
	for _, ev := range []Event{
		{Kind: KindSyscall, Nr: 59, Filename: "/tmp/caf\xe9", Argv: []string{"caf\xe9", "ok"}, Comm: "x\xff"},
		{Kind: KindExec, Filename: "/usr/bin/true", Argv: []string{"true"}, Comm: "true"},
		{Kind: KindExit, GroupDead: true},
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", b, back, ev)
		}
		if strings.Contains(string(b), "\ufffd") {
			t.Errorf("replacement character written: %s", b)
		}
		if ev.Filename == "/usr/bin/true" && strings.Contains(string(b), `"raw"`) {
			t.Errorf("valid UTF-8 moved to raw: %s", b)
		}
	}
}
