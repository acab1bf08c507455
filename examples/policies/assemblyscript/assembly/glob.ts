// The glob matcher of protected-paths.

const SLASH: u16 = 0x2f; // '/'
const STAR: u16 = 0x2a; // '*'
const QUESTION: u16 = 0x3f; // '?'

// The automaton's two rows, kept between calls: a review matches every changed path
// against every pattern, and this way a match allocates nothing.
let reachable = new StaticArray<bool>(0);
let next = new StaticArray<bool>(0);

/**
 * Whether `pattern` matches the whole of `path`.
 *
 * `*` matches any run of characters other than `/` (including none), `**` any run of
 * characters with `/` included, `?` exactly one character other than `/`; every other
 * character (`[`, `]`, `+`, `.`, `\` included) matches only itself.
 *
 * It runs the pattern as a small automaton over the path: `reachable[i]` says that the
 * pattern read so far can end just before path unit `i`. Each pattern element moves that
 * set forward in one pass, so the cost is O(pattern × path) with no backtracking, however
 * many stars the pattern has.
 *
 * Strings are UTF-16. `?` takes a surrogate pair (one character outside the BMP) as a
 * whole; literals compare code units, which for well-formed strings matches whole
 * characters just the same.
 */
export function matchGlob(pattern: string, path: string): bool {
  const n = path.length;
  if (reachable.length < n + 1) {
    reachable = new StaticArray<bool>(n + 1);
    next = new StaticArray<bool>(n + 1);
  }
  reachable[0] = true;
  for (let i = 1; i <= n; i++) reachable[i] = false;

  for (let p = 0; p < pattern.length; p++) {
    const c = <u16>pattern.charCodeAt(p);
    if (c == STAR && p + 1 < pattern.length && <u16>pattern.charCodeAt(p + 1) == STAR) {
      // `**`: every position at or after a reachable one.
      p++;
      next[0] = reachable[0];
      for (let i = 1; i <= n; i++) next[i] = reachable[i] || next[i - 1];
    } else if (c == STAR) {
      // `*`: the same, but the run may not cross a `/`.
      next[0] = reachable[0];
      for (let i = 1; i <= n; i++) {
        next[i] = reachable[i] || (next[i - 1] && <u16>path.charCodeAt(i - 1) != SLASH);
      }
    } else if (c == QUESTION) {
      // `?`: one character other than `/`: one code unit, or a surrogate pair.
      for (let i = 0; i <= n; i++) next[i] = false;
      for (let i = 0; i < n; i++) {
        if (!reachable[i]) continue;
        const unit = <u16>path.charCodeAt(i);
        if (unit == SLASH) continue;
        const pair = unit >= 0xd800 && unit < 0xdc00 && i + 1 < n;
        next[pair ? i + 2 : i + 1] = true;
      }
    } else {
      // A literal: one code unit, the same.
      next[0] = false;
      for (let i = 0; i < n; i++) {
        next[i + 1] = reachable[i] && <u16>path.charCodeAt(i) == c;
      }
    }
    const swap = reachable;
    reachable = next;
    next = swap;
    if (!anyReachable(n)) return false; // the pattern already failed
  }
  return reachable[n];
}

function anyReachable(n: i32): bool {
  for (let i = 0; i <= n; i++) {
    if (reachable[i]) return true;
  }
  return false;
}
