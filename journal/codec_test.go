package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestCodecs: each codec writes its own blocks and format version, and the
// stats count the S2 blocks.
func TestCodecs(t *testing.T) {
	data := frames("map", 3000)
	for _, tc := range []struct {
		codec   Codec
		version byte
		s2      bool
	}{{CodecZstd, 4, false}, {CodecS2, 5, true}, {0, 5, true}} {
		file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: tc.codec})
		if file[12] != tc.version {
			t.Errorf("%v: format version %d, want %d", tc.codec, file[12], tc.version)
		}
		r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
		s, err := Stat(r)
		r.Close()
		if err != nil || !s.OK() || s.Blocks < 6 {
			t.Fatalf("%v: %+v %v", tc.codec, s, err)
		}
		if want := map[bool]int{true: s.Blocks}[tc.s2]; s.S2 != want {
			t.Errorf("%v: %d of %d blocks S2, want %d", tc.codec, s.S2, s.Blocks, want)
		}
	}
}

// TestZstdDecodes: a journal of the zstd codec is still a zstd stream
// (its metadata and index are skippable frames): zstd -d gives its lines.
func TestZstdDecodes(t *testing.T) {
	data := frames("map", 3000)
	file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: CodecZstd})
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	got, err := dec.DecodeAll(file, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("zstd decodes %d bytes of %d: %v", len(got), len(data), err)
	}
}

func TestParseCodec(t *testing.T) {
	for _, name := range []string{"zstd", "s2"} {
		c, err := ParseCodec(name)
		if err != nil || c.String() != name {
			t.Errorf("ParseCodec(%q) = %v, %v", name, c, err)
		}
	}
	if _, err := ParseCodec("lz4"); err == nil {
		t.Error("ParseCodec accepted lz4")
	}
	if _, err := NewWriter(&bytes.Buffer{}, &WriterOptions{Codec: 9}); err == nil {
		t.Error("NewWriter accepted an unknown codec")
	}
}

// s2Blocks returns a journal of the S2 codec and its blocks.
func s2Blocks(t *testing.T, data []byte) ([]byte, []Block) {
	file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: CodecS2})
	r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	defer r.Close()
	return file, r.Blocks()
}

// TestS2Damaged: a damaged S2 block is corruption at its offset, after the
// blocks before it, whether the index or a scan found it.
func TestS2Damaged(t *testing.T) {
	data := frames("map", 3000)
	file, blocks := s2Blocks(t, data)
	b := blocks[2]
	frame := b.Offset + metaSize // the S2 block's skippable frame
	damage := map[string]func(p []byte){
		"a flipped byte in the data":  func(p []byte) { p[frame+8+(b.Size-metaSize-8)/2] ^= 0x55 },
		"a flipped byte at its start": func(p []byte) { p[frame+8] ^= 0x01 },
		"a zstd magic": func(p []byte) {
			binary.LittleEndian.PutUint32(p[frame:], zstdMagic)
		},
		"its length one short": func(p []byte) {
			binary.LittleEndian.PutUint32(p[frame+4:], binary.LittleEndian.Uint32(p[frame+4:])-1)
		},
		"the flag cleared (header CRC)": func(p []byte) { p[b.Offset+8+44] &^= FlagS2 },
	}
	for name, f := range damage {
		bad := bytes.Clone(file)
		f(bad)
		for _, scan := range []bool{false, true} {
			got, err := readAll(t, bad, &ReaderOptions{Scan: scan})
			if name == "the flag cleared (header CRC)" && !scan {
				// The index holds the block's header too: read by it, the
				// block is whole; verify scans and finds the damage.
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s, by the index: %v", name, err)
				}
				continue
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s, scan %v: %v, want corruption", name, scan, err)
				continue
			}
			if !bytes.HasPrefix(data, got) {
				t.Errorf("%s, scan %v: read something that is not a prefix", name, scan)
			}
			var je *Error
			if errors.As(err, &je); je.Offset < blocks[1].Offset+blocks[1].Size || je.Offset > frame {
				t.Errorf("%s, scan %v: corruption at %d, want block 2's (%d..%d)", name, scan, je.Offset, b.Offset, frame)
			}
			if lines := bytes.Count(got, []byte{'\n'}); lines < 1000 {
				t.Errorf("%s, scan %v: %d lines before the damaged block, want its 2 blocks before", name, scan, lines)
			}
		}
	}
	// Cut inside the S2 frame: a torn tail, the blocks before are read.
	got, err := readAll(t, file[:frame+20], nil)
	if !errors.Is(err, ErrTorn) || !bytes.HasPrefix(data, got) || bytes.Count(got, []byte{'\n'}) < 1000 {
		t.Fatalf("cut inside an S2 block: %d bytes, %v; want the 2 blocks before and a torn tail", len(got), err)
	}
}

// TestS2Recover: recover keeps a journal's S2 blocks and its format version.
func TestS2Recover(t *testing.T) {
	dir := t.TempDir()
	data := frames("map", 3000)
	file, blocks := s2Blocks(t, data)
	cut := filepath.Join(dir, "cut.zst")
	os.WriteFile(cut, file[:blocks[3].Offset+blocks[3].Size/2], 0o644)
	fixed := filepath.Join(dir, "fixed.zst")
	if _, err := Recover(cut, fixed, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Verify(fixed, nil)
	if err != nil || s.Err != nil || s.Blocks != 3 || s.S2 != 3 {
		t.Fatalf("recovered: %+v %v", s, err)
	}
	p, _ := os.ReadFile(fixed)
	if p[12] != FormatVersion {
		t.Fatalf("recovered journal has format version %d, want %d", p[12], FormatVersion)
	}
}

// TestFormatVersions: journals of older versions read; a newer one is
// refused, naming its version.
func TestFormatVersions(t *testing.T) {
	data := frames("map", 1000)
	for _, codec := range codecs {
		file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: codec})
		for v := byte(1); v <= FormatVersion+1; v++ {
			if codec == CodecS2 && v < 5 {
				continue // S2 blocks came with version 5
			}
			f := bytes.Clone(file)
			f[12] = v
			got, err := readAll(t, f, &ReaderOptions{Scan: true})
			if v > FormatVersion {
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("%v version %d: %v, want it refused", codec, v, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%v version %d: %v", codec, v, err)
			}
		}
	}
}
