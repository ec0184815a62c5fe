package expr

import "testing"

// BenchmarkDecode: gojq's input from a typical event, decoded whole or
// only the fields the expression reads.
func BenchmarkDecode(b *testing.B) {
	payload := []byte(`{"id":1,"ts":"2026-01-01T00:00:03Z","user":"u7292","country":"AT","device":"android","amount":95.11,"tags":["us","mobile"],"msg":"Zürich low order user is to high served order for low timeout for"}`)
	for _, c := range []struct{ name, expr string }{
		{"three", `{id, u: (.user | ascii_downcase), c: (.msg | indices("o") | length)}`},
		{"one", `.ts | fromdate`},
	} {
		p, err := Compile(c.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/fields", func(b *testing.B) {
			for b.Loop() {
				if _, ok := p.decodeFields(payload, true, nil); !ok {
					b.Fatal("not decoded")
				}
			}
		})
		b.Run(c.name+"/whole", func(b *testing.B) {
			for b.Loop() {
				var in any
				if err := payloadJSON.Unmarshal(payload, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
