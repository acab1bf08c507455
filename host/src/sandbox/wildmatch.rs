//! git's pattern matching (its `wildmatch`), for ignore patterns: `?`, `*`, `**`, bracket
//! classes with ranges, `!`/`^` negation and `[:name:]` classes, and `\` escapes.
//!
//! Matched directly against the text, without compiling anything: the sandbox asks about a
//! handful of paths per launch, and compiling the patterns into a regex set (as the
//! `ignore` crate does) cost about 0.2 ms for a six-line `.gitignore`.
//!
//! With `pathname` (git's `WM_PATHNAME`, used for patterns that contain a `/`), `?`, `*`
//! and classes never match `/`; `**` matches across directories when it is a whole
//! component (`**/x`, `x/**`, `a/**/b`, where `a/**/b` also matches `a/b`), and is a plain
//! `*` elsewhere. Without it, `*` matches `/` too. Case is compared exactly (git's default
//! `core.ignoreCase = false` on Linux); a NUL byte ends the pattern, as in C.

/// What matching a pattern's tail against a text's tail found. The two abort outcomes let
/// an enclosing `*` stop trying further positions that cannot succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Match,
    NoMatch,
    /// Nothing at a later text position can match either.
    AbortAll,
    /// Only an enclosing `**` may still match, by consuming a `/`.
    AbortToStarStar,
}

/// Whether `pattern` matches the whole of `text`, with git's `WM_PATHNAME` when `pathname`.
pub(crate) fn wildmatch(pattern: &[u8], text: &[u8], pathname: bool) -> bool {
    let end = pattern
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(pattern.len());
    matches(&pattern[..end], text, pathname) == Outcome::Match
}

/// The byte at `i`, or NUL past the end (the patterns are C strings in git).
fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// Whether `byte` is one of the characters that make a pattern a glob.
fn is_glob_special(byte: u8) -> bool {
    matches!(byte, b'*' | b'?' | b'[' | b'\\')
}

/// Matches `pattern` against `text` from their starts.
fn matches(pattern: &[u8], text: &[u8], pathname: bool) -> Outcome {
    let (mut p, mut t) = (0, 0);
    while p < pattern.len() {
        let pc = pattern[p];
        if t == text.len() && pc != b'*' {
            return Outcome::AbortAll;
        }
        match pc {
            b'*' => return star(pattern, p, text, t, pathname),
            b'?' => {
                if pathname && text[t] == b'/' {
                    return Outcome::NoMatch;
                }
            }
            b'[' => match class(pattern, p + 1, text[t]) {
                None => return Outcome::AbortAll,
                Some((matched, close)) => {
                    if !matched || (pathname && text[t] == b'/') {
                        return Outcome::NoMatch;
                    }
                    p = close;
                }
            },
            b'\\' => {
                // The next byte literally; a trailing `\` matches nothing.
                p += 1;
                if at(pattern, p) != text[t] {
                    return Outcome::NoMatch;
                }
            }
            literal => {
                if literal != text[t] {
                    return Outcome::NoMatch;
                }
            }
        }
        p += 1;
        t += 1;
    }
    if t == text.len() {
        Outcome::Match
    } else {
        Outcome::NoMatch
    }
}

/// The rest of a match from the `*` at `pattern[p]`, with `text[t..]` left.
fn star(pattern: &[u8], p: usize, text: &[u8], mut t: usize, pathname: bool) -> Outcome {
    let mut q = p + 1;
    let crosses_slash = if at(pattern, q) == b'*' {
        while at(pattern, q) == b'*' {
            q += 1;
        }
        let whole_component = (p == 0 || pattern[p - 1] == b'/')
            && (q == pattern.len()
                || pattern[q] == b'/'
                || (pattern[q] == b'\\' && at(pattern, q + 1) == b'/'));
        if !pathname {
            true
        } else if whole_component {
            // `a/**/b` also matches `a/b`: try `**/` as no directory at all first.
            if at(pattern, q) == b'/'
                && matches(&pattern[q + 1..], &text[t..], pathname) == Outcome::Match
            {
                return Outcome::Match;
            }
            true
        } else {
            false
        }
    } else {
        !pathname
    };
    let rest = &pattern[q..];
    if rest.is_empty() {
        // A trailing `**` matches everything; a trailing `*` what has no more `/`.
        return if !crosses_slash && text[t..].contains(&b'/') {
            Outcome::NoMatch
        } else {
            Outcome::Match
        };
    }
    if !crosses_slash && rest[0] == b'/' {
        // `*/`: the rest of this component, then the pattern's `/` against the text's.
        let Some(slash) = text[t..].iter().position(|&b| b == b'/') else {
            return Outcome::NoMatch;
        };
        t += slash;
        return matches(&rest[1..], &text[t + 1..], pathname);
    }
    while t < text.len() {
        if !is_glob_special(rest[0]) {
            // A literal follows: skip ahead to its next occurrence (within this
            // component unless the star crosses slashes).
            let literal = rest[0];
            while t < text.len() && (crosses_slash || text[t] != b'/') && text[t] != literal {
                t += 1;
            }
            if t == text.len() || text[t] != literal {
                return Outcome::NoMatch;
            }
        }
        match matches(rest, &text[t..], pathname) {
            Outcome::NoMatch => {
                if !crosses_slash && text[t] == b'/' {
                    return Outcome::AbortToStarStar;
                }
            }
            Outcome::AbortToStarStar if crosses_slash => {}
            outcome => return outcome,
        }
        t += 1;
    }
    Outcome::AbortAll
}

/// A bracket class whose body starts at `pattern[i]` (after the `[`), tested against
/// `byte`: whether it matched, and the index of the closing `]`; `None` when the class is
/// not closed or names an unknown `[:class:]` (git then fails the whole match).
fn class(pattern: &[u8], mut i: usize, byte: u8) -> Option<(bool, usize)> {
    let mut pc = at(pattern, i);
    let negated = pc == b'!' || pc == b'^';
    if negated {
        i += 1;
        pc = at(pattern, i);
    }
    let mut previous = 0u8;
    let mut matched = false;
    loop {
        if pc == 0 {
            return None;
        }
        if pc == b'\\' {
            i += 1;
            pc = at(pattern, i);
            if pc == 0 {
                return None;
            }
            matched |= byte == pc;
        } else if pc == b'-'
            && previous != 0
            && at(pattern, i + 1) != 0
            && at(pattern, i + 1) != b']'
        {
            i += 1;
            pc = at(pattern, i);
            if pc == b'\\' {
                i += 1;
                pc = at(pattern, i);
                if pc == 0 {
                    return None;
                }
            }
            matched |= previous <= byte && byte <= pc;
            // A range's end starts no new range.
            pc = 0;
        } else if pc == b'[' && at(pattern, i + 1) == b':' {
            let name_start = i + 2;
            let mut close = name_start;
            while at(pattern, close) != 0 && at(pattern, close) != b']' {
                close += 1;
            }
            if at(pattern, close) == 0 {
                return None;
            }
            if close < name_start + 1 || pattern[close - 1] != b':' {
                // No `:]`: the `[` is an ordinary member, and the `:` is next.
                matched |= byte == b'[';
            } else {
                matched |= named_class(&pattern[name_start..close - 1], byte)?;
                i = close;
                pc = 0;
            }
        } else {
            matched |= byte == pc;
        }
        previous = pc;
        i += 1;
        pc = at(pattern, i);
        if pc == b']' {
            return Some((matched != negated, i));
        }
    }
}

/// Whether `byte` is in the POSIX class `name` (C locale); `None` for an unknown name.
fn named_class(name: &[u8], byte: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => byte.is_ascii_alphanumeric(),
        b"alpha" => byte.is_ascii_alphabetic(),
        b"blank" => byte == b' ' || byte == b'\t',
        b"cntrl" => byte.is_ascii_control(),
        b"digit" => byte.is_ascii_digit(),
        b"graph" => byte.is_ascii_graphic(),
        b"lower" => byte.is_ascii_lowercase(),
        b"print" => byte.is_ascii_graphic() || byte == b' ',
        b"punct" => byte.is_ascii_punctuation(),
        b"space" => matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b"upper" => byte.is_ascii_uppercase(),
        b"xdigit" => byte.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::wildmatch;

    /// (pattern, text, with WM_PATHNAME, without): cases after git's t3070-wildmatch.sh
    /// (without case folding), written down from it, with each answer checked against
    /// git's algorithm. What real git does with ignore patterns is held separately by
    /// `gitignore.rs`'s differential test against `git check-ignore`.
    const CASES: &[(&str, &str, bool, bool)] = &[
        ("foo", "foo", true, true),
        ("bar", "foo", false, false),
        ("", "", true, true),
        ("???", "foo", true, true),
        ("??", "foo", false, false),
        ("*", "foo", true, true),
        ("f*", "foo", true, true),
        ("*f", "foo", false, false),
        ("*foo*", "foo", true, true),
        ("*ob*a*r*", "foobar", true, true),
        ("*ab", "aaaaaaabababab", true, true),
        ("foo\\*", "foo*", true, true),
        ("foo\\*bar", "foobar", false, false),
        ("f\\\\oo", "f\\oo", true, true),
        ("*[al]?", "ball", true, true),
        ("[ten]", "ten", false, false),
        ("**[!te]", "ten", true, true),
        ("**[!ten]", "ten", false, false),
        ("t[a-g]n", "ten", true, true),
        ("t[!a-g]n", "ten", false, false),
        ("t[!a-g]n", "ton", true, true),
        ("t[^a-g]n", "ton", true, true),
        ("a[]]b", "a]b", true, true),
        ("a[]-]b", "a-b", true, true),
        ("a[]-]b", "a]b", true, true),
        ("a[]-]b", "aab", false, false),
        ("a[]a-]b", "aab", true, true),
        ("]", "]", true, true),
        ("foo*bar", "foo/baz/bar", false, true),
        ("foo**bar", "foo/baz/bar", false, true),
        ("foo**bar", "foobazbar", true, true),
        ("foo/**/bar", "foo/baz/bar", true, true),
        ("foo/**/**/bar", "foo/baz/bar", true, false),
        ("foo/**/bar", "foo/b/a/z/bar", true, true),
        ("foo/**/**/bar", "foo/b/a/z/bar", true, true),
        ("foo/**/bar", "foo/bar", true, false),
        ("foo/**/**/bar", "foo/bar", true, false),
        ("foo?bar", "foo/bar", false, true),
        ("foo[/]bar", "foo/bar", false, true),
        ("foo[^a-z]bar", "foo/bar", false, true),
        ("f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "f/bar", false, false),
        ("f[^eiu][^eiu][^eiu][^eiu][^eiu]r", "foo-bar", true, true),
        ("**/foo", "foo", true, false),
        ("**/foo", "XXX/foo", true, true),
        ("**/foo", "bar/baz/foo", true, true),
        ("*/foo", "bar/baz/foo", false, true),
        ("**/bar*", "foo/bar/baz", false, true),
        ("**/bar/*", "deep/foo/bar/baz", true, true),
        ("**/bar/*", "deep/foo/bar/baz/", false, true),
        ("**/bar/**", "deep/foo/bar/baz/", true, true),
        ("**/bar/*", "deep/foo/bar", false, false),
        ("**/bar/**", "deep/foo/bar/", true, true),
        ("**/bar**", "foo/bar/baz", false, true),
        ("*/bar/**", "foo/bar/baz/x", true, true),
        ("*/bar/**", "deep/foo/bar/baz/x", false, true),
        ("**/bar/*/*", "deep/foo/bar/baz/x", true, true),
        ("a[c-c]st", "acrt", false, false),
        ("a[c-c]rt", "acrt", true, true),
        ("[!]-]", "]", false, false),
        ("[!]-]", "a", true, true),
        ("\\", "", false, false),
        ("\\", "\\", false, false),
        ("*/\\", "XXX/\\", false, false),
        ("*/\\\\", "XXX/\\", true, true),
        ("@foo", "@foo", true, true),
        ("@foo", "foo", false, false),
        ("\\[ab]", "[ab]", true, true),
        ("[[]ab]", "[ab]", true, true),
        ("[[:]ab]", "[ab]", true, true),
        ("[[::]ab]", "[ab]", false, false),
        ("[[:digit]ab]", "[ab]", true, true),
        ("[\\[:]ab]", "[ab]", true, true),
        ("\\??\\?b", "?a?b", true, true),
        ("\\a\\b\\c", "abc", true, true),
        ("", "foo", false, false),
        ("**/t[o]", "foo/bar/baz/to", true, true),
        ("[[:alpha:]][[:digit:]][[:upper:]]", "a1B", true, true),
        ("[[:digit:][:upper:][:space:]]", "a", false, false),
        ("[[:digit:][:upper:][:space:]]", "A", true, true),
        ("[[:digit:][:upper:][:space:]]", "1", true, true),
        ("[[:digit:][:upper:][:spaci:]]", "1", false, false),
        ("[[:digit:][:upper:][:space:]]", " ", true, true),
        ("[[:digit:][:upper:][:space:]]", ".", false, false),
        ("[[:digit:][:punct:][:space:]]", ".", true, true),
        ("[[:xdigit:]]", "5", true, true),
        ("[[:xdigit:]]", "f", true, true),
        ("[[:xdigit:]]", "D", true, true),
        ("[a-c[:digit:]x-z]", "5", true, true),
        ("[a-c[:digit:]x-z]", "b", true, true),
        ("[a-c[:digit:]x-z]", "y", true, true),
        ("[a-c[:digit:]x-z]", "q", false, false),
        ("[\\\\-^]", "]", true, true),
        ("[\\\\-^]", "[", false, false),
        ("[\\-_]", "-", true, true),
        ("[\\]]", "]", true, true),
        ("[\\]]", "\\]", false, false),
        ("[\\]]", "\\", false, false),
        ("a[]b", "ab", false, false),
        ("a[]b", "a[]b", false, false),
        ("ab[", "ab[", false, false),
        ("[!", "ab", false, false),
        ("[-", "ab", false, false),
        ("[-]", "-", true, true),
        ("[a-", "-", false, false),
        ("[!a-", "-", false, false),
        ("[--A]", "-", true, true),
        ("[--A]", "5", true, true),
        ("[ --]", " ", true, true),
        ("[ --]", "$", true, true),
        ("[ --]", "-", true, true),
        ("[ --]", "0", false, false),
        ("[---]", "-", true, true),
        ("[------]", "-", true, true),
        ("[a-e-n]", "j", false, false),
        ("[a-e-n]", "-", true, true),
        ("[!------]", "a", true, true),
        ("[]-a]", "[", false, false),
        ("[]-a]", "^", true, true),
        ("[!]-a]", "^", false, false),
        ("[!]-a]", "[", true, true),
        ("[a^bc]", "^", true, true),
        ("[a-]b]", "-b]", true, true),
        ("[\\]", "\\", false, false),
        ("[\\\\]", "\\", true, true),
        ("[!\\\\]", "\\", false, false),
        ("[A-\\\\]", "G", true, true),
        ("b*a", "aaabbb", false, false),
        ("*ba*", "aabcaa", false, false),
        ("[,]", ",", true, true),
        ("[\\\\,]", ",", true, true),
        ("[\\\\,]", "\\", true, true),
        ("[,-.]", "-", true, true),
        ("[,-.]", "+", false, false),
        ("[,-.]", "-.]", false, false),
        ("[\\1-\\3]", "2", true, true),
        ("[\\1-\\3]", "3", true, true),
        ("[\\1-\\3]", "4", false, false),
        ("[[-\\]]", "\\", true, true),
        ("[[-\\]]", "[", true, true),
        ("[[-\\]]", "]", true, true),
        ("[[-\\]]", "-", false, false),
        (
            "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
            "-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1",
            true,
            true,
        ),
        (
            "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
            "-adobe-courier-bold-o-normal--12-120-75-75-X-70-iso8859-1",
            false,
            false,
        ),
        (
            "-*-*-*-*-*-*-12-*-*-*-m-*-*-*",
            "-adobe-courier-bold-o-normal--12-120-75-75-/-70-iso8859-1",
            false,
            false,
        ),
        (
            "XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
            "XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1",
            true,
            true,
        ),
        (
            "XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*",
            "XXX/adobe/courier/bold/o/normal//12/120/75/75/X/70/iso8859/1",
            false,
            false,
        ),
        (
            "**/*a*b*g*n*t",
            "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt",
            true,
            true,
        ),
        (
            "**/*a*b*g*n*t",
            "abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz",
            false,
            false,
        ),
        ("*/*/*", "foo", false, false),
        ("*/*/*", "foo/bar", false, false),
        ("*/*/*", "foo/bba/arr", true, true),
        ("*/*/*", "foo/bb/aa/rr", false, true),
        ("**/**/**", "foo/bb/aa/rr", true, true),
        ("*X*i", "abcXdefXghi", true, true),
        ("*X*i", "ab/cXd/efXg/hi", false, true),
        ("*/*X*/*/*i", "ab/cXd/efXg/hi", true, true),
        ("**/*X*/**/*i", "ab/cXd/efXg/hi", true, true),
        ("fo", "foo", false, false),
        ("foo/bar", "foo/bar", true, true),
        ("foo/*", "foo/bar", true, true),
        ("foo/*", "foo/bba/arr", false, true),
        ("foo/**", "foo/bba/arr", true, true),
        ("foo*", "foo/bba/arr", false, true),
        ("foo**", "foo/bba/arr", false, true),
        ("foo/*arr", "foo/bba/arr", false, true),
        ("foo/**arr", "foo/bba/arr", false, true),
        ("foo/*z", "foo/bba/arr", false, false),
        ("foo/**z", "foo/bba/arr", false, false),
        ("foo?bar", "foo\nbar", true, true),
        ("[abc", "abc", false, false),
        ("*foo", "foo", true, true),
        ("*foo", "foo/", false, false),
    ];

    #[test]
    fn agrees_with_gits_own_test_cases() {
        let wrong: Vec<_> = CASES
            .iter()
            .filter(|&&(pattern, text, with_pathname, without)| {
                wildmatch(pattern.as_bytes(), text.as_bytes(), true) != with_pathname
                    || wildmatch(pattern.as_bytes(), text.as_bytes(), false) != without
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "(pattern, text, pathname, plain): {wrong:#?}"
        );
    }
}
