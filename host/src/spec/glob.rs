//! The glob language of Scope paths: what a pattern may be, and which paths it matches.
//!
//! The language is the `globset` crate's with `literal_separator(true)` and no backslash
//! escapes, which agenthost used before this module and whose answers its tests still hold
//! this module to:
//!
//! - `?` is one byte other than `/`, `*` any run of them;
//! - `**` is any run of bytes (slashes too) when it is a whole path component: `**/x`
//!   (also matches `x` and `/x`), `x/**` (everything below `x/`), `x/**/y` (also `x/y`), `**`
//!   alone (everything); anywhere else it is `*`;
//! - `[abc]`, `[a-z]`, `[!a]` or `[^a]` are byte classes (they may match `/`); `]` first in a
//!   class and `-` first or last are members;
//! - `{a,b}` is either branch (branches may nest; empty branches are dropped);
//! - anything else is itself; the whole path must match.
//!
//! Matching compiles the pattern into a small automaton and runs it over the path in one
//! pass (time proportional to path length times pattern size, never exponential: specs are
//! written by agents). No regex engine: the `agenthost` front parses specs on every
//! sandboxed launch, and the regex crates' relocation tables alone cost it about 0.03 ms.

/// A glob that does not parse; its `Display` is globset's message for the same mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// `[` with no closing `]`.
    #[error("unclosed character class; missing ']'")]
    UnclosedClass,
    /// A range whose end comes before its start.
    #[error("invalid range; '{0}' > '{1}'")]
    InvalidRange(char, char),
    /// `}` with no `{` before it.
    #[error("unopened alternate group; missing '{{' (maybe escape '}}' with '[}}]'?)")]
    UnopenedAlternates,
    /// `{` with no closing `}`.
    #[error("unclosed alternate group; missing '}}' (maybe escape '{{' with '[{{]'?)")]
    UnclosedAlternates,
}

/// One element of a parsed glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`.
    Any,
    /// `*`.
    ZeroOrMore,
    /// `**/` at the start: nothing, `/`, or anything ending in `/`.
    RecursivePrefix,
    /// `/**` at the end: `/` and anything.
    RecursiveSuffix,
    /// `/**/` inside: `/`, or `/`, anything, `/`.
    RecursiveZeroOrMore,
    /// `[...]`: inclusive character ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `{a,b}`: the branches.
    Alternates(Vec<Vec<Token>>),
}

/// Parses `pattern` as globset's parser does (same tokens, same errors).
fn parse(pattern: &str) -> Result<Vec<Token>, GlobError> {
    let mut parser = Parser {
        chars: pattern.chars().peekable(),
        prev: None,
        cur: None,
        open: Vec::new(),
        branches: vec![Vec::new()],
    };
    while let Some(c) = parser.bump() {
        match c {
            '?' => parser.push(Token::Any),
            '*' => parser.star(),
            '[' => parser.class()?,
            '{' => {
                parser.open.push(parser.branches.len());
                parser.branches.push(Vec::new());
            }
            '}' => {
                let start = parser.open.pop().ok_or(GlobError::UnopenedAlternates)?;
                let alternates = parser.branches.split_off(start);
                parser.push(Token::Alternates(alternates));
            }
            ',' if !parser.open.is_empty() => parser.branches.push(Vec::new()),
            c => parser.push(Token::Literal(c)),
        }
    }
    if parser.branches.len() > 1 {
        return Err(GlobError::UnclosedAlternates);
    }
    Ok(parser.branches.pop().unwrap_or_default())
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// The character before `cur`.
    prev: Option<char>,
    /// The character last taken.
    cur: Option<char>,
    /// For each open `{`, the index of its first branch in `branches`.
    open: Vec<usize>,
    /// The branches being parsed; tokens go to the last one.
    branches: Vec<Vec<Token>>,
}

impl Parser<'_> {
    fn bump(&mut self) -> Option<char> {
        self.prev = self.cur;
        self.cur = self.chars.next();
        self.cur
    }

    fn branch(&mut self) -> &mut Vec<Token> {
        if self.branches.is_empty() {
            self.branches.push(Vec::new());
        }
        let last = self.branches.len() - 1;
        &mut self.branches[last]
    }

    fn push(&mut self, token: Token) {
        self.branch().push(token);
    }

    /// After a `*`: `*`, or one of the `**` forms.
    fn star(&mut self) {
        let prev = self.prev;
        if self.chars.peek() != Some(&'*') {
            self.push(Token::ZeroOrMore);
            return;
        }
        self.bump();
        let two_stars = |parser: &mut Self| {
            parser.push(Token::ZeroOrMore);
            parser.push(Token::ZeroOrMore);
        };
        if self.branch().is_empty() {
            if self.chars.peek().is_some_and(|&c| c != '/') {
                two_stars(self);
            } else {
                self.push(Token::RecursivePrefix);
                self.bump();
            }
            return;
        }
        let in_alternates = self.branches.len() > 1;
        if prev != Some('/') && (!in_alternates || (prev != Some(',') && prev != Some('{'))) {
            two_stars(self);
            return;
        }
        let is_suffix = match self.chars.peek() {
            None => {
                self.bump();
                true
            }
            Some(',' | '}') if in_alternates => true,
            Some('/') => {
                self.bump();
                false
            }
            Some(_) => {
                two_stars(self);
                return;
            }
        };
        let token = match self.branch().pop() {
            Some(Token::RecursivePrefix) => Token::RecursivePrefix,
            Some(Token::RecursiveSuffix) => Token::RecursiveSuffix,
            _ if is_suffix => Token::RecursiveSuffix,
            _ => Token::RecursiveZeroOrMore,
        };
        self.push(token);
    }

    /// After a `[`: the class up to its `]`.
    fn class(&mut self) -> Result<(), GlobError> {
        let negated = matches!(self.chars.peek(), Some('!' | '^'));
        if negated {
            self.bump();
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        let mut in_range = false;
        loop {
            let c = self.bump().ok_or(GlobError::UnclosedClass)?;
            match c {
                ']' if !first => break,
                '-' if !first && !in_range => in_range = true,
                c => {
                    match ranges.last_mut() {
                        Some(range) if in_range => {
                            range.1 = c;
                            if range.1 < range.0 {
                                return Err(GlobError::InvalidRange(range.0, range.1));
                            }
                        }
                        _ => ranges.push((c, c)),
                    }
                    in_range = false;
                }
            }
            first = false;
        }
        if in_range {
            ranges.push(('-', '-'));
        }
        self.push(Token::Class { negated, ranges });
        Ok(())
    }
}

/// A set of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);
    const ALL: ByteSet = ByteSet([u64::MAX; 4]);

    fn of(byte: u8) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        set.insert_range(byte, byte);
        set
    }

    fn but_slash() -> ByteSet {
        ByteSet::of(b'/').complement()
    }

    fn insert_range(&mut self, low: u8, high: u8) {
        for byte in low..=high {
            self.0[usize::from(byte / 64)] |= 1 << (byte % 64);
        }
    }

    fn contains(&self, byte: u8) -> bool {
        self.0[usize::from(byte / 64)] & (1 << (byte % 64)) != 0
    }

    fn complement(self) -> ByteSet {
        ByteSet(self.0.map(|word| !word))
    }
}

/// One instruction of the matching automaton.
#[derive(Debug, Clone)]
enum Inst {
    /// Take one byte from the set, then go on.
    Byte(ByteSet),
    /// Go on at both places.
    Split(usize, usize),
    /// Go on at the place.
    Jump(usize),
    /// The whole path matched, if it has ended.
    Match,
}

/// A compiled Scope glob.
#[derive(Debug, Clone)]
pub struct Glob {
    program: Vec<Inst>,
}

impl Glob {
    /// Parses and compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let tokens = parse(pattern)?;
        let mut program = Vec::new();
        if tokens == [Token::RecursivePrefix] {
            // `**` (or `**/`) alone: everything.
            any_run(&mut program, ByteSet::ALL);
        } else {
            sequence(&mut program, &tokens);
        }
        program.push(Inst::Match);
        Ok(Glob { program })
    }

    /// Whether the whole of `path` matches.
    pub fn is_match(&self, path: &str) -> bool {
        let mut current = Vec::with_capacity(self.program.len());
        let mut next = Vec::with_capacity(self.program.len());
        let mut seen = vec![false; self.program.len()];
        self.add(&mut current, &mut seen, 0);
        for &byte in path.as_bytes() {
            seen.fill(false);
            next.clear();
            for &pc in &current {
                if let Inst::Byte(set) = &self.program[pc]
                    && set.contains(byte)
                {
                    self.add(&mut next, &mut seen, pc + 1);
                }
            }
            std::mem::swap(&mut current, &mut next);
            if current.is_empty() {
                return false;
            }
        }
        current
            .iter()
            .any(|&pc| matches!(self.program[pc], Inst::Match))
    }

    /// Adds `pc` and every instruction reachable from it without taking a byte.
    fn add(&self, list: &mut Vec<usize>, seen: &mut [bool], pc: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if std::mem::replace(&mut seen[pc], true) {
                continue;
            }
            match self.program[pc] {
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Inst::Jump(to) => stack.push(to),
                Inst::Byte(_) | Inst::Match => list.push(pc),
            }
        }
    }
}

/// Emits `tokens` one after another.
fn sequence(program: &mut Vec<Inst>, tokens: &[Token]) {
    for token in tokens {
        match token {
            Token::Literal(c) => literal(program, &c.to_string()),
            Token::Any => program.push(Inst::Byte(ByteSet::but_slash())),
            Token::ZeroOrMore => any_run(program, ByteSet::but_slash()),
            Token::RecursivePrefix => {
                // `/` or nothing, or anything ending in `/`.
                either(program, &mut |p| optional(p, "/"), &mut |p| {
                    any_run(p, ByteSet::ALL);
                    literal(p, "/");
                });
            }
            Token::RecursiveSuffix => {
                literal(program, "/");
                any_run(program, ByteSet::ALL);
            }
            Token::RecursiveZeroOrMore => {
                either(program, &mut |p| literal(p, "/"), &mut |p| {
                    literal(p, "/");
                    any_run(p, ByteSet::ALL);
                    literal(p, "/");
                });
            }
            Token::Class { negated, ranges } => {
                let set = class_bytes(ranges);
                program.push(Inst::Byte(if *negated { set.complement() } else { set }));
            }
            Token::Alternates(branches) => {
                // Branches that match nothing but the empty string are dropped (globset's
                // `empty_alternates(false)`); with none left, the group is empty.
                let kept: Vec<&Vec<Token>> =
                    branches.iter().filter(|b| !is_empty_pattern(b)).collect();
                alternatives(program, &kept);
            }
        }
    }
}

/// Whether `tokens` compile to nothing (only groups whose branches all do).
fn is_empty_pattern(tokens: &[Token]) -> bool {
    tokens.iter().all(|token| match token {
        Token::Alternates(branches) => branches.iter().all(|b| is_empty_pattern(b)),
        _ => false,
    })
}

/// Emits one of `branches`.
fn alternatives(program: &mut Vec<Inst>, branches: &[&Vec<Token>]) {
    match branches {
        [] => {}
        [only] => sequence(program, only),
        [first, rest @ ..] => {
            either(program, &mut |p| sequence(p, first), &mut |p| {
                alternatives(p, rest)
            });
        }
    }
}

/// Emits `left` or `right`.
fn either(
    program: &mut Vec<Inst>,
    left: &mut dyn FnMut(&mut Vec<Inst>),
    right: &mut dyn FnMut(&mut Vec<Inst>),
) {
    let split = program.len();
    program.push(Inst::Split(split + 1, 0));
    left(program);
    let jump = program.len();
    program.push(Inst::Jump(0));
    let right_start = program.len();
    right(program);
    let end = program.len();
    program[split] = Inst::Split(split + 1, right_start);
    program[jump] = Inst::Jump(end);
}

/// Emits `text` or nothing.
fn optional(program: &mut Vec<Inst>, text: &str) {
    let split = program.len();
    program.push(Inst::Split(split + 1, 0));
    literal(program, text);
    let end = program.len();
    program[split] = Inst::Split(split + 1, end);
}

/// Emits any run (possibly empty) of bytes from `set`.
fn any_run(program: &mut Vec<Inst>, set: ByteSet) {
    let split = program.len();
    program.push(Inst::Split(split + 1, split + 3));
    program.push(Inst::Byte(set));
    program.push(Inst::Jump(split));
}

/// Emits the UTF-8 bytes of `text`.
fn literal(program: &mut Vec<Inst>, text: &str) {
    program.extend(text.bytes().map(|b| Inst::Byte(ByteSet::of(b))));
}

/// The bytes a class's ranges admit. globset writes each range into a byte-level regex
/// class as the UTF-8 of its ends: `[é]` admits each byte of `é`, and a range between
/// multi-byte characters runs from the last byte of its start to the first byte of its end,
/// with the other bytes of both as single members. Kept byte for byte here.
fn class_bytes(ranges: &[(char, char)]) -> ByteSet {
    let mut set = ByteSet::EMPTY;
    for &(start, end) in ranges {
        let (mut low, mut high) = ([0; 4], [0; 4]);
        let low = start.encode_utf8(&mut low).as_bytes();
        let high = end.encode_utf8(&mut high).as_bytes();
        if start == end {
            for &byte in low {
                set.insert_range(byte, byte);
            }
            continue;
        }
        let (low_last, low_rest) = low.split_last().unwrap_or((&0, &[]));
        let (high_first, high_rest) = high.split_first().unwrap_or((&0, &[]));
        for &byte in low_rest.iter().chain(high_rest) {
            set.insert_range(byte, byte);
        }
        set.insert_range(*low_last, *high_first);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn globset_glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
        globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| e.kind().to_string())
    }

    /// Same verdict as globset on whether `pattern` parses (and with the same message),
    /// and on every path.
    fn agrees(pattern: &str, paths: &[&str]) {
        let ours = Glob::new(pattern).map_err(|e| e.to_string());
        let theirs = globset_glob(pattern);
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => {
                for path in paths {
                    assert_eq!(
                        ours.is_match(path),
                        theirs.is_match(path),
                        "{pattern:?} against {path:?}"
                    );
                }
            }
            (Err(ours), Err(theirs)) => assert_eq!(ours, theirs, "{pattern:?}"),
            _ => panic!(
                "{pattern:?}: ours {:?}, globset {:?}",
                ours.is_ok(),
                theirs.is_ok()
            ),
        }
    }

    const PATHS: &[&str] = &[
        "",
        "a",
        "b",
        "/",
        "a/",
        "/a",
        "ab",
        "a/b",
        "a/b/c",
        "a/x/b",
        "src/a.rs",
        "src/sub/a.rs",
        "src/api/v1/a.rs",
        "src/apix/a.rs",
        "x.py",
        "tests/test_x.py",
        "tests/unit/test_x.py",
        "é",
        "a/é/b",
        "-",
        "]",
        "[",
        "{a}",
        ",",
    ];

    #[test]
    fn hand_picked_patterns_agree_with_globset() {
        for pattern in [
            "a",
            "*",
            "**",
            "**/",
            "**/a",
            "**/**",
            "**/**/a",
            "a/**",
            "a/**/b",
            "a/**/**",
            "a/**/**/b",
            "a**",
            "**a",
            "a/**b",
            "a**/b",
            "*/b",
            "a/*",
            "?",
            "a?b",
            "a/?",
            "[ab]",
            "[!a]",
            "[^a]",
            "[a-c]",
            "[]]",
            "[]a]",
            "[-a]",
            "[a-]",
            "[a-b-c]",
            "[!]a]",
            "[/]",
            "a[/]b",
            "[é]",
            "a/[é]/b",
            "[a-é]",
            "{a,b}",
            "{a,b}/c",
            "{a/**,b}",
            "{**/a,b}",
            "{a,{b,c}}",
            "{,a}",
            "{}",
            "x{}",
            "{{}}",
            "{,}",
            "src/*.rs",
            "src/api/**",
            "tests/test_*.py",
            "**/*.py",
            "[",
            "[!",
            "[]",
            "[!]",
            "[z-a]",
            "[z--]",
            "{a,b",
            "{a,{b,c}",
            "a,b}",
            "{a,b}}",
            "}",
            ",",
            "a,b",
            "**/**/**",
            "*/**",
            "**/*",
            "{a,b}**",
            "a{**,b}",
            "{a,**}",
            "{a,**/b}",
            "{a/**/b,c}",
        ] {
            agrees(pattern, PATHS);
        }
    }

    /// Patterns and paths over a small alphabet that holds every special character.
    fn pattern_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("/"),
                Just("*"),
                Just("**"),
                Just("?"),
                Just("["),
                Just("]"),
                Just("!"),
                Just("^"),
                Just("-"),
                Just("{"),
                Just("}"),
                Just(","),
                Just("é"),
            ],
            0..9,
        )
        .prop_map(|parts| parts.concat())
    }

    fn path_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("/"),
                Just("é"),
                Just("-"),
                Just("]")
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn random_patterns_agree_with_globset(
            pattern in pattern_strategy(),
            paths in proptest::collection::vec(path_strategy(), 8),
        ) {
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            agrees(&pattern, &paths);
        }
    }

    #[test]
    fn long_paths_against_many_stars_take_linear_time() {
        let glob = Glob::new("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b").unwrap();
        let path = "a".repeat(10_000);
        assert!(!glob.is_match(&path));
        let glob = Glob::new("**/a/**/a/**/a/**/a/**/a/**/b").unwrap();
        assert!(!glob.is_match(&"a/".repeat(5_000)));
    }
}
