//! The text of a spec file, with what is needed to point into it: its name, and a map from
//! byte offsets to 1-based lines and columns.

use std::sync::Arc;

use miette::NamedSource;

/// A spec file's text, shared cheaply between the parsed spec and its diagnostics.
#[derive(Debug, Clone)]
pub struct SpecSource {
    name: String,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SpecSource {
    /// Wraps `text`, read from the file called `name` (shown in diagnostics as given).
    pub(crate) fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SpecSource {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The file name, as given by the user.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    ///
    /// Offsets past the end map to the end; an offset inside a multi-byte character maps to
    /// that character.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(index) => index,
            Err(index) => index - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(offset - line_start, |prefix| prefix.chars().count())
            + 1;
        (line_index + 1, column)
    }

    /// The 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// The byte range of 1-based `line` without its line break, if the text has that line.
    pub fn line_span(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let content = self.text.get(start..end)?.trim_end_matches(['\n', '\r']);
        Some(start..start + content.len())
    }

    /// A miette source for rendering diagnostics against this text.
    pub(crate) fn named_source(&self) -> NamedSource<String> {
        NamedSource::new(self.name.clone(), self.text.to_string()).with_language("markdown")
    }
}

#[cfg(test)]
mod tests {
    use super::SpecSource;

    #[test]
    fn maps_offsets_to_lines_and_columns() {
        let source = SpecSource::new("t.md", "ab\ncdé\n\nx");
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(1), (1, 2));
        assert_eq!(source.line_col(2), (1, 3));
        assert_eq!(source.line_col(3), (2, 1));
        assert_eq!(source.line_col(5), (2, 3));
        assert_eq!(source.line_col(8), (3, 1));
        assert_eq!(source.line_col(9), (4, 1));
        assert_eq!(source.line_col(100), (4, 2));
    }
}
