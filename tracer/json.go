package tracer

import (
	"encoding/json"
	"unicode/utf8"
)

// rawStrings holds, as bytes (base64 in JSON), the strings of an Event that
// are not valid UTF-8: paths and arguments are bytes to the kernel, and
// encoding/json would replace what is not UTF-8 with U+FFFD, losing them.
type rawStrings struct {
	Comm     []byte   `json:"comm,omitempty"`
	Filename []byte   `json:"filename,omitempty"`
	Argv     [][]byte `json:"argv,omitempty"`
}

type plainEvent Event

type eventJSON struct {
	plainEvent
	Raw *rawStrings `json:"raw,omitempty"`
}

// MarshalJSON writes an Event, moving strings that are not UTF-8 into "raw".
func (e Event) MarshalJSON() ([]byte, error) {
	out := eventJSON{plainEvent: plainEvent(e)}
	var raw rawStrings
	moved := false
	if !utf8.ValidString(e.Comm) {
		raw.Comm, out.Comm, moved = []byte(e.Comm), "", true
	}
	if !utf8.ValidString(e.Filename) {
		raw.Filename, out.Filename, moved = []byte(e.Filename), "", true
	}
	for _, a := range e.Argv {
		if !utf8.ValidString(a) {
			raw.Argv = make([][]byte, len(e.Argv))
			for i, a := range e.Argv {
				raw.Argv[i] = []byte(a)
			}
			out.Argv, moved = nil, true
			break
		}
	}
	if moved {
		out.Raw = &raw
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var in eventJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*e = Event(in.plainEvent)
	if r := in.Raw; r != nil {
		if r.Comm != nil {
			e.Comm = string(r.Comm)
		}
		if r.Filename != nil {
			e.Filename = string(r.Filename)
		}
		if r.Argv != nil {
			e.Argv = make([]string, len(r.Argv))
			for i, a := range r.Argv {
				e.Argv[i] = string(a)
			}
		}
	}
	return nil
}
