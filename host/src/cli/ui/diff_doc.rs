//! A patch split into lines the review view can scroll through: which file and hunk each
//! line belongs to, its line number in the new file, and where each file and hunk starts,
//! so that "next hunk", "next file" and "jump to a finding's line" are index look-ups.
//! Parsed once when a review opens; drawing then touches only the lines on screen.

/// What a line of the patch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `diff --git a/... b/...`: a file starts.
    File,
    /// `index`, `---`, `+++`, mode and rename lines.
    Meta,
    /// `@@ -a,b +c,d @@`: a hunk starts.
    Hunk,
    /// An added line.
    Added,
    /// A removed line.
    Removed,
    /// An unchanged line around the changes (and anything else).
    Context,
}

/// One line of the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// What it is.
    pub kind: LineKind,
    /// Its text, without the newline.
    pub text: String,
    /// The index of its file in [`DiffDoc::files`].
    pub file: usize,
    /// Its line number in the new version of the file (added and context lines).
    pub new_line: Option<u32>,
}

/// One file of the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffFile {
    /// Its path (after the change).
    pub path: String,
    /// The index of its `diff --git` line.
    pub start: usize,
}

/// A parsed patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffDoc {
    /// Every line, in order.
    pub lines: Vec<DiffLine>,
    /// Every file, in order.
    pub files: Vec<DiffFile>,
    /// The index of every hunk's `@@` line, in order.
    pub hunks: Vec<usize>,
}

impl DiffDoc {
    /// Parses a unified diff as git writes it.
    pub fn parse(patch: &str) -> DiffDoc {
        let mut doc = DiffDoc::default();
        let mut next_new: Option<u32> = None;
        for text in patch.lines() {
            let index = doc.lines.len();
            let kind = if let Some(rest) = text.strip_prefix("diff --git ") {
                let path = rest.rsplit_once(" b/").map_or(rest, |(_, b)| b).to_string();
                doc.files.push(DiffFile { path, start: index });
                next_new = None;
                LineKind::File
            } else if text.starts_with("@@") {
                next_new = hunk_start(text);
                doc.hunks.push(index);
                LineKind::Hunk
            } else if next_new.is_none() {
                if let (Some(path), Some(file)) =
                    (text.strip_prefix("+++ b/"), doc.files.last_mut())
                {
                    file.path = path.to_string();
                }
                LineKind::Meta
            } else if text.starts_with('+') {
                LineKind::Added
            } else if text.starts_with('-') {
                LineKind::Removed
            } else {
                LineKind::Context
            };
            let new_line = match kind {
                LineKind::Added | LineKind::Context => {
                    let line = next_new;
                    next_new = next_new.map(|n| n + 1);
                    line
                }
                _ => None,
            };
            doc.lines.push(DiffLine {
                kind,
                text: text.to_string(),
                file: doc.files.len().saturating_sub(1),
                new_line,
            });
        }
        doc
    }

    /// Where a finding about `path` (and `line` in its new version) points: the line
    /// itself, else the closest line of the file shown after it, else the file's first
    /// line; `None` when the patch does not touch the file.
    pub fn locate(&self, path: &str, line: Option<u32>) -> Option<usize> {
        let file = self.files.iter().position(|f| f.path == path)?;
        let start = self.files[file].start;
        let end = self
            .files
            .get(file + 1)
            .map_or(self.lines.len(), |f| f.start);
        let Some(wanted) = line else {
            return Some(start);
        };
        let numbered = || (start..end).filter_map(|i| self.lines[i].new_line.map(|n| (i, n)));
        numbered()
            .find(|&(_, n)| n == wanted)
            .or_else(|| numbered().find(|&(_, n)| n > wanted))
            .map(|(i, _)| i)
            .or(Some(start))
    }

    /// The first of `starts` after `from`.
    fn next_of(starts: &[usize], from: usize) -> Option<usize> {
        starts.iter().copied().find(|&s| s > from)
    }

    /// The last of `starts` before `from`.
    fn prev_of(starts: &[usize], from: usize) -> Option<usize> {
        starts.iter().rev().copied().find(|&s| s < from)
    }

    /// The next hunk's first line after line `from`.
    pub fn next_hunk(&self, from: usize) -> Option<usize> {
        Self::next_of(&self.hunks, from)
    }

    /// The previous hunk's first line before line `from`.
    pub fn prev_hunk(&self, from: usize) -> Option<usize> {
        Self::prev_of(&self.hunks, from)
    }

    /// The next file's first line after line `from`.
    pub fn next_file(&self, from: usize) -> Option<usize> {
        let starts: Vec<usize> = self.files.iter().map(|f| f.start).collect();
        Self::next_of(&starts, from)
    }

    /// The previous file's first line before line `from`.
    pub fn prev_file(&self, from: usize) -> Option<usize> {
        let starts: Vec<usize> = self.files.iter().map(|f| f.start).collect();
        Self::prev_of(&starts, from)
    }
}

/// The new file's first line number from a hunk header `@@ -a,b +c,d @@`.
fn hunk_start(header: &str) -> Option<u32> {
    let plus = header.split_whitespace().find(|w| w.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "diff --git a/report.py b/report.py\nindex 1..2 100644\n--- a/report.py\n+++ b/report.py\n@@ -1,2 +1,3 @@\n def summary(items):\n-    return items\n+    return [i for i in items]\n+\n@@ -10,1 +11,1 @@\n-x\n+y\ndiff --git a/status.py b/status.py\nnew file mode 100644\n--- /dev/null\n+++ b/status.py\n@@ -0,0 +1 @@\n+ACTIVE = 1\n";

    #[test]
    fn files_hunks_and_line_numbers() {
        let doc = DiffDoc::parse(PATCH);
        assert_eq!(doc.lines.len(), 18);
        assert_eq!(
            doc.files,
            [
                DiffFile {
                    path: "report.py".into(),
                    start: 0
                },
                DiffFile {
                    path: "status.py".into(),
                    start: 12
                }
            ]
        );
        assert_eq!(doc.hunks, [4, 9, 16]);
        let numbers: Vec<Option<u32>> = doc.lines[4..9].iter().map(|l| l.new_line).collect();
        assert_eq!(numbers, [None, Some(1), None, Some(2), Some(3)]);
        assert_eq!(doc.lines[11].new_line, Some(11));
        assert_eq!(doc.lines[17].kind, LineKind::Added);
        assert_eq!(doc.lines[17].file, 1);
    }

    #[test]
    fn findings_and_moves_land_on_lines() {
        let doc = DiffDoc::parse(PATCH);
        assert_eq!(doc.locate("report.py", Some(2)), Some(7));
        // A line the patch does not show: the next one shown.
        assert_eq!(doc.locate("report.py", Some(5)), Some(11));
        assert_eq!(doc.locate("status.py", None), Some(12));
        assert_eq!(doc.locate("status.py", Some(99)), Some(12));
        assert_eq!(doc.locate("api/routes.py", Some(1)), None);
        assert_eq!(doc.next_hunk(4), Some(9));
        assert_eq!(doc.prev_hunk(9), Some(4));
        assert_eq!(doc.next_file(0), Some(12));
        assert_eq!(doc.prev_file(12), Some(0));
        assert_eq!(doc.next_file(12), None);
    }
}
