// protected-paths: an agenthost policy as a WASI command, written in Go.
//
// agenthost runs the module once per call with argv = [name, hook], the JSON request on
// stdin, and reads one JSON answer from stdout (exit status 0): the WASI-command ABI of
// the agenthost SDK. The request and answer types are in its JSON schema
// (agenthost-policy.schema.json); only the fields used here are declared.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// The rule every finding carries.
const rule = "protected-paths/changed"

// Config is the policy's table from agenthost.toml, as review sees it (validate-config
// has already accepted it when review runs).
type Config struct {
	Patterns []string `json:"patterns"`
	Severity string   `json:"severity"`
}

// ChangedFile is one entry of run.changed_files; the other fields are not needed.
type ChangedFile struct {
	Path    string  `json:"path"`
	OldPath *string `json:"old_path"`
	Kind    string  `json:"kind"`
}

// ReviewRequest is the part of the review request this policy reads; unknown fields
// (spec, the rest of run) are ignored.
type ReviewRequest struct {
	Config Config `json:"config"`
	Run    struct {
		ChangedFiles []ChangedFile `json:"changed_files"`
	} `json:"run"`
}

// Finding is one finding of the answer. This policy never reports a line.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Path     string `json:"path"`
}

func main() {
	if len(os.Args) < 2 {
		fail(2, "usage: protected-paths.wasm HOOK < REQUEST.json")
	}
	switch hook := os.Args[1]; hook {
	case "describe":
		answer(map[string]any{"abi": "0.2.0", "hooks": []string{"review", "validate-config"}})
	case "review":
		var request ReviewRequest
		decode(&request)
		answer(map[string]any{"findings": review(request)})
	case "validate-config":
		var request struct {
			Config map[string]any `json:"config"`
		}
		decode(&request)
		answer(map[string]any{"errors": validateConfig(request.Config)})
	default:
		fail(2, "unknown hook %q: this policy answers describe, review and validate-config", hook)
	}
}

// review flags each changed file whose path (or, for a rename, old path) matches a
// protected pattern: one finding per file, the first matching candidate and pattern.
func review(request ReviewRequest) []Finding {
	severity := request.Config.Severity
	if severity == "" {
		severity = "warning"
	}
	findings := []Finding{} // encodes as [] rather than null
	for _, file := range request.Run.ChangedFiles {
		candidates := []string{file.Path}
		if file.Kind == "renamed" && file.OldPath != nil {
			candidates = append(candidates, *file.OldPath)
		}
		if candidate, pattern, ok := firstMatch(candidates, request.Config.Patterns); ok {
			findings = append(findings, Finding{
				Rule:     rule,
				Severity: severity,
				Message:  fmt.Sprintf("`%s` matches the protected pattern `%s`", candidate, pattern),
				Path:     candidate,
			})
		}
	}
	return findings
}

// firstMatch returns the first candidate that matches any pattern, with that pattern.
func firstMatch(candidates, patterns []string) (candidate, pattern string, ok bool) {
	for _, candidate := range candidates {
		for _, pattern := range patterns {
			if matchGlob(pattern, candidate) {
				return candidate, pattern, true
			}
		}
	}
	return "", "", false
}

// validateConfig returns the config's problems in the documented order: patterns,
// severity, then one per unknown key in byte order.
func validateConfig(config map[string]any) []string {
	errors := []string{}
	if patterns, present := config["patterns"]; !present {
		errors = append(errors, "`patterns` is required: a list of globs such as [\"migrations/**\"]")
	} else if !isListOfStrings(patterns) {
		errors = append(errors, "`patterns` must be a list of strings")
	}
	if severity, present := config["severity"]; present {
		switch severity {
		case "info", "warning", "error":
		default:
			errors = append(errors, "`severity` must be \"info\", \"warning\" or \"error\"")
		}
	}
	// Go randomizes map order: collect the unknown keys and sort them (byte order).
	var unknown []string
	for key := range config {
		if key != "patterns" && key != "severity" {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	for _, key := range unknown {
		errors = append(errors, fmt.Sprintf("unknown key `%s`: the keys are `patterns` and `severity`", key))
	}
	return errors
}

func isListOfStrings(value any) bool {
	list, ok := value.([]any)
	if !ok {
		return false
	}
	for _, item := range list {
		if _, ok := item.(string); !ok {
			return false
		}
	}
	return true
}

// decode reads the whole request from stdin into v.
func decode(v any) {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(1, "reading the request: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		fail(1, "parsing the request: %v", err)
	}
}

// answer writes v to stdout as JSON, without escaping <, > and & (plain JSON, not HTML).
func answer(v any) {
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(v); err != nil {
		fail(1, "writing the answer: %v", err)
	}
}

// fail logs the message to stderr (agenthost's log for this policy) and exits.
func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "protected-paths: "+format+"\n", args...)
	os.Exit(code)
}
