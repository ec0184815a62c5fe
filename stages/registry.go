package stages

import "github.com/obz-dev/obz/runner"

// Registry is a table of stages by name. It is a value: tests build their
// own subsets.
type Registry []*runner.Spec

// All returns every stage obz has, in the order `obz help` lists them.
func All() Registry {
	return Registry{
		&genSpec,
		&readSpec,
		&filterSpec,
		&mapSpec,
		&aggSpec,
		&joinSpec,
		&topSpec,
		&dedupeSpec,
		&headSpec,
		&execSpec,
		&teeSpec,
		&tapSpec,
		&statsSpec,
		&writeSpec,
	}
}

// Lookup returns the stage named name, or nil.
func (r Registry) Lookup(name string) *runner.Spec {
	for _, s := range r {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Names returns the stage names in order.
func (r Registry) Names() []string {
	names := make([]string, len(r))
	for i, s := range r {
		names[i] = s.Name
	}
	return names
}
