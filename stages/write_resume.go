package stages

import (
	"strconv"
	"strings"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// parseDelivered reads --skip-delivered WRITER:SEQ (repeated), which obz
// flow --resume sets from the receipts in the sink's journal: the events
// of WRITER up to SEQ were delivered by the run that is resumed.
func parseDelivered(vals []string) (map[string]uint64, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]uint64{}
	for _, v := range vals {
		i := strings.LastIndexByte(v, ':')
		n, err := strconv.ParseUint(v[i+1:], 10, 64)
		if i <= 0 || err != nil {
			return nil, runner.Usagef("--skip-delivered takes WRITER:SEQ, not %q", v)
		}
		m[v[:i]] = max(m[v[:i]], n)
	}
	return m, nil
}

// skipDelivered reports whether ev was delivered by the run that is
// resumed, so that stdout and an --append FILE do not get it twice. Its
// receipt is sent again (at once: it was delivered), so that this run's
// journal tells the whole story and can itself be resumed. A FILE that is
// replaced gets every event: the killed run did not rename its file, or
// renamed one with the same content.
func (s *writeStage) skipDelivered(ev *wire.Frame, em *runner.Emitter) (bool, error) {
	if s.delivered == nil || !s.append && s.path != "" || ev.Seq > s.delivered[ev.Writer] {
		return false, nil
	}
	of := wire.Ref{Writer: ev.Writer, Seq: ev.Seq}
	s.rout.add(em.Name(), of, "ok")
	return true, em.Receipt(of, "ok")
}
