package main

import (
	"slices"
	"testing"
)

// Run natively with `go test ./...` (no wasm needed): the matcher and the config checks.

func TestMatchGlob(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"migrations/**", "migrations/2026/001.sql", true},
		{"migrations/**", "migrations/", true},
		{"migrations/**", "migrations", false},
		{"*.lock", "Cargo.lock", true},
		{"*.lock", "web/yarn.lock", false},
		{"**.lock", "web/yarn.lock", true},
		{"**/x", "x", false}, // `**` is just "any run", so `/` must still be there
		{"**/x", "a/b/x", true},
		{"config/?.toml", "config/a.toml", true},
		{"config/?.toml", "config/ab.toml", false},
		{"config/?.toml", "config//.toml", false},
		{"?", "é", true}, // one character, not one byte
		{"??", "é", false},
		{"docs/[draft].md", "docs/[draft].md", true},
		{"docs/[draft].md", "docs/d.md", false},
		{"a+b/*.c", "a+b/x.c", true},
		{`a\*`, `a\bc`, true}, // `\` is a literal, so `*` is still a wildcard
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c*d", "a/b/c/d", false},
		{"a**b**c", "a/x/b/y/c", true},
		{"***", "a/b", true},
	}
	for _, c := range cases {
		if got := matchGlob(c.pattern, c.path); got != c.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

func TestValidateConfigSortsUnknownKeys(t *testing.T) {
	config := map[string]any{"patterns": []any{}, "z": 1, "é": 2, "a": 3, "B": nil}
	want := []string{
		"unknown key `B`: the keys are `patterns` and `severity`",
		"unknown key `a`: the keys are `patterns` and `severity`",
		"unknown key `z`: the keys are `patterns` and `severity`",
		"unknown key `é`: the keys are `patterns` and `severity`",
	}
	// Map order is random: try several times.
	for i := 0; i < 20; i++ {
		if got := validateConfig(config); !slices.Equal(got, want) {
			t.Fatalf("validateConfig = %q, want %q", got, want)
		}
	}
}

func TestValidateConfigNullPatterns(t *testing.T) {
	got := validateConfig(map[string]any{"patterns": nil, "severity": nil})
	want := []string{
		"`patterns` must be a list of strings",
		"`severity` must be \"info\", \"warning\" or \"error\"",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("validateConfig = %q, want %q", got, want)
	}
}
