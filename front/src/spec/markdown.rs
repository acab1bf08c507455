//! One pass of pulldown-cmark over a spec's Markdown body: the events with their byte ranges
//! (in file offsets), and the headings that divide the document into sections.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The parsed Markdown body of a spec.
#[derive(Debug)]
pub(super) struct Document<'a> {
    /// Every event with its byte range in the whole file.
    pub events: Vec<(Event<'a>, Range<usize>)>,
    /// Every heading, in order.
    pub headings: Vec<Heading>,
    /// Byte ranges of fenced and indented code blocks.
    pub code_blocks: Vec<Range<usize>>,
    /// Where the body ends (the end of the file).
    pub end: usize,
}

/// A heading and the extent of the section it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Heading {
    /// 1 for `#`, 6 for `######`.
    pub level: u8,
    /// The heading's text, inline code kept in backticks.
    pub text: String,
    /// The heading line itself.
    pub span: Range<usize>,
    /// From the end of the heading to the next heading of any level.
    pub body: Range<usize>,
    /// From the end of the heading to the next heading of the same or a higher level
    /// (so it includes sub-sections).
    pub extent: Range<usize>,
}

/// Parses `text[start..]` (the body after any front matter) as Markdown.
pub(super) fn parse(text: &str, start: usize) -> Document<'_> {
    let body = &text[start..];
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events: Vec<(Event<'_>, Range<usize>)> = Parser::new_ext(body, options)
        .into_offset_iter()
        .map(|(event, range)| (event, range.start + start..range.end + start))
        .collect();

    let mut open: Vec<(u8, Range<usize>, String)> = Vec::new();
    let mut raw_headings: Vec<(u8, Range<usize>, String)> = Vec::new();
    let mut code_blocks = Vec::new();
    for (event, range) in &events {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                open.push((*level as u8, range.clone(), String::new()));
            }
            Event::Text(t) | Event::Code(t) if !open.is_empty() => {
                if let Some((_, _, heading_text)) = open.last_mut() {
                    if matches!(event, Event::Code(_)) {
                        heading_text.push('`');
                        heading_text.push_str(t);
                        heading_text.push('`');
                    } else {
                        heading_text.push_str(t);
                    }
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(heading) = open.pop() {
                    raw_headings.push(heading);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => code_blocks.push(range.clone()),
            _ => {}
        }
    }

    let end = text.len();
    let headings = raw_headings
        .iter()
        .enumerate()
        .map(|(i, (level, span, heading_text))| {
            let next_any = raw_headings.get(i + 1).map_or(end, |(_, s, _)| s.start);
            let next_same_or_higher = raw_headings[i + 1..]
                .iter()
                .find(|(l, _, _)| l <= level)
                .map_or(end, |(_, s, _)| s.start);
            Heading {
                level: *level,
                text: heading_text.trim().to_string(),
                span: span.clone(),
                body: span.end..next_any,
                extent: span.end..next_same_or_higher,
            }
        })
        .collect();

    Document {
        events,
        headings,
        code_blocks,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_extents() {
        let text = "+++\n+++\n# Title\nintro\n## What\nx\n### Scope\n- a\n#### Sub\ny\n## Next\n";
        let doc = parse(text, 8);
        let h: Vec<_> = doc
            .headings
            .iter()
            .map(|h| (h.level, h.text.as_str()))
            .collect();
        assert_eq!(
            h,
            vec![
                (1, "Title"),
                (2, "What"),
                (3, "Scope"),
                (4, "Sub"),
                (2, "Next")
            ]
        );
        let scope = &doc.headings[2];
        assert_eq!(&text[scope.body.clone()], "- a\n");
        assert_eq!(&text[scope.extent.clone()], "- a\n#### Sub\ny\n");
        assert_eq!(&text[doc.headings[0].span.clone()], "# Title\n");
    }

    #[test]
    fn setext_and_code_in_heading() {
        let doc = parse("Title `x`\n===\n", 0);
        assert_eq!(doc.headings[0].text, "Title `x`");
        assert_eq!(doc.headings[0].level, 1);
    }
}
