package recording

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// decodeObject reads a recording's JSON object key by key. The "events"
// array, the one part that grows with the run, goes element by element
// into a spill file as a recording run's events do (each element decoded,
// checked and spilled, then forgotten); every other value is kept as raw
// JSON and decoded at the end as one object, as before. Those grow with
// distinct stacks and files, with spawning processes (Spawners) and with
// sampled ones (CPUSamples, one per process and stack), not with events:
// a loop of a million posix_spawn has one spawner and a few stacks.
//
// Key order: spawntrace writes the header (format, schema) first, but
// nothing here depends on it. A bad event is held, not returned, while
// the rest of the object is read, so that a newer schema whose events
// this build cannot read is named as such wherever its "schema" key is;
// only broken JSON (syntax, truncation) stops the reading at once, as it
// did when the whole object was read before anything was checked.
func decodeObject(dec *json.Decoder, src *errTracker, lim *budget) (*Recording, error) {
	keyWhat := func() string { return fmt.Sprintf("a key longer than %d KiB", MaxEventBytes>>10) }
	lim.allow(0, MaxEventBytes, keyWhat)
	if tok, err := dec.Token(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: not a spawntrace recording")
		}
		return nil, streamErr(err)
	} else if tok != json.Delim('{') {
		return nil, errors.New("not a spawntrace recording (not a JSON object)")
	}
	var head bytes.Buffer // the object without its events
	head.WriteByte('{')
	var evs *eventStream
	var badEvents error   // the first bad event
	var eventsBytes int64 // of the file, in "events" arrays
	headWhat := func() string {
		return fmt.Sprintf("its parts other than the events take more than %d MiB", MaxHeadBytes>>20)
	}
	ok := false
	defer func() {
		if !ok {
			evs.close()
		}
	}()
	for {
		lim.allow(dec.InputOffset(), MaxEventBytes, keyWhat)
		if !dec.More() {
			break
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, streamErr(err)
		}
		key, _ := tok.(string) // an object's keys are strings, or Token fails
		// encoding/json matches keys without regard to case, so "Events"
		// would have filled Events too; the last of repeated keys wins.
		if strings.EqualFold(key, "events") {
			evs.close()
			start := dec.InputOffset()
			if evs, err = readEvents(dec, src, lim); err != nil {
				return nil, err
			}
			eventsBytes += dec.InputOffset() - start
			// A bad event of an array a later one replaces still
			// rejects the file, as json.Unmarshal's error did.
			if evs != nil && evs.err != nil && badEvents == nil {
				badEvents = evs.err
			}
			continue
		}
		headUsed := dec.InputOffset() - eventsBytes
		lim.allow(dec.InputOffset(), max(MaxHeadBytes-headUsed, MaxEventBytes), headWhat)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, streamErr(err)
		}
		if dec.InputOffset()-eventsBytes > MaxHeadBytes {
			return nil, &LimitError{What: headWhat()}
		}
		if !knownKey(key) {
			continue // read, counted, not kept: json.Unmarshal would skip it
		}
		if head.Len() > 1 {
			head.WriteByte(',')
		}
		kb, _ := json.Marshal(key) // a string always encodes
		head.Write(kb)
		head.WriteByte(':')
		head.Write(raw)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, streamErr(err)
	}
	if dec.More() {
		return nil, errors.New("corrupt recording: data after the end of the recording")
	}
	head.WriteByte('}')
	rec, err := decodeHead(head.Bytes(), evs, badEvents)
	if err != nil {
		return nil, err
	}
	ok = true
	return rec, nil
}

// decodeHead checks the header, then badEvents, then decodes and checks
// the rest and hands the events over.
func decodeHead(obj []byte, evs *eventStream, badEvents error) (*Recording, error) {
	var head struct {
		Format string `json:"format"`
		Schema int    `json:"schema"`
	}
	if err := json.Unmarshal(obj, &head); err != nil {
		return nil, fmt.Errorf("not a spawntrace recording: %w", err)
	}
	if head.Format != FormatName {
		return nil, fmt.Errorf("not a spawntrace recording (format %q)", head.Format)
	}
	if head.Schema > SchemaVersion {
		return nil, fmt.Errorf("recording schema %d is newer than this spawntrace reads (%d): upgrade spawntrace", head.Schema, SchemaVersion)
	}
	if head.Schema < 1 {
		return nil, fmt.Errorf("recording schema %d is not valid", head.Schema)
	}
	if badEvents != nil {
		return nil, fmt.Errorf("corrupt recording: %w", badEvents)
	}
	var rec Recording
	if err := json.Unmarshal(obj, &rec); err != nil {
		return nil, fmt.Errorf("corrupt recording: %w", err)
	}
	if err := rec.validate(); err != nil { // all but the events, checked as they passed
		return nil, fmt.Errorf("corrupt recording: %w", err)
	}
	if err := rec.takeEvents(evs); err != nil {
		return nil, err
	}
	return &rec, nil
}

// takeEvents hands a decoded events array (nil: none, or "events":null)
// over to rec, once its stack references are checked against rec's stacks.
func (rec *Recording) takeEvents(evs *eventStream) error {
	if evs == nil {
		return nil
	}
	if err := evs.checkStacks(len(rec.Stacks)); err != nil {
		return fmt.Errorf("corrupt recording: %w", err)
	}
	if err := evs.spill.events.Flush(); err != nil {
		return fmt.Errorf("reading recording: %w", err)
	}
	rec.spill = evs.spill
	if late := evs.order.late; late > 0 {
		// Out of order beyond the window: a time-ordered pass would not be
		// exact. Such files are rare (written by hand or by another tool,
		// or by a run whose events already arrived that late, which record
		// warned of), so they pay for a sort of the spill on disk before
		// the first pass, rather than every file paying for it; memory
		// stays bounded either way (sortSpill).
		sorted, err := sortSpill(evs.spill)
		if err != nil {
			rec.spill = nil
			return fmt.Errorf("reading recording: %w", err)
		}
		evs.close()
		rec.spill = sorted
		rec.sortedLate = late
	}
	return nil
}

// eventStream is the events array of a recording being decoded.
type eventStream struct {
	spill *eventSpill
	buf   []byte // one encoded event, reused
	order orderCheck
	// badStack is the first event with a negative StackID; stackMax the
	// events whose StackID is larger than every earlier one's. The
	// number of stacks may come after the events: with these the first
	// event out of range is found then, as when the events were in memory.
	badStack stackRef
	stackMax []stackRef
	err      error     // the first bad event
	live     liveTasks // processes and spawning threads alive, within MaxLiveTasks
	// inPlace: the records stay where they are (newEventView), only
	// checked.
	inPlace bool
}

type stackRef struct{ i, id int }

// readEvents streams the value of an "events" key into a new spill: nil
// for null. A value of another type is a held error, as json.Unmarshal
// would report it.
func readEvents(dec *json.Decoder, src *errTracker, lim *budget) (*eventStream, error) {
	eventWhat := func() string { return fmt.Sprintf("an event takes more than %d KiB", MaxEventBytes>>10) }
	lim.allow(dec.InputOffset(), MaxEventBytes, eventWhat)
	tok, err := dec.Token()
	if err != nil {
		return nil, streamErr(err)
	}
	if tok == nil {
		return nil, nil
	}
	evs, err := newEventStream()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		lim.allow(dec.InputOffset(), MaxHeadBytes, func() string {
			return fmt.Sprintf("its events are not an array and take more than %d MiB", MaxHeadBytes>>20)
		})
		evs.err = fmt.Errorf("events: %v where an array belongs", tokenKind(tok))
		if err := skipValue(dec, tok); err != nil {
			evs.close()
			return nil, err
		}
		return evs, nil
	}
	for i := 0; ; i++ {
		lim.allow(dec.InputOffset(), MaxEventBytes, eventWhat)
		if !dec.More() {
			break
		}
		var ev tracer.Event
		if err := dec.Decode(&ev); err != nil {
			if src.err != nil || isSyntaxErr(err) {
				evs.close()
				return nil, streamErr(err)
			}
			// A value of the wrong type, an unknown kind: the element was
			// read whole and the next one can be.
			if evs.err == nil {
				evs.err = fmt.Errorf("event %d: %w", i, err)
			}
			continue
		}
		if err := evs.add(i, &ev); err != nil {
			evs.close()
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		evs.close()
		return nil, streamErr(err)
	}
	return evs, nil
}

// newEventStream starts an empty events array in a new spill.
func newEventStream() (*eventStream, error) {
	f, err := spill.NewFile(spill.CreateTemp)
	if err != nil {
		return nil, fmt.Errorf("reading recording: %w", err)
	}
	return &eventStream{
		spill:    &eventSpill{events: f, window: ReorderWindow, windowBytes: ReorderWindowBytes},
		order:    orderCheck{window: ReorderWindow, maxBytes: ReorderWindowBytes},
		badStack: stackRef{i: -1},
	}, nil
}

// newEventView starts checking the events of a file read in place: the
// spill's file is set once they are all checked (readBinaryEvents), and
// nothing is written.
func newEventView() *eventStream {
	return &eventStream{
		spill:    &eventSpill{window: ReorderWindow, windowBytes: ReorderWindowBytes},
		order:    orderCheck{window: ReorderWindow, maxBytes: ReorderWindowBytes},
		badStack: stackRef{i: -1},
		inPlace:  true,
	}
}

// add checks one event and spills it; only a failure to write the spill
// is returned, a bad event is held.
func (evs *eventStream) add(i int, ev *tracer.Event) error {
	return evs.addRecord(i, ev, nil)
}

// addRecord is add for an event whose spill record's payload is at hand
// (a binary recording's, decoded into ev to check it): the record is
// copied as it is, not encoded again.
func (evs *eventStream) addRecord(i int, ev *tracer.Event, payload []byte) error {
	if evs.err != nil {
		return nil // the recording is rejected: no need to keep the rest
	}
	if err := validateEvent(i, ev); err != nil {
		evs.err = err
		return nil
	}
	var encErr error
	if payload == nil {
		var b []byte
		b, encErr = appendEvent(evs.buf[:0], ev)
		evs.buf = b
		payload = b[min(3, len(b)):]
	}
	c := checkedOf(ev, len(payload))
	return evs.addChecked(i, &c, payload, encErr)
}

// checkedEvent is what the checks of an event in file order need of it,
// once it decoded and passed validateEvent: a binary recording's events
// are decoded on other goroutines (readBinaryEvents), their checkedEvents
// added here in order.
type checkedEvent struct {
	timeNs    uint64
	heldBytes int // heldBytes of the record, as a pass reads it
	stackID   int
	live      liveOp
	exit      bool
}

func checkedOf(ev *tracer.Event, payloadBytes int) checkedEvent {
	return checkedEvent{timeNs: ev.TimeNs, heldBytes: heldBytes(payloadBytes, ev), stackID: ev.StackID,
		live: liveOpOf(ev), exit: ev.Kind == tracer.KindExit}
}

// addChecked adds event i, decoded and valid, whose record's payload is
// payload (copied to the spill unless the stream is a view); encErr is
// the failure to encode it (a JSON recording's event), held in turn.
func (evs *eventStream) addChecked(i int, c *checkedEvent, payload []byte, encErr error) error {
	if evs.err != nil {
		return nil
	}
	if err := evs.live.apply(c.live); err != nil {
		return err
	}
	if c.stackID > maxStackID {
		evs.err = fmt.Errorf("event %d: stack %d, more than a recording can hold", i, c.stackID)
		return nil
	}
	if c.stackID < 0 && evs.badStack.i < 0 {
		evs.badStack = stackRef{i, c.stackID}
	}
	if n := len(evs.stackMax); c.stackID > 0 && (n == 0 || c.stackID > evs.stackMax[n-1].id) {
		evs.stackMax = append(evs.stackMax, stackRef{i, c.stackID})
	}
	if encErr != nil {
		evs.err = fmt.Errorf("event %d: %w", i, encErr)
		return nil
	}
	if c.exit {
		if c.live.groupDead {
			evs.spill.exits.processes++
		} else {
			evs.spill.exits.threads++
		}
	}
	evs.order.push(c.timeNs, c.heldBytes)
	evs.spill.n++
	if evs.inPlace {
		return nil
	}
	var length [3]byte
	err := evs.spill.events.Write(appendRecordLength(length[:0], len(payload)))
	if err == nil {
		err = evs.spill.events.Write(payload)
	}
	if err != nil {
		return fmt.Errorf("reading recording: %w", err)
	}
	return nil
}

// checkStacks finds the first event whose StackID is out of range once
// the number of stacks is known; validateStacks words it the same way.
func (evs *eventStream) checkStacks(stacks int) error {
	first := evs.badStack
	for _, r := range evs.stackMax {
		if r.id > stacks {
			if first.i < 0 || r.i < first.i {
				first = r
			}
			break
		}
	}
	if first.i >= 0 {
		return fmt.Errorf("event %d: stack %d of %d", first.i, first.id, stacks)
	}
	return nil
}

func (evs *eventStream) close() {
	if evs != nil && evs.spill != nil {
		evs.spill.events.Close()
		evs.spill = nil
	}
}

// knownKeys are Recording's JSON keys, lower case (encoding/json matches
// keys without regard to case).
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Recording{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[strings.ToLower(name)] = true
		}
	}
	return m
}()

func knownKey(key string) bool { return knownKeys[strings.ToLower(key)] }

// skipValue reads the rest of a value whose first token was tok.
func skipValue(dec *json.Decoder, tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = dec.Token(); err != nil {
			return streamErr(err)
		}
	}
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// streamErr words a failure to read the JSON itself; a limit reached is
// returned as it is.
func streamErr(err error) error {
	if le, ok := limitErr(err); ok {
		return le
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated recording (unexpected end of data)")
	}
	return fmt.Errorf("corrupt recording: %w", err)
}

func isSyntaxErr(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// errTracker remembers the first failure of the reader under the JSON
// decoder (a corrupt gzip stream): an element that fails then is not a
// bad event but a broken file.
type errTracker struct {
	r   io.Reader
	err error
}

func (t *errTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}
