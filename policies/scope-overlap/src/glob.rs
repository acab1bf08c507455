//! Whether two Scope patterns can name the same path, decided on the patterns themselves.
//!
//! Patterns follow git's conventions, as Scope entries do: `*` and `?` stay within one path
//! component, `**` as a whole component crosses any number of them, `[...]` is a class
//! (`!` or `^` negates it), `{a,b}` is a choice, `\` escapes. Two patterns intersect when
//! some path matches both; the answer is exact but for two classes against each other,
//! which are taken to meet unless both list characters and share none (erring towards an
//! overlap: a task then waits when it need not, never the other way round).

/// Whether a path exists that matches both `a` and `b`.
pub fn intersect(a: &str, b: &str) -> bool {
    let (a, b) = (alternatives(a), alternatives(b));
    a.iter()
        .any(|a| b.iter().any(|b| components_meet(&parse(a), &parse(b))))
}

/// Whether `path`, one path with no wildcards, matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let literal = path.replace('\\', "\\\\");
    let literal: String = literal
        .chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '{' | '}' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    intersect(pattern, &literal)
}

/// Whether `pattern` names one path (it has no wildcard, class or choice).
pub fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', '{'])
}

/// The most alternatives a pattern's `{...}` choices are expanded into; beyond that the
/// rest of the pattern is taken as it is written.
const MAX_ALTERNATIVES: usize = 256;

/// `pattern` with its `{a,b}` choices expanded (nested ones too).
fn alternatives(pattern: &str) -> Vec<String> {
    let mut done = Vec::new();
    let mut pending = vec![pattern.to_string()];
    while let Some(pattern) = pending.pop() {
        match first_choice(&pattern) {
            Some((open, close)) if done.len() + pending.len() < MAX_ALTERNATIVES => {
                let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
                for option in split_options(&pattern[open + 1..close]) {
                    pending.push(format!("{head}{option}{tail}"));
                }
            }
            _ => done.push(pattern),
        }
    }
    done
}

/// The byte offsets of the first unescaped `{` and its matching `}`.
fn first_choice(pattern: &str) -> Option<(usize, usize)> {
    let bytes = pattern.as_bytes();
    let (mut open, mut depth, mut i) = (None, 0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                open.get_or_insert(i);
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return open.map(|open| (open, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The options of a choice's inside, split at its top-level commas.
fn split_options(inside: &str) -> Vec<&str> {
    let bytes = inside.as_bytes();
    let (mut options, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                options.push(&inside[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    options.push(&inside[start..]);
    options
}

/// One path component of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Component {
    /// `**`: any number of components, none included.
    Any,
    /// A component matched piece by piece.
    Pieces(Vec<Piece>),
}

/// One piece of a component's pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// This character.
    Char(char),
    /// `?`: any one character.
    One,
    /// `[...]`: one character of the ranges (or, negated, none of them).
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// `*`: any characters.
    Star,
}

fn parse(pattern: &str) -> Vec<Component> {
    pattern
        .split('/')
        .map(|component| match component {
            "**" => Component::Any,
            other => Component::Pieces(pieces(other)),
        })
        .collect()
}

fn pieces(component: &str) -> Vec<Piece> {
    let chars: Vec<char> = component.chars().collect();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if pieces.last() != Some(&Piece::Star) {
                    pieces.push(Piece::Star);
                }
            }
            '?' => pieces.push(Piece::One),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                pieces.push(Piece::Char(chars[i]));
            }
            '[' => match class(&chars[i + 1..]) {
                Some((piece, used)) => {
                    pieces.push(piece);
                    i += used;
                }
                None => pieces.push(Piece::Char('[')),
            },
            c => pieces.push(Piece::Char(c)),
        }
        i += 1;
    }
    pieces
}

/// A class from the characters after its `[`, with how many of them it used (its `]`
/// included); `None` when it has no closing `]`.
fn class(chars: &[char]) -> Option<(Piece, usize)> {
    let negated = matches!(chars.first(), Some('!' | '^'));
    let mut i = usize::from(negated);
    let mut ranges = Vec::new();
    // A `]` right after the opening (or its negation) is a character of the class.
    let first = i;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && i > first {
            return Some((Piece::Class { ranges, negated }, i + 1));
        }
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i + 2] != ']' {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

fn components_meet(a: &[Component], b: &[Component]) -> bool {
    match (a.first(), b.first()) {
        (None, None) => true,
        (Some(Component::Any), _) => {
            components_meet(&a[1..], b) || (!b.is_empty() && components_meet(a, &b[1..]))
        }
        (_, Some(Component::Any)) => {
            components_meet(a, &b[1..]) || (!a.is_empty() && components_meet(&a[1..], b))
        }
        (None, _) | (_, None) => false,
        (Some(Component::Pieces(x)), Some(Component::Pieces(y))) => {
            pieces_meet(x, y) && components_meet(&a[1..], &b[1..])
        }
    }
}

/// Whether some non-empty component matches both `x` and `y`. (An empty one never stands
/// in a path; patterns made only of `*` meet on any character.)
fn pieces_meet(x: &[Piece], y: &[Piece]) -> bool {
    let only_stars = |p: &[Piece]| p.iter().all(|piece| *piece == Piece::Star);
    if only_stars(x) && only_stars(y) {
        return !x.is_empty() && !y.is_empty();
    }
    meet(x, y)
}

fn meet(x: &[Piece], y: &[Piece]) -> bool {
    match (x.first(), y.first()) {
        (None, None) => true,
        (Some(Piece::Star), _) => meet(&x[1..], y) || (!y.is_empty() && meet(x, &y[1..])),
        (_, Some(Piece::Star)) => meet(x, &y[1..]) || (!x.is_empty() && meet(&x[1..], y)),
        (None, _) | (_, None) => false,
        (Some(p), Some(q)) => one_char_meets(p, q) && meet(&x[1..], &y[1..]),
    }
}

/// Whether one character matches both pieces (neither of them `*`).
fn one_char_meets(p: &Piece, q: &Piece) -> bool {
    match (p, q) {
        (Piece::Char(a), Piece::Char(b)) => a == b,
        (Piece::One, _) | (_, Piece::One) => true,
        (Piece::Class { ranges, negated }, Piece::Char(c))
        | (Piece::Char(c), Piece::Class { ranges, negated }) => {
            ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
        }
        (
            Piece::Class {
                ranges: a,
                negated: false,
            },
            Piece::Class {
                ranges: b,
                negated: false,
            },
        ) => a
            .iter()
            .any(|(lo, hi)| b.iter().any(|(blo, bhi)| lo <= bhi && blo <= hi)),
        // A negated class leaves almost every character: taken to meet.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_globs() {
        let meet = [
            ("src/a.rs", "src/a.rs"),
            ("src/a.rs", "src/*.rs"),
            ("src/a.rs", "src/**"),
            ("src/**", "src/api/**"),
            ("**/*.rs", "docs/x.rs"),
            ("src/**/mod.rs", "src/a/b/mod.rs"),
            ("src/**", "src/**"),
            ("src/a?.rs", "src/ab.rs"),
            ("src/[a-c].rs", "src/b.rs"),
            ("src/[!a].rs", "src/b.rs"),
            ("src/{a,b}.rs", "src/b.rs"),
            ("src/*_test.rs", "src/parser*"),
            ("**", "README.md"),
            ("src/**", "src/a.rs"),
        ];
        for (a, b) in meet {
            assert!(intersect(a, b), "{a} and {b} should meet");
            assert!(intersect(b, a), "{b} and {a} should meet");
        }
        let apart = [
            ("src/a.rs", "src/b.rs"),
            ("src/**", "docs/**"),
            ("src/*.rs", "src/a/b.rs"),
            ("src/*.rs", "src/a.py"),
            ("src/a?.rs", "src/a.rs"),
            ("src/[a-c].rs", "src/d.rs"),
            ("src/[!a].rs", "src/a.rs"),
            ("src/{a,b}.rs", "src/c.rs"),
            ("src/**/mod.rs", "src/lib.rs"),
            ("docs/*", "docs"),
            ("src/[ab].rs", "src/[cd].rs"),
        ];
        for (a, b) in apart {
            assert!(!intersect(a, b), "{a} and {b} should not meet");
            assert!(!intersect(b, a), "{b} and {a} should not meet");
        }
    }

    #[test]
    fn literal_paths_are_matched_as_written() {
        assert!(matches("src/*.rs", "src/a.rs"));
        assert!(!matches("src/*.rs", "src/a.py"));
        assert!(matches("odd/[x].txt", "odd/x.txt"));
        assert!(
            !matches("src/a.rs", "src/*.rs"),
            "a path's `*` is a character"
        );
        assert!(is_literal("Cargo.lock") && !is_literal("*.lock"));
    }

    #[test]
    fn choices_nest_and_stay_bounded() {
        assert_eq!(alternatives("{a,{b,c}}.rs").len(), 3);
        assert!(intersect("{src,lib}/{x,y}.rs", "lib/y.rs"));
        let many = "{a,b}".repeat(20);
        assert!(alternatives(&many).len() <= MAX_ALTERNATIVES + 2);
    }
}
