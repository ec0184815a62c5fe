package stages

// PLACEHOLDER: replaced by the real write stage.
var writeSpec = Spec{Name: "write", Family: FamilySink, Summary: "write files", New: func(Options) (Stage, error) { return nil, Usagef("not yet") }}
