package format

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestInferValues(t *testing.T) {
	// Scalars: the Numbers rule, and true/false/empty.
	for in, want := range map[string]string{
		"": `null`, "true": `true`, "false": `false`, "0": `0`, "-0": `-0`, "42": `42`, "-17": `-17`,
		"3.5": `3.5`, "-0.25": `-0.25`, "1e3": `1e3`, "2.5E-3": `2.5E-3`, "1.50": `1.50`,
		"9007199254740992": `9007199254740992`, "9007199254740993": `"9007199254740993"`,
		"-9007199254740993": `"-9007199254740993"`, "12345678901234567890": `"12345678901234567890"`,
		"007": `"007"`, "+5": `"+5"`, "1.": `"1."`, ".5": `".5"`, " 42": `" 42"`, "42 ": `"42 "`,
		"NaN": `"NaN"`, "Inf": `"Inf"`, "TRUE": `"TRUE"`, "null": `"null"`, "1e": `"1e"`, "0x10": `"0x10"`,
		"1_000": `"1_000"`, "-": `"-"`, "a\"b": `"a\"b"`,
	} {
		if got := string(appendValue(nil, in, Scalars)); got != want {
			t.Errorf("Scalars %q = %s, want %s", in, got, want)
		}
	}
	// Numbers (the default) leaves true, false and empty strings; Strings leaves everything.
	for _, in := range []string{"", "true", "false", "null", "42", "1.50", "007"} {
		want := `"` + in + `"`
		if SafeNumber(in) {
			if got := string(appendValue(nil, in, Numbers)); got != in {
				t.Errorf("Numbers %q = %s, want %s", in, got, in)
			}
		} else if got := string(appendValue(nil, in, Numbers)); got != want {
			t.Errorf("Numbers %q = %s, want %s", in, got, want)
		}
		if got := string(appendValue(nil, in, Strings)); got != want {
			t.Errorf("Strings %q = %s, want %s", in, got, want)
		}
	}
}

func TestSafeNumber(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "-0": true, "0.0": true, "0e999999": true, "1.50": true, "16.75": true, "1e308": true,
		"1.7976931348623157e308": true, "1e309": false, "1e-400": false, "5e-324": true, "4.9e-324": false,
		"0.1": true, "3.141592653589793": true, "3.14159265358979323846": false,
		"123456789012345.6": true, "1234567890123456.7": false, "12345678901234567.0": false,
		"9007199254740992": true, "-9007199254740992": true, "9007199254740993": false,
		// 1152921504606846976 is exact in a float64, but an integer beyond 2^53: an id
		"1152921504606846976": false, "1e20": true, "1E+2": true, "1e-2": true, "100e-2": true, "1e99999999999": false,
		"007": false, "+3": false, "1e5x": false, "0x1F": false, "1.": false, ".5": false, "": false,
		"-": false, "1e": false, "1e+": false, "--1": false, "Infinity": false, "1 ": false,
	} {
		if got := SafeNumber(in); got != want {
			t.Errorf("SafeNumber(%q) = %v, want %v", in, got, want)
		}
	}
}

// safeNumberRef is SafeNumber the slow way: the text and the float64's
// shortest decimal compared as exact rationals.
func safeNumberRef(s string) bool {
	if _, ok := jsonNumber(s); !ok {
		return false
	}
	if !strings.ContainsAny(s, ".eE") {
		n, ok := new(big.Int).SetString(s, 10)
		return ok && n.CmpAbs(big.NewInt(maxSafeInt)) <= 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	if mant, _, _ := strings.Cut(strings.ToLower(s), "e"); strings.Trim(mant, "-0.") == "" {
		return true // a zero, whatever its exponent (big.Rat refuses huge ones)
	}
	want, ok1 := new(big.Rat).SetString(s)
	got, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'e', -1, 64))
	return ok1 && ok2 && want.Cmp(got) == 0
}

// TestSafeNumberAgrees compares SafeNumber with safeNumberRef on random
// number-like texts.
func TestSafeNumberAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	for range 200000 {
		s := digits(1 + rng.IntN(20))
		if rng.IntN(2) == 0 {
			s += "." + digits(1+rng.IntN(20))
		}
		if rng.IntN(3) == 0 {
			s += "e" + []string{"", "+", "-"}[rng.IntN(3)] + strconv.Itoa(rng.IntN(330))
		}
		if rng.IntN(4) == 0 {
			s = "-" + s
		}
		if got, want := SafeNumber(s), safeNumberRef(s); got != want {
			t.Fatalf("SafeNumber(%q) = %v, the slow way says %v", s, got, want)
		}
	}
}

func FuzzSafeNumber(f *testing.F) {
	for _, s := range []string{"0", "1.50", "9007199254740993", "1e309", "4.9e-324", "0.1e-310", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := SafeNumber(s), safeNumberRef(s); got != want {
			t.Fatalf("SafeNumber(%q) = %v, the slow way says %v", s, got, want)
		}
	})
}

func TestHeaderNames(t *testing.T) {
	got := headerNames([]string{"id", "", "id", "name", "id", "c2", ""})
	want := []string{"id", "c2", "id_2", "name", "id_3", "c2_2", "c7"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("headerNames = %q, want %q", got, want)
	}
}
