//! Parser tests: the seed format verbatim, the accepted variations, and a corpus of malformed
//! specs, each pinned to its diagnostic code, line and message. At the 600-line guide: a
//! corpus, read as a list.

use miette::Diagnostic;

use super::*;

/// The Scope block from the product brief, verbatim.
const SEED: &str = "### Scope
- Modify: `src/components/Dashboard/FilterBar.tsx`
- Create: `src/components/Dashboard/DateRangePicker.tsx`
- Do NOT modify any API routes or database queries
- Do NOT change the existing filter logic, only add the date range option
";

fn spec(text: &str) -> Spec {
    let parsed = parse("task.md", text.as_bytes());
    assert!(
        parsed.problems.is_empty(),
        "unexpected problems: {:#?}",
        parsed.problems
    );
    parsed.spec.expect("a spec")
}

fn patterns(entries: &[ScopeEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.pattern.as_str()).collect()
}

#[test]
fn seed_block_verbatim() {
    let spec = spec(SEED);
    assert_eq!(
        patterns(&spec.scope.modify),
        vec!["src/components/Dashboard/FilterBar.tsx"]
    );
    assert_eq!(
        patterns(&spec.scope.create),
        vec!["src/components/Dashboard/DateRangePicker.tsx"]
    );
    assert!(spec.scope.do_not_modify.is_empty());
    let constraints: Vec<_> = spec
        .scope
        .constraints
        .iter()
        .map(|c| (c.line, c.text.as_str()))
        .collect();
    assert_eq!(
        constraints,
        vec![
            (4, "Do NOT modify any API routes or database queries"),
            (
                5,
                "Do NOT change the existing filter logic, only add the date range option"
            ),
        ]
    );
    assert_eq!(spec.scope.modify[0].line, 2);
    assert_eq!(spec.scope.modify[0].column, 11);
    assert_eq!(spec.scope.create[0].line, 3);
    assert_eq!(spec.scope.line, Some(1));
}

#[test]
fn full_spec_with_front_matter_and_sections() {
    let text = format!(
        "+++\nagent = \"claude\"\ntest = \"npm test\"\ntimeout = \"30m\"\nbase = \"main\"\nlabels = [\"ui\"]\n+++\n\n# Add a date range to the dashboard filter bar\n\n## What\nA date range picker.\n\n{SEED}\n## Verify\nRun the tests.\n"
    );
    let spec = spec(&text);
    assert_eq!(spec.title, "Add a date range to the dashboard filter bar");
    assert_eq!(spec.id, "add-a-date-range-to-the-dashboard-filter-bar");
    assert_eq!(spec.test_command(), Some("npm test"));
    assert_eq!(spec.front_matter.base.as_deref(), Some("main"));
    let headings: Vec<_> = spec
        .sections
        .iter()
        .map(|s| (s.heading.as_str(), s.line))
        .collect();
    assert_eq!(
        headings,
        vec![
            ("Add a date range to the dashboard filter bar", 9),
            ("What", 11),
            ("Scope", 14),
            ("Verify", 20),
        ]
    );
    assert_eq!(spec.sections[1].text, "A date range picker.");
    assert_eq!(spec.scope.modify[0].line, 15);
}

#[test]
fn several_paths_on_one_line() {
    let spec = spec("## Scope\n- Modify: `a.rs`, `b.rs` and `c/d.rs`\n");
    assert_eq!(patterns(&spec.scope.modify), vec!["a.rs", "b.rs", "c/d.rs"]);
    assert_eq!(spec.scope.modify[1].column, 19);
}

#[test]
fn nested_lists() {
    let spec = spec(
        "# Scope\n- Modify:\n  - `src/a.rs`\n  - `src/b.rs` (the parser)\n- Create:\n  - `src/new.rs`\n- Do NOT modify:\n  - `src/api/**`\n  - any database queries\n",
    );
    assert_eq!(patterns(&spec.scope.modify), vec!["src/a.rs", "src/b.rs"]);
    assert_eq!(patterns(&spec.scope.create), vec!["src/new.rs"]);
    assert_eq!(patterns(&spec.scope.do_not_modify), vec!["src/api/**"]);
    assert_eq!(spec.scope.constraints[0].text, "any database queries");
    assert_eq!(spec.scope.modify[1].line, 4);
}

#[test]
fn deny_glob_inline() {
    let spec = spec("### Scope\n- Modify: `src/lib.rs`\n- Do NOT modify `src/api/**`\n");
    assert_eq!(patterns(&spec.scope.do_not_modify), vec!["src/api/**"]);
    assert!(spec.scope.do_not_modify[0].is_glob);
}

#[test]
fn any_heading_level_and_keyword_case() {
    for level in 1..=6 {
        let text = format!(
            "{} SCOPE\n* MODIFY: `a.rs`\n* create `b.rs`\n* do not modify `c/`\n* DON'T MODIFY `d.rs`\n",
            "#".repeat(level)
        );
        let spec = spec(&text);
        assert_eq!(patterns(&spec.scope.modify), vec!["a.rs"]);
        assert_eq!(patterns(&spec.scope.create), vec!["b.rs"]);
        assert_eq!(patterns(&spec.scope.do_not_modify), vec!["c/**", "d.rs"]);
    }
}

#[test]
fn paragraph_lines_and_bold_keywords() {
    let spec = spec(
        "## Scope\nModify: `a.rs`\nCreate: `b.rs`\n\n- **Do NOT modify** `c.rs`\n1. Modify: `d.rs`\n",
    );
    assert_eq!(patterns(&spec.scope.modify), vec!["a.rs", "d.rs"]);
    assert_eq!(patterns(&spec.scope.create), vec!["b.rs"]);
    assert_eq!(patterns(&spec.scope.do_not_modify), vec!["c.rs"]);
}

#[test]
fn scope_subsections_and_code_blocks() {
    let spec = spec(
        "## Scope\n### Allowed\n- Modify: `a.rs`\n```\n- Modify: `ignored.rs`\n```\n## Behavior\n- Modify: `not-scope.rs` is mentioned here\n",
    );
    assert_eq!(patterns(&spec.scope.modify), vec!["a.rs"]);
}

#[test]
fn id_falls_back_to_file_name() {
    let parsed = parse("specs/Filter Bar.md", SEED.as_bytes());
    let spec = parsed.spec.unwrap();
    assert_eq!(spec.id, "filter-bar");
    assert_eq!(spec.title, "Filter Bar");
    let parsed = parse(
        "t.md",
        format!("+++\nid = \"My Task\"\n+++\n# T\n{SEED}").as_bytes(),
    );
    assert_eq!(parsed.spec.unwrap().id, "my-task");
}

#[test]
fn long_titles_are_cut_at_a_word() {
    let parsed = parse(
        "t.md",
        format!("# {}\n{SEED}", "word ".repeat(30)).as_bytes(),
    );
    let id = parsed.spec.unwrap().id;
    assert!(id.len() <= 48, "{id}");
    assert!(id.ends_with("word"));
}

/// One malformed spec: its text and the (code, line, message) of each problem expected.
struct Case {
    name: &'static str,
    text: &'static [u8],
    expect: &'static [(&'static str, usize, &'static str)],
}

const MALFORMED: &[Case] = &[
    Case {
        name: "no scope section",
        text: b"# Title\n\n## What\nDo things.\n",
        expect: &[("spec::scope::missing", 1, "the spec has no Scope section")],
    },
    Case {
        name: "empty file",
        text: b"",
        expect: &[("spec::scope::missing", 1, "the spec has no Scope section")],
    },
    Case {
        name: "scope with only constraints",
        text: b"# T\n### Scope\n- Do NOT modify any API routes\n",
        expect: &[(
            "spec::scope::empty",
            2,
            "the Scope names nothing to Modify or Create",
        )],
    },
    Case {
        name: "scope with only a deny",
        text: b"### Scope\n- Do NOT modify `src/api/**`\n",
        expect: &[(
            "spec::scope::empty",
            1,
            "the Scope names nothing to Modify or Create",
        )],
    },
    Case {
        name: "absolute path",
        text: b"### Scope\n- Modify: `/etc/passwd`\n",
        expect: &[
            (
                "spec::scope::empty",
                1,
                "the Scope names nothing to Modify or Create",
            ),
            (
                "spec::path::absolute",
                2,
                "absolute path `/etc/passwd` in Scope",
            ),
        ],
    },
    Case {
        name: "home path",
        text: b"### Scope\n- Modify: `src/a.rs`\n- Create: `~/.bashrc`\n",
        expect: &[(
            "spec::path::absolute",
            3,
            "absolute path `~/.bashrc` in Scope",
        )],
    },
    Case {
        name: "parent component",
        text: b"### Scope\n- Modify: `src/a.rs`, `src/../../other/x.rs`\n",
        expect: &[(
            "spec::path::parent",
            2,
            "path `src/../../other/x.rs` contains a `..` component",
        )],
    },
    Case {
        name: "git dir",
        text: b"### Scope\n- Modify: `src/a.rs`\n- Modify: `.git/hooks/pre-commit`\n",
        expect: &[(
            "spec::path::git_dir",
            3,
            "path `.git/hooks/pre-commit` points into `.git`",
        )],
    },
    Case {
        name: "nested git dir",
        text: b"### Scope\n- Modify: `src/a.rs`\n- Create: `vendor/lib/.git/config`\n",
        expect: &[(
            "spec::path::git_dir",
            3,
            "path `vendor/lib/.git/config` points into `.git`",
        )],
    },
    Case {
        name: "invalid glob: unclosed brace",
        text: b"### Scope\n- Modify: `src/{a,b.rs`\n",
        expect: &[
            (
                "spec::scope::empty",
                1,
                "the Scope names nothing to Modify or Create",
            ),
            (
                "spec::path::invalid_glob",
                2,
                "invalid glob `src/{a,b.rs`: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)",
            ),
        ],
    },
    Case {
        name: "invalid glob: unclosed class",
        text: b"### Scope\n- Modify: `src/a.rs`\n- Do NOT modify `src/[ab.rs`\n",
        expect: &[(
            "spec::path::invalid_glob",
            3,
            "invalid glob `src/[ab.rs`: unclosed character class; missing ']'",
        )],
    },
    Case {
        name: "allowed and denied",
        text: b"### Scope\n- Modify: `src/api/routes.ts`\n- Do NOT modify `src/api/**`\n",
        expect: &[(
            "spec::scope::allowed_and_denied",
            2,
            "`src/api/routes.ts` is both allowed (Modify) and denied (Do NOT modify `src/api/**`)",
        )],
    },
    Case {
        name: "created inside denied directory",
        text: b"### Scope\n- Modify: `a.rs`\n- Create: `src/api/new/**`\n- Do NOT modify `src/`\n",
        expect: &[(
            "spec::scope::allowed_and_denied",
            3,
            "`src/api/new/**` is both allowed (Create) and denied (Do NOT modify `src/`)",
        )],
    },
    Case {
        name: "unknown front-matter key",
        text: b"+++\nagent = \"claude\"\ntset = \"npm test\"\n+++\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::unknown_key",
            3,
            "unknown front-matter key `tset`",
        )],
    },
    Case {
        name: "invalid TOML",
        text: b"+++\nagent = claude\n+++\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::invalid",
            2,
            "invalid front matter: string values must be quoted, expected literal string",
        )],
    },
    Case {
        name: "wrong type in front matter",
        text: b"+++\nlabels = \"ui\"\n+++\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::invalid",
            2,
            "invalid front matter: invalid type: string \"ui\", expected a sequence",
        )],
    },
    Case {
        name: "unclosed front matter",
        text: b"+++\nagent = \"claude\"\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::unclosed",
            1,
            "front matter opened with `+++` is never closed",
        )],
    },
    Case {
        name: "yaml front matter",
        text: b"---\nagent: claude\n---\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::invalid",
            1,
            "invalid front matter: YAML front matter (`---`) is not supported",
        )],
    },
    Case {
        name: "bad timeout",
        text: b"+++\ntimeout = \"soon\"\n+++\n### Scope\n- Modify: `a.rs`\n",
        expect: &[(
            "spec::front_matter::timeout",
            2,
            "invalid timeout `soon`: expected number at 0",
        )],
    },
    Case {
        name: "not UTF-8",
        text: b"# Title\n### Scope\n- Modify: `caf\xe9.rs`\n",
        expect: &[(
            "spec::not_utf8",
            3,
            "the spec is not valid UTF-8 (invalid byte at offset 32)",
        )],
    },
    Case {
        name: "keyword with no path",
        text: b"### Scope\n- Modify: `a.rs`\n- Create:\n",
        expect: &[("spec::scope::no_path", 3, "`Create:` names no path")],
    },
    Case {
        name: "path not in backticks",
        text: b"### Scope\n- Modify: src/a.rs, src/b.rs\n",
        expect: &[
            (
                "spec::scope::empty",
                1,
                "the Scope names nothing to Modify or Create",
            ),
            (
                "spec::scope::not_backticked",
                2,
                "`Modify:` is followed by text, not a backticked path",
            ),
        ],
    },
    Case {
        name: "vague modify",
        text: b"### Scope\n- Modify: `a.rs`\n- Modify: the filter components\n",
        expect: &[(
            "spec::scope::not_backticked",
            3,
            "`Modify:` is followed by text, not a backticked path",
        )],
    },
    Case {
        name: "nested item without path",
        text: b"### Scope\n- Modify:\n  - `a.rs`\n  - the tests\n",
        expect: &[(
            "spec::scope::not_backticked",
            4,
            "`Modify:` is followed by text, not a backticked path",
        )],
    },
    Case {
        name: "misspelt keyword",
        text: b"### Scope\n- Modfy: `a.rs`\n",
        expect: &[
            (
                "spec::scope::empty",
                1,
                "the Scope names nothing to Modify or Create",
            ),
            (
                "spec::scope::unknown_keyword",
                2,
                "unknown Scope entry `Modfy:`",
            ),
        ],
    },
    Case {
        name: "misspelt deny",
        text: b"### Scope\n- Modify: `a.rs`\n- Do NOT modfy `b.rs`\n",
        expect: &[(
            "spec::scope::unknown_keyword",
            3,
            "unknown Scope entry `Do NOT modfy`",
        )],
    },
    Case {
        name: "empty backticks",
        text: b"### Scope\n- Modify: `a.rs`, ` `\n",
        expect: &[("spec::path::empty", 2, "empty path in `Modify:`")],
    },
    Case {
        name: "backslashes",
        text: b"### Scope\n- Modify: `src\\a.rs`\n",
        expect: &[
            (
                "spec::scope::empty",
                1,
                "the Scope names nothing to Modify or Create",
            ),
            (
                "spec::path::backslash",
                2,
                "path `src\\a.rs` uses backslashes",
            ),
        ],
    },
    Case {
        name: "two scope sections",
        text: b"## Scope\n- Modify: `a.rs`\n## Scope\n- Modify: `b.rs`\n",
        expect: &[(
            "spec::scope::duplicate",
            3,
            "the spec has a second Scope section",
        )],
    },
    Case {
        name: "duplicate path (warning)",
        text: b"## Scope\n- Modify: `a.rs`\n- Modify: `./a.rs`\n",
        expect: &[("spec::scope::duplicate_path", 3, "`./a.rs` is listed twice")],
    },
    Case {
        name: "deny outside scope (warning)",
        text: b"# T\n## Scope\n- Modify: `a.rs`\n## Constraints\n- Do NOT modify `b.rs`\n",
        expect: &[(
            "spec::scope::deny_outside_scope",
            5,
            "`Do NOT modify` outside the Scope section is not enforced",
        )],
    },
];

#[test]
fn malformed_corpus() {
    assert!(MALFORMED.len() >= 20);
    let mut failures = Vec::new();
    for case in MALFORMED {
        let parsed = parse("bad.md", case.text);
        let got: Vec<(String, usize, String)> = parsed
            .problems
            .iter()
            .map(|p| {
                let line = p
                    .primary_span()
                    .map_or(0, |s| parsed.source.line(s.offset()));
                let code = p.code().map(|c| c.to_string()).unwrap_or_default();
                (code, line, p.to_string())
            })
            .collect();
        let want: Vec<(String, usize, String)> = case
            .expect
            .iter()
            .map(|(c, l, m)| (c.to_string(), *l, m.to_string()))
            .collect();
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", case.name));
        }
        for problem in &parsed.problems {
            assert!(
                problem.help().is_some(),
                "{}: {problem} has no help",
                case.name
            );
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn parse_errors_are_classified() {
    let parsed = parse("t.md", b"+++\nx = 1\n+++\n### Scope\n- Modify: `a`\n");
    assert!(parsed.has_parse_error());
    let parsed = parse("t.md", b"### Scope\n- Modify: `/a`\n");
    assert!(!parsed.has_parse_error());
    assert!(parsed.has_errors());
}

mod never_panics {
    //! The parser must never panic, whatever it is given. Case counts follow
    //! `PROPTEST_CASES` (CI bounds it).

    use proptest::prelude::*;

    use super::super::{parse, repo_check};

    /// Pieces that exercise the parser's interesting paths when glued together at random.
    const FRAGMENTS: &[&str] = &[
        "+++\n",
        "---\n",
        "agent = \"x\"\n",
        "timeout = \"5m\"\n",
        "labels = [",
        "\n",
        "# ",
        "### Scope\n",
        "## scope\n",
        "- ",
        "  - ",
        "* ",
        "1. ",
        "Modify:",
        "Create:",
        "Do NOT modify",
        "don't modify ",
        "`",
        "`src/a.rs`",
        "`src/**`",
        "`/abs`",
        "`..`",
        "`.git/x`",
        "`{a,b`",
        "`[x`",
        ", ",
        " and ",
        "**",
        "```\n",
        "text ",
        "é",
        "\u{0}",
        "\r\n",
        "\t",
        ">",
        "<!--",
        "-->",
        "|a|b|\n|-|-|\n",
    ];

    fn markdownish() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let parsed = parse("fuzz.md", &bytes);
            for problem in &parsed.problems {
                if let Some(span) = problem.primary_span() {
                    prop_assert!(span.offset() <= parsed.source.text().len());
                }
            }
        }

        #[test]
        fn on_markdown_like_text(text in markdownish()) {
            let parsed = parse("fuzz.md", text.as_bytes());
            // Rendering every diagnostic must not panic either.
            for diagnostic in parsed.diagnostics() {
                let mut out = String::new();
                let handler = miette::GraphicalReportHandler::new_themed(
                    miette::GraphicalTheme::unicode_nocolor(),
                );
                prop_assert!(handler.render_report(&mut out, diagnostic.as_ref()).is_ok());
            }
            if let Some(spec) = &parsed.spec {
                let files = repo_check::RepoFiles::from_paths(["src/a.rs", "src/b/c.rs"]);
                let _ = repo_check::check(&spec.scope, &files);
            }
        }
    }
}
