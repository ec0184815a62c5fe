package wire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ShowName returns a writer or stage name read from input as a message
// prints it: 'name' when every character is printable, otherwise the name
// quoted and escaped as Go does (strconv.Quote: "a\x1b[31mb"). Names come
// from frames, journals and command lines: printed raw, a control
// character could move the cursor, recolour or rewrite the user's
// terminal, or fake a line of output.
func ShowName(name string) string {
	if printableName(name) {
		return "'" + name + "'"
	}
	return strconv.Quote(name)
}

func printableName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == '\'' || r == '"' || r == '\\' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Printable returns text read from input (an error message, a raw line)
// with every character that is not printable escaped as strconv.Quote
// escapes it (\x1b, \n, \u202e; an invalid byte as \xff), and nothing
// else changed: for messages on a terminal.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
