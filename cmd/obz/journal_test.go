package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/obz-dev/obz/stages"
)

func TestPermuteSubArgs(t *testing.T) {
	var name string
	var err error
	app := newApp(stages.All(), nil, &bytes.Buffer{}, &bytes.Buffer{}, &name, &err)
	tests := []struct{ in, want string }{
		{"obz journal cat j.zst -r", "obz journal cat -r -- j.zst"},
		{"obz journal cat j.zst --from-seq 5 -r", "obz journal cat --from-seq 5 -r -- j.zst"},
		{"obz journal recover a.zst -o b.zst", "obz journal recover -o b.zst -- a.zst"},
		{"obz replay j.zst --speed 1x", "obz replay --speed 1x -- j.zst"},
		{"obz replay runs/x --verify --topology new.toml", "obz replay --verify --topology new.toml -- runs/x"},
		{"obz diff a.zst b.zst", "obz diff -- a.zst b.zst"},
		{"obz journal nosuch x -r", "obz journal nosuch x -r"},
		{"obz journal", "obz journal"},
		{"obz filter .a -r", "obz filter .a -r"}, // stages: permuteArgs's job
	}
	for _, tt := range tests {
		got := strings.Join(permuteSubArgs(strings.Fields(tt.in), app), " ")
		if got != tt.want {
			t.Errorf("permuteSubArgs(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
