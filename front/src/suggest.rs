//! "Did you mean ...?" suggestions for misspelled names.

/// Returns the candidate closest to `word`, if one is close enough to be a likely typo.
///
/// Closeness is the normalized Damerau-Levenshtein similarity, compared case-insensitively;
/// a candidate must reach 0.6 to be suggested, so unrelated words never are.
pub fn nearest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let score = strsim::normalized_damerau_levenshtein(&word, &candidate.to_lowercase());
            (candidate, score)
        })
        .filter(|(_, score)| *score >= 0.6)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn suggests_close_typos_only() {
        let keys = ["agent", "test", "timeout", "base", "labels"];
        assert_eq!(nearest("tset", keys), Some("test"));
        assert_eq!(nearest("Agnet", keys), Some("agent"));
        assert_eq!(nearest("lables", keys), Some("labels"));
        assert_eq!(nearest("colour", keys), None);
    }
}
