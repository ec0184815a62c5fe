package runner

// ANSI colours for pretty output on a terminal (jq's defaults).
const (
	colorReset  = "\x1b[0m"
	colorKey    = "\x1b[34;1m"
	colorString = "\x1b[32m"
	colorNumber = "\x1b[0m"
	colorLit    = "\x1b[1;30m"
	colorPunct  = "\x1b[1m"
)

// appendPretty appends payload (valid JSON) indented by two spaces, in
// colour if color is set.
func appendPretty(dst, payload []byte, color bool) []byte {
	paint := func(c string) {
		if color {
			dst = append(dst, c...)
		}
	}
	depth := 0
	indent := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(payload); {
		c := payload[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			i++
		case '{', '[':
			// Keep empty containers on one line.
			j := i + 1
			for j < len(payload) && (payload[j] == ' ' || payload[j] == '\t' || payload[j] == '\r' || payload[j] == '\n') {
				j++
			}
			if j < len(payload) && (payload[j] == '}' || payload[j] == ']') {
				paint(colorPunct)
				dst = append(dst, c, payload[j])
				paint(colorReset)
				i = j + 1
				continue
			}
			paint(colorPunct)
			dst = append(dst, c)
			paint(colorReset)
			depth++
			indent()
			i++
		case '}', ']':
			depth--
			indent()
			paint(colorPunct)
			dst = append(dst, c)
			paint(colorReset)
			i++
		case ',':
			paint(colorPunct)
			dst = append(dst, ',')
			paint(colorReset)
			indent()
			i++
		case ':':
			paint(colorPunct)
			dst = append(dst, ':')
			paint(colorReset)
			dst = append(dst, ' ')
			i++
		case '"':
			j := i + 1
			for j < len(payload) && payload[j] != '"' {
				if payload[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(payload))
			k := j
			for k < len(payload) && (payload[k] == ' ' || payload[k] == '\t') {
				k++
			}
			if k < len(payload) && payload[k] == ':' {
				paint(colorKey)
			} else {
				paint(colorString)
			}
			dst = append(dst, payload[i:j]...)
			paint(colorReset)
			i = j
		default:
			j := i
			for j < len(payload) && !isDelim(payload[j]) {
				j++
			}
			if c == 't' || c == 'f' || c == 'n' {
				paint(colorLit)
			} else {
				paint(colorNumber)
			}
			dst = append(dst, payload[i:j]...)
			paint(colorReset)
			i = max(j, i+1)
		}
	}
	return dst
}

func isDelim(c byte) bool {
	switch c {
	case ',', ':', '{', '}', '[', ']', ' ', '\t', '\r', '\n', '"':
		return true
	}
	return false
}
