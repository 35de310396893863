//! The known-failures list (tests/spec/known-failures.txt) and the verdict against it.
//!
//! One entry per line: `<target> <file>.wast:<line>[#<n>] <reason>`; `#` starts a comment
//! line. The suite fails on a failure that is not listed, and also on a listed case that
//! now passes or no longer exists, so the list can only shrink. Entries are judged only for
//! the (target, file) pairs that ran, so a filtered run or a skipped target says nothing
//! about the others. Blessing rewrites the entries of the pairs that ran and keeps the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::convert::CaseId;
use crate::one_line;

/// Identifies one case of the whole suite.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseKey {
    /// `x86_64` or `aarch64`.
    pub target: String,
    pub file: String,
    pub id: CaseId,
}

impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}:{}", self.target, self.file, self.id)
    }
}

const DEFAULT_HEADER: &str = "\
# Spec-suite cases known to fail: `<target> <file>.wast:<line>[#<n>] <reason>`.
# The spec test fails on any failure not listed here and on any listed case that passes,
# so this list only shrinks. Regenerate with: AOT_SPEC_BLESS=1 cargo test -p aot-tests --test spec
";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownFailures {
    /// Comment lines before the first entry, kept when the file is rewritten.
    header: String,
    entries: BTreeMap<CaseKey, String>,
}

/// A case's result, as the verdict needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    pub key: CaseKey,
    /// None = passed.
    pub failure: Option<String>,
}

/// How the results compare with the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Failures not on the list, with their reason.
    pub unexpected: Vec<(CaseKey, String)>,
    /// Listed cases that passed.
    pub now_passing: Vec<CaseKey>,
    /// Listed cases of a file that ran which has no such case.
    pub stale: Vec<CaseKey>,
    /// Failures that are on the list.
    pub known: usize,
}

impl Verdict {
    /// Everything that makes the suite fail.
    pub fn problems(&self) -> usize {
        self.unexpected.len() + self.now_passing.len() + self.stale.len()
    }
}

impl KnownFailures {
    pub fn parse(text: &str) -> Result<KnownFailures, String> {
        let mut known = KnownFailures::default();
        let mut in_header = true;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                if in_header {
                    known.header.push_str(raw);
                    known.header.push('\n');
                }
                continue;
            }
            in_header = false;
            let err = |what: &str| format!("known-failures line {}: {what}: `{line}`", i + 1);
            let mut parts = line.splitn(3, char::is_whitespace);
            let target = parts.next().ok_or_else(|| err("missing target"))?;
            let case = parts
                .next()
                .ok_or_else(|| err("missing `<file>.wast:<line>`"))?;
            let reason = parts.next().unwrap_or("").trim();
            let (file, id) = case
                .rsplit_once(':')
                .ok_or_else(|| err("expected `<file>.wast:<line>`"))?;
            let id: CaseId = id.parse().map_err(|e: String| err(&e))?;
            let key = CaseKey {
                target: target.to_string(),
                file: file.to_string(),
                id,
            };
            if known.entries.insert(key, reason.to_string()).is_some() {
                return Err(err("duplicate entry"));
            }
        }
        Ok(known)
    }

    pub fn render(&self) -> String {
        let mut out = if self.header.trim().is_empty() {
            DEFAULT_HEADER.to_string()
        } else {
            self.header.clone()
        };
        for (key, reason) in &self.entries {
            if reason.is_empty() {
                out.push_str(&format!("{key}\n"));
            } else {
                out.push_str(&format!("{key} {reason}\n"));
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, key: &CaseKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Compares `results` (every case of the (target, file) pairs in `ran`) with the list.
    pub fn verdict(&self, results: &[CaseResult], ran: &BTreeSet<(String, String)>) -> Verdict {
        let mut v = Verdict::default();
        let mut seen = BTreeSet::new();
        for r in results {
            seen.insert(&r.key);
            match (&r.failure, self.contains(&r.key)) {
                (Some(_), true) => v.known += 1,
                (Some(why), false) => v.unexpected.push((r.key.clone(), why.clone())),
                (None, true) => v.now_passing.push(r.key.clone()),
                (None, false) => {}
            }
        }
        for key in self.entries.keys() {
            if ran.contains(&(key.target.clone(), key.file.clone())) && !seen.contains(key) {
                v.stale.push(key.clone());
            }
        }
        v
    }

    /// Replaces the entries of the (target, file) pairs in `ran` with the failures in
    /// `results`; reasons are cut to one short line.
    pub fn bless(&mut self, results: &[CaseResult], ran: &BTreeSet<(String, String)>) {
        self.entries
            .retain(|k, _| !ran.contains(&(k.target.clone(), k.file.clone())));
        for r in results {
            if let Some(why) = &r.failure {
                self.entries
                    .insert(r.key.clone(), truncate(&one_line(why), 200));
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(target: &str, file: &str, line: u32, nth: u32) -> CaseKey {
        CaseKey {
            target: target.into(),
            file: file.into(),
            id: CaseId { line, nth },
        }
    }

    fn result(k: CaseKey, failure: Option<&str>) -> CaseResult {
        CaseResult {
            key: k,
            failure: failure.map(str::to_string),
        }
    }

    const LIST: &str = "# header\n\nx86_64 i32.wast:10 expected i32 1, got 2\n# a comment\naarch64 left-to-right.wast:181#2 trap\nx86_64 i32.wast:12\n";

    #[test]
    fn parses_and_renders_entries() {
        let k = KnownFailures::parse(LIST).unwrap();
        assert_eq!(k.len(), 3);
        assert!(k.contains(&key("x86_64", "i32.wast", 10, 1)));
        assert!(k.contains(&key("aarch64", "left-to-right.wast", 181, 2)));
        assert!(k.contains(&key("x86_64", "i32.wast", 12, 1)));
        assert_eq!(
            k.render(),
            "# header\n\naarch64 left-to-right.wast:181#2 trap\nx86_64 i32.wast:10 expected i32 1, got 2\nx86_64 i32.wast:12\n"
        );
        assert_eq!(KnownFailures::parse(&k.render()), Ok(k));
        assert!(
            KnownFailures::parse("")
                .unwrap()
                .render()
                .starts_with("# Spec-suite")
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "x86_64",
            "x86_64 i32.wast reason",
            "x86_64 i32.wast:x",
            "x86_64 i32.wast:3#0",
            "a f:1\na f:1",
        ] {
            assert!(KnownFailures::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdict_flags_new_failures_fixed_cases_and_stale_entries() {
        let k = KnownFailures::parse(LIST).unwrap();
        let ran: BTreeSet<_> = [("x86_64".to_string(), "i32.wast".to_string())].into();
        let results = vec![
            result(key("x86_64", "i32.wast", 10, 1), Some("still broken")),
            result(key("x86_64", "i32.wast", 11, 1), Some("new")),
            result(key("x86_64", "i32.wast", 13, 1), None),
        ];
        let v = k.verdict(&results, &ran);
        assert_eq!(v.known, 1);
        assert_eq!(
            v.unexpected,
            vec![(key("x86_64", "i32.wast", 11, 1), "new".to_string())]
        );
        assert!(v.now_passing.is_empty());
        // Line 12 is listed but the file has no such case any more; aarch64 did not run.
        assert_eq!(v.stale, vec![key("x86_64", "i32.wast", 12, 1)]);
        assert_eq!(v.problems(), 2);

        let fixed = vec![
            result(key("x86_64", "i32.wast", 10, 1), None),
            result(key("x86_64", "i32.wast", 12, 1), None),
        ];
        let v = k.verdict(&fixed, &ran);
        assert_eq!(v.now_passing.len(), 2);
        assert_eq!(v.problems(), 2);
    }

    #[test]
    fn bless_replaces_only_what_ran() {
        let mut k = KnownFailures::parse(LIST).unwrap();
        let ran: BTreeSet<_> = [("x86_64".to_string(), "i32.wast".to_string())].into();
        let long = format!("line one\nline two {}", "x".repeat(300));
        k.bless(
            &[
                result(key("x86_64", "i32.wast", 20, 1), Some(&long)),
                result(key("x86_64", "i32.wast", 10, 1), None),
            ],
            &ran,
        );
        let text = k.render();
        assert!(text.contains("aarch64 left-to-right.wast:181#2 trap\n"));
        assert!(!text.contains("i32.wast:10"));
        assert!(!text.contains("i32.wast:12"));
        let entry = text.lines().find(|l| l.contains("i32.wast:20")).unwrap();
        assert!(entry.starts_with("x86_64 i32.wast:20 line one line two xxx"));
        assert!(entry.ends_with("..."));
        assert!(entry.len() < 240);
        let v = KnownFailures::parse(&text)
            .unwrap()
            .verdict(&[result(key("x86_64", "i32.wast", 20, 1), Some("x"))], &ran);
        assert_eq!(v.problems(), 0);
    }
}
