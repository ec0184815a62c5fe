package wire

import "testing"

func TestShowName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"read", "'read'"},
		{"Lucía", "'Lucía'"},
		{"a\x1b[31mb", `"a\x1b[31mb"`},
		{"x\ny", `"x\ny"`},
		{"bidi\u202etxt", `"bidi\u202etxt"`},
		{"it's", `"it's"`},
		{`back\slash`, `"back\\slash"`},
		{"", `""`},
		{"bad\xffutf8", `"bad\xffutf8"`},
	} {
		if got := ShowName(tt.in); got != tt.want {
			t.Errorf("ShowName(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`plain "text" with \ and é`, `plain "text" with \ and é`},
		{"col\x1b[31mour", `col\x1b[31mour`},
		{"two\nlines\r", `two\nlines\r`},
		{"tab\there", `tab\there`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"rtl\u202e", `rtl\u202e`},
	} {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
