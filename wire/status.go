package wire

// Status is one line of a stage's status channel: the JSON object a stage
// writes every half second, and once more when it ends, to the file
// descriptor given by --status-fd. obz flow reads it for its live view, its
// summary, the manifest and the metrics (docs/wire.md, "Status channel").
type Status struct {
	Stage    string `json:"stage"`
	State    string `json:"state"` // running, done, failed
	In       uint64 `json:"in"`
	Out      uint64 `json:"out"`
	Errors   uint64 `json:"errors"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// Duplicates counts the frames an input delivered again and the stage
	// dropped (an at-least-once edge after a reconnect).
	Duplicates uint64  `json:"duplicates,omitempty"`
	Elapsed    float64 `json:"elapsed_s"`
	WaitIn     float64 `json:"wait_in_s"`  // time blocked waiting for input
	WaitOut    float64 `json:"wait_out_s"` // time blocked writing output (backpressure)
	Error      string  `json:"error,omitempty"`
	// ErrorKinds counts the error events by kind (parse, expr, ...).
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	// Broken is set on the last line when an input edge broke (no EOF, a
	// gap, a wrong count, a failed upstream): the edge contract failed.
	Broken bool `json:"broken,omitempty"`
}

// Busy is the share of the stage's time spent working rather than waiting
// for input or for its consumers: the busiest stage is the bottleneck.
func (st Status) Busy() float64 {
	if st.Elapsed <= 0 {
		return 0
	}
	return max(0, 1-(st.WaitIn+st.WaitOut)/st.Elapsed)
}
