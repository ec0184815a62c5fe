// Package expr is obz's expression engine: what filter and map evaluate,
// and how agg, dedupe, join and top read fields.
//
// It owns three things:
//
//   - gojq compilation (jq.go, eval.go): Compile turns a jq expression
//     into a Program; a bad expression is a *CompileError. Program.Test
//     answers filter's question (is an output true?) and Program.Outputs
//     map's (each output, encoded as gojq.Marshal does), by the fast path
//     where it can and by gojq where it cannot. An event on which the
//     expression fails is an *EvalError.
//   - the fast path (fast*.go): the common subset of jq, compiled from
//     gojq's AST into closures that answer straight from the payload's raw
//     bytes, with no allocation. What the fast path is not sure of (an
//     expression outside the subset, decided at compile time; a runtime
//     error, a big integer, a comparison of arrays or objects on one event)
//     it hands to gojq, before emitting anything, so the outcome is always
//     gojq's. docs/expressions.md lists the subset.
//   - field extraction (fields.go): an Extractor reads the raw bytes of a
//     few fields, dotted paths included, in one scan of a payload;
//     AppendCanonical, AppendNumber, NumberValue, MemberSpan and
//     ScanMembers work on raw JSON values without decoding them.
//
// The tests check the fast path against gojq and the extractor against
// encoding/json, on tables, sweeps and fuzzers.
//
// expr imports the standard library, wire and third-party libraries only:
// no stage, runner, flow or cmd code. Its errors are its own; a stage turns
// them into usage and event errors at its boundary.
package expr
