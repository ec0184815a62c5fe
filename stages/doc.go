// Package stages holds obz's stages, one per file (a folder where a stage
// needs more), and the registry that lists them (registry.go).
//
// A stage is a runner.Spec (name, family, flags, help) and the Source or
// Processor its constructor builds; package runner runs it. Adding a stage
// is one file here and one line in All.
package stages
