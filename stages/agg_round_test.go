package stages

import (
	"fmt"
	"testing"
)

func TestAggSumRounding(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int
	}{{"12", 0}, {"12.5", 1}, {"12.50", 2}, {"-0.001", 3}, {"1e3", -1}, {"1.5E-2", -1}} {
		if got := decimalPlaces([]byte(tc.raw)); got != tc.want {
			t.Errorf("decimalPlaces(%s) = %d, want %d", tc.raw, got, tc.want)
		}
	}
	if got := exactSum(0.1+0.2, 1); got != 0.3 {
		t.Errorf("exactSum(0.1+0.2, 1) = %v, want 0.3", got)
	}
	if got := exactSum(0.1+0.2, -1); got != 0.1+0.2 {
		t.Errorf("with an exponent among the inputs the sum is left alone, got %v", got)
	}
	if got := exactSum(1e300, 2); got != 1e300 {
		t.Errorf("a sum too large to resolve the places is left alone, got %v", got)
	}
	if got := significant(114.36000000000001, 15); got != 114.36 {
		t.Errorf("significant = %v, want 114.36", got)
	}

	// End to end: decimal sums come out as written, not with float noise.
	var acc accState
	spec := &accSpec{kind: accSum, key: []byte(`"sum_x":`)}
	for _, v := range []string{"0.1", "0.2", "164.11", "103.52"} {
		f, _ := parseNumberForTest(v)
		acc.add(spec, []byte(v), f, nil, 0)
	}
	if got := string(acc.appendResult(nil, spec)); got != `"sum_x":267.93` {
		t.Errorf("sum = %s, want 267.93", got)
	}
	// One number with an exponent turns rounding off for good.
	acc.add(spec, []byte("1e-3"), 1e-3, nil, 0)
	acc.add(spec, []byte("0.5"), 0.5, nil, 0)
	if acc.places != -1 {
		t.Errorf("places = %d after an exponent, want -1", acc.places)
	}
}

func parseNumberForTest(s string) (float64, error) {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return f, err
}
