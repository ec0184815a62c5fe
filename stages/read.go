package stages

// PLACEHOLDER: replaced by the real read stage.
var readSpec = Spec{Name: "read", Family: FamilySource, Summary: "read files", New: func(Options) (Stage, error) { return nil, Usagef("not yet") }}
