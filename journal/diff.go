package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/obz-dev/obz/wire"
)

// Diff is the positional comparison of two journals.
type Diff struct {
	Frames     [2]int64 // frames read from A and B
	Events     [2]int64 // data and error frames
	EOF        [2]string
	Differing  int64 // positions (data, error, EOF frames) that differ
	First      *Divergence
	Ends       [2]error // a torn tail or corruption that ended A or B, else nil
	LengthNote string   // set when one has events the other lacks
}

// Same reports whether the journals hold the same events and EOF.
func (d *Diff) Same() bool { return d.Differing == 0 && d.LengthNote == "" }

// Divergence is the first position where two journals differ.
type Divergence struct {
	Index  int64    // 1-based position among the compared frames
	Seq    uint64   // seq in A (or in B when A has ended)
	What   []string // what differs: kind, seq, parent, error, payload fields
	A, B   string   // the two frames' payloads (or a description)
	Fields []string // top-level payload keys that differ, with a note
}

// Compare reads a and b to their ends and compares their data, error and
// EOF frames position by position; watermarks and receipts are not
// compared (they depend on timing). Writer names are not compared either,
// so a stage's output can be compared with another stage's.
func Compare(a, b *Reader) (*Diff, error) {
	d := &Diff{}
	readers := [2]*Reader{a, b}
	var fr [2]wire.Frame
	var lines [2][]byte
	var done [2]bool
	next := func(i int) error {
		for {
			err := readers[i].Next(&fr[i])
			if err != nil {
				done[i] = true
				var je *Error
				// A journal that cannot be read whole (its references
				// cannot be resolved) is no comparison: an error.
				if err != io.EOF && (!errors.As(err, &je) || errors.Is(err, ErrUnresolved)) {
					return err
				}
				if je != nil {
					d.Ends[i] = je
				}
				return nil
			}
			d.Frames[i]++
			switch fr[i].Kind {
			case wire.KindData, wire.KindError:
				d.Events[i]++
			case wire.KindEOF:
				d.EOF[i] = fmt.Sprintf("%s, count %d", fr[i].EOF, fr[i].Count)
			default:
				continue
			}
			lines[i] = append(lines[i][:0], readers[i].Line()...)
			return nil
		}
	}
	var pos int64
	for {
		for i := range 2 {
			if !done[i] {
				if err := next(i); err != nil {
					return nil, err
				}
			}
		}
		if done[0] || done[1] {
			break
		}
		pos++
		var fa, fb wire.Frame
		wire.Decode(lines[0], &fa)
		wire.Decode(lines[1], &fb)
		if what, fields := compareFrames(&fa, &fb); len(what) > 0 {
			d.Differing++
			if d.First == nil {
				d.First = &Divergence{Index: pos, Seq: fa.Seq, What: what, A: describe(&fa), B: describe(&fb), Fields: fields}
			}
		}
	}
	switch {
	case done[0] && !done[1]:
		d.LengthNote = "B has more events than A"
		if d.First == nil {
			var fb wire.Frame
			wire.Decode(lines[1], &fb)
			d.First = &Divergence{Index: pos + 1, Seq: fb.Seq, What: []string{"missing in A"}, A: "(end of A)", B: describe(&fb)}
		}
		for !done[1] {
			if err := next(1); err != nil {
				return nil, err
			}
		}
	case done[1] && !done[0]:
		d.LengthNote = "A has more events than B"
		if d.First == nil {
			var fa wire.Frame
			wire.Decode(lines[0], &fa)
			d.First = &Divergence{Index: pos + 1, Seq: fa.Seq, What: []string{"missing in B"}, A: describe(&fa), B: "(end of B)"}
		}
		for !done[0] {
			if err := next(0); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

func refText(r wire.Ref) string {
	if r.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%s/%d", r.Writer, r.Seq)
}

func describe(f *wire.Frame) string {
	switch f.Kind {
	case wire.KindEOF:
		return fmt.Sprintf("EOF %s, count %d", f.EOF, f.Count)
	case wire.KindError:
		msg := ""
		if f.Err != nil {
			msg = f.Err.Kind + ": " + f.Err.Msg + " "
		}
		return "error event " + msg + string(cmpPayload(f))
	}
	return string(f.Payload)
}

func cmpPayload(f *wire.Frame) []byte {
	if f.Payload == nil && f.Err != nil {
		return f.Err.Raw
	}
	return f.Payload
}

// compareFrames returns what differs between two frames, and for payloads
// the top-level keys that differ.
func compareFrames(a, b *wire.Frame) (what, fields []string) {
	if a.Kind != b.Kind {
		return []string{"kind: " + a.Kind.String() + " vs " + b.Kind.String()}, nil
	}
	if a.Kind == wire.KindEOF {
		if a.EOF != b.EOF {
			what = append(what, "EOF kind: "+a.EOF.String()+" vs "+b.EOF.String())
		}
		if a.Count != b.Count {
			what = append(what, fmt.Sprintf("EOF count: %d vs %d", a.Count, b.Count))
		}
		return what, nil
	}
	if a.Seq != b.Seq {
		what = append(what, fmt.Sprintf("seq: %d vs %d", a.Seq, b.Seq))
	}
	if a.Parent != b.Parent {
		what = append(what, "parent: "+refText(a.Parent)+" vs "+refText(b.Parent))
	}
	if a.Kind == wire.KindError && (a.Err == nil) != (b.Err == nil) ||
		a.Err != nil && b.Err != nil && (a.Err.Kind != b.Err.Kind || a.Err.Msg != b.Err.Msg) {
		what = append(what, "error")
	}
	pa, pb := cmpPayload(a), cmpPayload(b)
	if !bytes.Equal(pa, pb) {
		if fields = payloadFields(pa, pb); fields == nil || len(fields) > 0 {
			what = append(what, "payload")
		}
	}
	return what, fields
}

// payloadFields decodes two payloads and names the top-level keys that
// differ. It returns nil when they are not both objects (then only "the
// payload differs" can be said), and an empty slice when they are equal as
// JSON values (the bytes differed only in spacing or key order).
func payloadFields(a, b []byte) []string {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return nil
	}
	oa, okA := va.(map[string]any)
	ob, okB := vb.(map[string]any)
	if !okA || !okB {
		if reflect.DeepEqual(va, vb) {
			return []string{}
		}
		return nil
	}
	fields := []string{}
	for k, x := range oa {
		y, ok := ob[k]
		switch {
		case !ok:
			fields = append(fields, k+": only in A")
		case !reflect.DeepEqual(x, y):
			fields = append(fields, fmt.Sprintf("%s: %s vs %s", k, short(x), short(y)))
		}
	}
	for k := range ob {
		if _, ok := oa[k]; !ok {
			fields = append(fields, k+": only in B")
		}
	}
	slices.Sort(fields)
	return fields
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// Report writes the comparison for people.
func (d *Diff) Report(w io.Writer, nameA, nameB string) {
	if d.Same() {
		fmt.Fprintf(w, "same: %d events, EOF %s\n", d.Events[0], orNone(d.EOF[0]))
		return
	}
	f := d.First
	fmt.Fprintf(w, "differ: first at position %d (seq %d): %s\n", f.Index, f.Seq, strings.Join(f.What, "; "))
	const showFields = 6
	for i, fl := range f.Fields {
		if i == showFields {
			fmt.Fprintf(w, "  ... and %d more fields\n", len(f.Fields)-showFields)
			break
		}
		fmt.Fprintf(w, "  field %s\n", fl)
	}
	fmt.Fprintf(w, "  A %s: %s\n", nameA, clip(f.A))
	fmt.Fprintf(w, "  B %s: %s\n", nameB, clip(f.B))
	fmt.Fprintf(w, "  %d positions differ; A: %d events, EOF %s; B: %d events, EOF %s\n",
		d.Differing, d.Events[0], orNone(d.EOF[0]), d.Events[1], orNone(d.EOF[1]))
	if d.LengthNote != "" {
		fmt.Fprintf(w, "  %s\n", d.LengthNote)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:297] + "..."
	}
	return s
}

// Unordered is the comparison of two journals' events as multisets.
type Unordered struct {
	Events       [2]int64
	OnlyA, OnlyB int64 // events of one that the other lacks
	EOF          [2]string
}

// Same reports whether both hold the same events (in any order) and EOF.
func (u *Unordered) Same() bool { return u.OnlyA == 0 && u.OnlyB == 0 && u.EOF[0] == u.EOF[1] }

// CompareUnordered compares the data and error events of a and b as
// multisets, ignoring their order, seqs and parents: for a stage after a
// fan-in, whose input order is not recorded. It keeps a hash of each event.
func CompareUnordered(a, b *Reader) (*Unordered, error) {
	u := &Unordered{}
	counts := map[uint64]int64{}
	var f wire.Frame
	for i, r := range []*Reader{a, b} {
		delta := int64(1 - 2*i)
		for {
			err := r.Next(&f)
			if err != nil {
				var je *Error
				if err == io.EOF || errors.As(err, &je) && !errors.Is(err, ErrUnresolved) {
					break
				}
				return nil, err
			}
			switch f.Kind {
			case wire.KindEOF:
				u.EOF[i] = fmt.Sprintf("%s, count %d", f.EOF, f.Count)
			case wire.KindData, wire.KindError:
				u.Events[i]++
				h := fnv.New64a()
				h.Write([]byte{byte(f.Kind)})
				if f.Err != nil {
					h.Write([]byte(f.Err.Kind + "\x00" + f.Err.Msg + "\x00"))
				}
				h.Write(cmpPayload(&f))
				counts[h.Sum64()] += delta
			}
		}
	}
	for _, n := range counts {
		if n > 0 {
			u.OnlyA += n
		} else {
			u.OnlyB -= n
		}
	}
	return u, nil
}
