package format

import (
	"strings"
	"testing"
)

func TestInferValues(t *testing.T) {
	for in, want := range map[string]string{
		"": `null`, "true": `true`, "false": `false`, "0": `0`, "-0": `-0`, "42": `42`, "-17": `-17`,
		"3.5": `3.5`, "-0.25": `-0.25`, "1e3": `1e3`, "2.5E-3": `2.5E-3`,
		"9007199254740992": `9007199254740992`, "9007199254740993": `"9007199254740993"`,
		"-9007199254740993": `"-9007199254740993"`, "12345678901234567890": `"12345678901234567890"`,
		"007": `"007"`, "+5": `"+5"`, "1.": `"1."`, ".5": `".5"`, " 42": `" 42"`, "42 ": `"42 "`,
		"NaN": `"NaN"`, "Inf": `"Inf"`, "TRUE": `"TRUE"`, "null": `"null"`, "1e": `"1e"`, "0x10": `"0x10"`,
		"1_000": `"1_000"`, "-": `"-"`, "a\"b": `"a\"b"`,
	} {
		if got := string(appendInferred(nil, in)); got != want {
			t.Errorf("infer %q = %s, want %s", in, got, want)
		}
	}
}

func TestHeaderNames(t *testing.T) {
	got := headerNames([]string{"id", "", "id", "name", "id", "c2", ""})
	want := []string{"id", "c2", "id_2", "name", "id_3", "c2_2", "c7"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("headerNames = %q, want %q", got, want)
	}
}
