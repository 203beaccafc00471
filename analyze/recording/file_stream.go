package recording

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spawntrace/spawntrace/tracer"
)

// encodeStreamed writes a recording whose events are on disk: everything
// else encoded as usual around an empty events array, and the events, in
// the order they arrived as Encode would list them, written into it one by
// one. Memory holds one event at a time.
func encodeStreamed(w io.Writer, rec *Recording) error {
	head := *rec
	head.Events = []tracer.Event{} // "events":[]
	b, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	at, err := eventsArrayAt(b)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(b[:at+1]) // through "events":[
	n := 0
	err = rec.eachArrived(func(ev *tracer.Event) error {
		eb, err := json.Marshal(ev) // as json.Encoder encodes a slice element
		if err != nil {
			return fmt.Errorf("event %d: %w", n, err)
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		_, err = bw.Write(eb)
		return err
	})
	if err != nil {
		return err
	}
	bw.Write(b[at+1:]) // "]" and the fields after
	bw.WriteByte('\n') // as json.Encoder ends a value
	return bw.Flush()
}

// eventsArrayAt finds the '[' of the top-level "events" array in the JSON
// object b, by tokens: a string value or a nested object holding the same
// characters does not match.
func eventsArrayAt(b []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return 0, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, err
		}
		if key == "events" {
			off := int(dec.InputOffset())
			i := bytes.IndexByte(b[off:], '[')
			if i < 0 || off+i+1 >= len(b) || b[off+i+1] != ']' {
				break
			}
			return off + i, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
	}
	return 0, errors.New("no events array in the encoded recording")
}
