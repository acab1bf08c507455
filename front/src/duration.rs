//! Durations as people write them (`"90s"`, `"30m"`, `"1h 30m"`, `"2hours"`), the same
//! syntax in spec front matter and in configuration. Parsing is humantime's.

use std::time::Duration;

/// Parses a time limit. Zero is refused: every duration agenthost reads is a limit, and a
/// limit of nothing is a mistake.
///
/// On failure returns why, as a phrase that completes "invalid duration `x`: ...".
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("it is empty".to_string());
    }
    match humantime::parse_duration(trimmed) {
        Ok(duration) if duration.is_zero() => Err("it must be longer than zero".to_string()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}

/// Formats a duration the way `parse` reads it (`"1h 30m"`).
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("10 minutes"), Ok(Duration::from_secs(600)));
        assert_eq!(format(Duration::from_secs(5400)), "1h 30m");
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(parse(""), Err("it is empty".to_string()));
        assert_eq!(parse("0s"), Err("it must be longer than zero".to_string()));
        assert_eq!(parse("soon"), Err("expected number at 0".to_string()));
        assert_eq!(
            parse("90"),
            Err("time unit needed, for example 90sec or 90ms".to_string())
        );
    }
}
