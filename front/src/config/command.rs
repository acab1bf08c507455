//! Agent command lines with placeholders: `["claude", "-p", "{prompt}"]`.

use std::ffi::OsString;
use std::ops::Range;
use std::path::Path;

/// A value agenthost fills into an agent's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placeholder {
    /// `{prompt}`: the whole prompt (the spec, or the correction) as one argument.
    Prompt,
    /// `{prompt_file}`: the path of a file holding the prompt.
    PromptFile,
    /// `{worktree}`: the task's worktree, which is also the agent's working directory.
    Worktree,
    /// `{task_id}`: the task's id.
    TaskId,
    /// `{home}`: the task's private home directory (the agent's `HOME`), where its CLI
    /// keeps its config, session and history.
    Home,
}

impl Placeholder {
    /// Every placeholder, in the order the docs list them.
    pub const ALL: [Placeholder; 5] = [
        Placeholder::Prompt,
        Placeholder::PromptFile,
        Placeholder::Worktree,
        Placeholder::TaskId,
        Placeholder::Home,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Prompt => "prompt",
            Placeholder::PromptFile => "prompt_file",
            Placeholder::Worktree => "worktree",
            Placeholder::TaskId => "task_id",
            Placeholder::Home => "home",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The values a [`CommandTemplate`] is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct PlaceholderValues<'a> {
    /// Replaces `{prompt}`.
    pub prompt: &'a str,
    /// Replaces `{prompt_file}`.
    pub prompt_file: &'a Path,
    /// Replaces `{worktree}`.
    pub worktree: &'a Path,
    /// Replaces `{task_id}`.
    pub task_id: &'a str,
    /// Replaces `{home}`.
    pub home: &'a Path,
}

/// One piece of an argument: literal text or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A program and its arguments, each of which may contain placeholders such as `{prompt}`.
/// `{{` and `}}` stand for literal braces.
///
/// When neither `{prompt}` nor `{prompt_file}` appears, the prompt goes to the agent's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTemplate {
    args: Vec<String>,
    pieces: Vec<Vec<Piece>>,
}

/// Why an argument is not a valid template, and where in the argument (a byte range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    /// Index of the argument.
    pub(crate) arg: usize,
    /// Byte range within that argument.
    pub(crate) range: Range<usize>,
    /// What is wrong.
    pub(crate) kind: TemplateErrorKind,
}

/// What is wrong with a template argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateErrorKind {
    /// `{name}` where `name` is no placeholder.
    Unknown(String),
    /// A `{` with no `}`, or a lone `}`.
    Unmatched(char),
}

impl CommandTemplate {
    /// Parses each argument; the caller has checked that there is at least one.
    pub(crate) fn parse(args: Vec<String>) -> Result<CommandTemplate, TemplateError> {
        let pieces = args
            .iter()
            .enumerate()
            .map(|(index, arg)| {
                parse_arg(arg).map_err(|(range, kind)| TemplateError {
                    arg: index,
                    range,
                    kind,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CommandTemplate { args, pieces })
    }

    /// The program and arguments as written, placeholders unexpanded.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Whether the prompt goes to stdin, because no argument mentions `{prompt}` or
    /// `{prompt_file}`.
    pub fn prompt_on_stdin(&self) -> bool {
        !self.uses(Placeholder::Prompt) && !self.uses(Placeholder::PromptFile)
    }

    /// Whether any argument contains `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.pieces
            .iter()
            .flatten()
            .any(|piece| *piece == Piece::Value(placeholder))
    }

    /// The command line with every placeholder replaced.
    pub fn render(&self, values: &PlaceholderValues<'_>) -> Vec<OsString> {
        self.pieces
            .iter()
            .map(|pieces| {
                let mut arg = OsString::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => arg.push(text),
                        Piece::Value(Placeholder::Prompt) => arg.push(values.prompt),
                        Piece::Value(Placeholder::PromptFile) => arg.push(values.prompt_file),
                        Piece::Value(Placeholder::Worktree) => arg.push(values.worktree),
                        Piece::Value(Placeholder::TaskId) => arg.push(values.task_id),
                        Piece::Value(Placeholder::Home) => arg.push(values.home),
                    }
                }
                arg
            })
            .collect()
    }
}

/// Splits one argument into pieces.
fn parse_arg(arg: &str) -> Result<Vec<Piece>, (Range<usize>, TemplateErrorKind)> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = arg.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '{' if chars.next_if(|&(_, c)| c == '{').is_some() => text.push('{'),
            '}' if chars.next_if(|&(_, c)| c == '}').is_some() => text.push('}'),
            '{' => {
                let Some(len) = arg[start + 1..].find(['{', '}']) else {
                    return Err((start..start + 1, TemplateErrorKind::Unmatched('{')));
                };
                let end = start + 1 + len;
                if arg[end..].starts_with('{') {
                    return Err((start..start + 1, TemplateErrorKind::Unmatched('{')));
                }
                let name = &arg[start + 1..end];
                let Some(placeholder) = Placeholder::from_name(name) else {
                    let kind = TemplateErrorKind::Unknown(name.to_string());
                    return Err((start..end + 1, kind));
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Value(placeholder));
                while chars.next_if(|&(i, _)| i <= end).is_some() {}
            }
            '}' => return Err((start..start + 1, TemplateErrorKind::Unmatched('}'))),
            c => text.push(c),
        }
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(args: &[&str]) -> Result<CommandTemplate, TemplateError> {
        CommandTemplate::parse(args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn renders_placeholders_and_escapes() {
        let t = template(&[
            "agent",
            "--task={task_id}",
            "{prompt}",
            "{{literal}}",
            "-C{worktree}/x",
            "{prompt_file}",
            "--history={home}/h.md",
        ])
        .unwrap();
        let values = PlaceholderValues {
            prompt: "do it",
            prompt_file: Path::new("/tmp/p.md"),
            worktree: Path::new("/w"),
            task_id: "t1",
            home: Path::new("/state/homes/t1"),
        };
        assert_eq!(
            t.render(&values),
            [
                "agent",
                "--task=t1",
                "do it",
                "{literal}",
                "-C/w/x",
                "/tmp/p.md",
                "--history=/state/homes/t1/h.md"
            ]
            .map(OsString::from)
        );
        assert!(!t.prompt_on_stdin());
    }

    #[test]
    fn without_prompt_placeholders_the_prompt_goes_to_stdin() {
        let t = template(&["agent", "--cwd", "{worktree}", ""]).unwrap();
        assert!(t.prompt_on_stdin());
        assert!(t.uses(Placeholder::Worktree));
        assert_eq!(t.args(), ["agent", "--cwd", "{worktree}", ""]);
    }

    #[test]
    fn reports_unknown_and_unmatched_braces_with_their_position() {
        let err = |args: &[&str]| template(args).unwrap_err();
        assert_eq!(
            err(&["a", "x{promt}y"]),
            TemplateError {
                arg: 1,
                range: 1..8,
                kind: TemplateErrorKind::Unknown("promt".into())
            }
        );
        assert_eq!(
            err(&["echo ${HOME}"]),
            TemplateError {
                arg: 0,
                range: 6..12,
                kind: TemplateErrorKind::Unknown("HOME".into())
            }
        );
        assert_eq!(err(&["{prompt"]).kind, TemplateErrorKind::Unmatched('{'));
        assert_eq!(err(&["{a{b}"]).range, 0..1);
        assert_eq!(err(&["a}"]).kind, TemplateErrorKind::Unmatched('}'));
        assert_eq!(err(&["{}"]).kind, TemplateErrorKind::Unknown(String::new()));
    }
}
