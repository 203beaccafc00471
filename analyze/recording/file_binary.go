package recording

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spawntrace/spawntrace/tracer"
)

// The binary recording is the default file (-w): the same recording as
// the JSON one, whose events take a pass of a JSON decoder that no
// spawntrace report could afford (a 200 000-spawn run is 169 MB of JSON;
// decoding it took 9 of report -c's 10 s, and merely scanning its bytes
// once ~0.5 s). Its events are records of the spill codec
// (spill_codec.go), so loading one is a check and a copy.
//
//	magic       binaryMagic
//	version     uvarint, BinaryVersion
//	head        uvarint length (<= MaxHeadBytes), then the JSON object of the
//	            recording without its events (format, schema, host facts, ...)
//	events      one record each, in the order they arrived: uvarint payload
//	            length (1 to MaxEventBytes), then the payload
//	end         uvarint 0
//
// The version pins the event codec: a change to appendEvent's fields is
// a new BinaryVersion, and the old one keeps decoding
// (testdata/sample-v*.strec, TestBinaryGoldenLoads). Version 2 added
// PathEntries at the end of each event; version 1's events end before it.

// binaryMagic starts a binary recording. Its high first byte and its
// CR LF and ^Z catch a file passed through a text-mode transfer.
const binaryMagic = "\x89strec\r\n\x1a\n"

// BinaryVersion is the binary layout this build writes and the newest it reads.
const BinaryVersion = 2

// Encoding is how Save writes a recording.
type Encoding int

const (
	// Binary is the compact form report loads fast (the default).
	Binary Encoding = iota
	// JSON is the readable export, loaded as well.
	JSON
)

// EncodingFor is the encoding a file named path is saved in when nothing
// says otherwise: JSON for a name ending in .json or .json.gz (scripts and
// jq expect JSON there), else binary.
func EncodingFor(path string) Encoding {
	if strings.HasSuffix(strings.TrimSuffix(path, ".gz"), ".json") {
		return JSON
	}
	return Binary
}

// EncodeBinary writes rec as a binary recording, stamping the format and
// schema of its head; a recording run's events are streamed from its
// spill file.
func EncodeBinary(w io.Writer, rec *Recording) error {
	rec.Format = FormatName
	rec.Schema = SchemaVersion
	headRec := *rec
	headRec.Events = nil
	head, err := json.Marshal(&headRec)
	if err != nil {
		return err
	}
	if len(head) > MaxHeadBytes {
		return fmt.Errorf("the recording's parts other than its events take %d MiB, more than a recording holds (%d MiB)",
			len(head)>>20, MaxHeadBytes>>20)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(binaryMagic)
	b := binary.AppendUvarint(nil, BinaryVersion)
	b = binary.AppendUvarint(b, uint64(len(head)))
	bw.Write(b)
	bw.Write(head)
	var buf []byte
	n := 0
	err = rec.eachArrived(func(ev *tracer.Event) error {
		// Raw addresses are never saved (the JSON leaves them out too).
		stack := ev.UserStack
		ev.UserStack = nil
		var err error
		buf, err = appendEvent(buf[:0], ev)
		ev.UserStack = stack
		if err != nil {
			return fmt.Errorf("event %d: %w", n, err)
		}
		if len(buf)-3 > MaxEventBytes {
			return fmt.Errorf("event %d: %d bytes, more than a recording holds", n, len(buf)-3)
		}
		n++
		_, err = bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteByte(0)
	return bw.Flush()
}

// decodeBinary reads a binary recording after its first byte was found to
// be binaryMagic's. Lengths come first, each within its limit, so memory
// holds the head and one event; the events go to a spill as the JSON
// ones do (readEvents), checked one by one. When in is the file br reads
// and the events have the spill's form (version 2), they are checked and
// left where they are: the spill is a view of in.
func decodeBinary(br *bufio.Reader, in *os.File) (*Recording, error) {
	magic := make([]byte, len(binaryMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != binaryMagic {
		return nil, errors.New("not a spawntrace recording (bad binary header)")
	}
	version, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, binaryErr(err)
	}
	if version > BinaryVersion {
		return nil, fmt.Errorf("binary recording version %d is newer than this spawntrace reads (%d): upgrade spawntrace", version, BinaryVersion)
	}
	if version < 1 {
		return nil, fmt.Errorf("binary recording version %d is not valid", version)
	}
	headBytes, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, binaryErr(err)
	}
	if headBytes > MaxHeadBytes {
		return nil, &LimitError{What: fmt.Sprintf("its parts other than the events take more than %d MiB", MaxHeadBytes>>20)}
	}
	// Read as it comes, not allocated at the claimed size: a short file
	// claiming the limit costs what it holds.
	var head bytes.Buffer
	if n, err := io.CopyN(&head, br, int64(headBytes)); err != nil || uint64(n) != headBytes {
		return nil, binaryErr(err)
	}
	if first, err := peekNonSpace(bufio.NewReader(bytes.NewReader(head.Bytes()))); err != nil || first != '{' {
		return nil, errors.New("corrupt recording: its head is not a JSON object")
	}
	rec, err := decodeHead(head.Bytes(), nil, nil)
	if err != nil {
		return nil, err
	}
	if len(rec.Events) > 0 {
		return nil, errors.New("corrupt recording: events in the head of a binary recording")
	}
	var view *os.File
	var eventsAt int64
	if in != nil && version >= 2 {
		if at, err := in.Seek(0, io.SeekCurrent); err == nil {
			view, eventsAt = in, at-int64(br.Buffered())
		}
	}
	evs, err := readBinaryEvents(br, version, view, eventsAt)
	if err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		evs.close()
		if err != nil {
			return nil, binaryErr(err)
		}
		return nil, errors.New("corrupt recording: data after the end of the recording")
	}
	if err := rec.takeEvents(evs); err != nil {
		evs.close()
		return nil, err
	}
	return rec, nil
}

// readUvarint is binary.ReadUvarint, which also returns how many bytes
// it read: a record's length is not always in its shortest form
// (appendRecordLength).
func readUvarint(br *bufio.Reader) (uint64, int, error) {
	before := br.Buffered()
	if before < binary.MaxVarintLen64 {
		br.Peek(binary.MaxVarintLen64) // fills the buffer: less is there only at the end
		before = br.Buffered()
	}
	n, err := binary.ReadUvarint(br)
	return n, before - br.Buffered(), err
}

// checkDecoded refuses what the JSON form cannot hold: a kind without a
// name, raw stack addresses (never saved).
func checkDecoded(ev *tracer.Event) error {
	switch ev.Kind {
	case tracer.KindSyscall, tracer.KindFork, tracer.KindExec, tracer.KindExit:
	default:
		return fmt.Errorf("unknown event kind %d", uint8(ev.Kind))
	}
	if ev.UserStack != nil {
		return errors.New("raw stack addresses, which recordings do not keep")
	}
	return nil
}

// binaryErr words a failure to read a binary recording.
func binaryErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated recording (unexpected end of data)")
	}
	return fmt.Errorf("corrupt recording: %w", err)
}
