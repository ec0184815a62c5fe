package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// variables turns named arguments into gojq's variable names and values,
// $ARGS last: {"named": {...}, "positional": []}.
func variables(named map[string]any) ([]string, []any) {
	keys := make([]string, 0, len(named))
	for k := range named {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	names := make([]string, 0, len(keys)+1)
	vals := make([]any, 0, len(keys)+1)
	obj := make(map[string]any, len(keys))
	for _, k := range keys {
		names = append(names, "$"+k)
		vals = append(vals, named[k])
		obj[k] = named[k]
	}
	names = append(names, "$ARGS")
	vals = append(vals, map[string]any{"named": obj, "positional": []any{}})
	return names, vals
}

// CheckName reports whether name can be a variable ($name): a letter or
// "_", then letters, digits and "_", as jq's identifiers (without "::").
func CheckName(name string) error {
	for i, r := range name {
		if r == '_' || r < unicode.MaxASCII && unicode.IsLetter(r) || i > 0 && r < unicode.MaxASCII && unicode.IsDigit(r) {
			continue
		}
		return fmt.Errorf("%q is not a variable name (letters, digits and _, not starting with a digit)", name)
	}
	if name == "" {
		return errors.New("empty variable name")
	}
	if name == "ENV" || name == "ARGS" || name == "__loc__" {
		return fmt.Errorf("$%s is jq's own variable", name)
	}
	return nil
}

// Value decodes one JSON value (--argjson), numbers kept as the payloads'
// numbers are.
func Value(text string) (any, error) {
	vs, err := Values(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf("want exactly one JSON value, got %d", len(vs))
	}
	return vs[0], nil
}

// Values decodes a stream of JSON values separated by whitespace
// (--slurpfile), as jq slurps a file into an array.
func Values(r io.Reader) ([]any, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	vals := []any{}
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return vals, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not valid JSON (after %d values): %v", len(vals), err)
		}
		vals = append(vals, v)
	}
}
