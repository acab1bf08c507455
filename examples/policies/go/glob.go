package main

// matchGlob reports whether pattern matches the whole of path.
//
// `*` matches any run of characters other than `/` (including none), `**` any run of
// characters with `/` included, `?` exactly one character other than `/`; every other
// character (`[`, `]`, `+`, `.`, `\` included) matches only itself.
//
// It runs the pattern as a small automaton over the path: reachable[i] says that the
// pattern read so far can end just before path character i. Each pattern element moves
// that set forward in one pass, so the cost is O(len(pattern) × len(path)) with no
// backtracking, however many stars the pattern has.
func matchGlob(pattern, path string) bool {
	pat := []rune(pattern)
	text := []rune(path)

	reachable := make([]bool, len(text)+1)
	reachable[0] = true
	next := make([]bool, len(text)+1)

	for p := 0; p < len(pat); p++ {
		clear(next)
		switch {
		case pat[p] == '*' && p+1 < len(pat) && pat[p+1] == '*':
			// `**`: every position at or after a reachable one.
			p++
			for i := 0; i <= len(text); i++ {
				next[i] = reachable[i] || (i > 0 && next[i-1])
			}
		case pat[p] == '*':
			// `*`: the same, but the run may not cross a `/`.
			for i := 0; i <= len(text); i++ {
				next[i] = reachable[i] || (i > 0 && next[i-1] && text[i-1] != '/')
			}
		case pat[p] == '?':
			for i := 0; i < len(text); i++ {
				next[i+1] = reachable[i] && text[i] != '/'
			}
		default:
			for i := 0; i < len(text); i++ {
				next[i+1] = reachable[i] && text[i] == pat[p]
			}
		}
		reachable, next = next, reachable
	}
	return reachable[len(text)]
}
