//! The known-failures list (tests/spec/known-failures.txt) and the verdict against it.
//!
//! One entry per line: `<target> <dir>/<file>.wast:<line>[#<n>] <reason>` for one case, or
//! `<target> <dir>/<file>.wast <reason>` for a whole script with a module the compiler
//! rejects (an unsupported feature): all of that script's failures are accepted, and the
//! reason is the first rejection. `#` starts a comment line. The suite fails on a failure
//! that is not listed, on a listed case that now passes or no longer exists, and on a
//! listed script whose modules all compile now (its remaining failures must then be listed
//! case by case), so the list can only shrink. Entries are judged only for the (target,
//! file) pairs that ran, so a filtered run or a skipped target says nothing about the
//! others. Blessing rewrites the entries of the pairs that ran and keeps the rest.

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
# Spec-suite cases known to fail: `<target> <dir>/<file>.wast:<line>[#<n>] <reason>`, or
# `<target> <dir>/<file>.wast <reason>` for a script with a module the compiler rejects.
# The spec test fails on any failure not listed here and on any listed case that passes
# (or listed script that compiles), so this list only shrinks.
# Regenerate with: AOT_SPEC_BLESS=1 cargo test -p aot-tests --test spec
";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownFailures {
    /// Comment lines before the first entry, kept when the file is rewritten.
    header: String,
    entries: BTreeMap<CaseKey, String>,
    /// Whole scripts, by (target, file).
    scripts: BTreeMap<(String, String), String>,
}

/// A case's result, as the verdict needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    pub key: CaseKey,
    /// None = passed.
    pub failure: Option<String>,
    /// The case is a module that should compile and that the compiler rejected (with an
    /// error, not a panic): what allows its script to be listed as a whole.
    pub rejected: bool,
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
    /// Scripts listed as a whole in which every module compiles now.
    pub scripts_compiling: Vec<(String, String)>,
    /// Failures that are on the list.
    pub known: usize,
}

impl Verdict {
    /// Everything that makes the suite fail.
    pub fn problems(&self) -> usize {
        self.unexpected.len()
            + self.now_passing.len()
            + self.stale.len()
            + self.scripts_compiling.len()
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
            let Some((file, id)) = case.rsplit_once(':') else {
                if !case.ends_with(".wast") {
                    return Err(err("expected `<file>.wast[:<line>]`"));
                }
                let script = (target.to_string(), case.to_string());
                if known.scripts.insert(script, reason.to_string()).is_some() {
                    return Err(err("duplicate entry"));
                }
                continue;
            };
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
        if let Some(k) = known.entries.keys().find(|k| {
            known
                .scripts
                .contains_key(&(k.target.clone(), k.file.clone()))
        }) {
            return Err(format!(
                "known-failures: `{k}` is listed although its whole script is"
            ));
        }
        Ok(known)
    }

    pub fn render(&self) -> String {
        let mut out = if self.header.trim().is_empty() {
            DEFAULT_HEADER.to_string()
        } else {
            self.header.clone()
        };
        let mut lines: Vec<(String, String, Option<crate::convert::CaseId>, &String)> = self
            .entries
            .iter()
            .map(|(k, r)| (k.target.clone(), k.file.clone(), Some(k.id), r))
            .chain(
                self.scripts
                    .iter()
                    .map(|((t, f), r)| (t.clone(), f.clone(), None, r)),
            )
            .collect();
        lines.sort();
        for (target, file, id, reason) in lines {
            let case = match id {
                Some(id) => format!("{target} {file}:{id}"),
                None => format!("{target} {file}"),
            };
            if reason.is_empty() {
                out.push_str(&format!("{case}\n"));
            } else {
                out.push_str(&format!("{case} {reason}\n"));
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.scripts.is_empty()
    }

    /// Whether this case is listed on its own.
    pub fn contains(&self, key: &CaseKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Whether the whole script `file` is listed for `target`.
    pub fn lists_script(&self, target: &str, file: &str) -> bool {
        self.scripts
            .contains_key(&(target.to_string(), file.to_string()))
    }

    /// Whether a failure of this case is expected, by its own entry or its script's.
    pub fn accepts(&self, key: &CaseKey) -> bool {
        self.contains(key) || self.lists_script(&key.target, &key.file)
    }

    /// Compares `results` (every case of the (target, file) pairs in `ran`) with the list.
    pub fn verdict(&self, results: &[CaseResult], ran: &BTreeSet<(String, String)>) -> Verdict {
        let mut v = Verdict::default();
        let mut seen = BTreeSet::new();
        let mut still_rejected = BTreeSet::new();
        for r in results {
            seen.insert(&r.key);
            let script = (r.key.target.clone(), r.key.file.clone());
            if self.scripts.contains_key(&script) {
                if r.failure.is_some() {
                    v.known += 1;
                    if r.rejected {
                        still_rejected.insert(script);
                    }
                }
                continue;
            }
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
        for script in self.scripts.keys() {
            if ran.contains(script) && !still_rejected.contains(script) {
                v.scripts_compiling.push(script.clone());
            }
        }
        v
    }

    /// Replaces the entries of the (target, file) pairs in `ran` with the failures in
    /// `results`: a script with a rejected module becomes one entry with the first
    /// rejection as its reason, any other failure its own entry; reasons are cut to one
    /// short line.
    pub fn bless(&mut self, results: &[CaseResult], ran: &BTreeSet<(String, String)>) {
        self.entries
            .retain(|k, _| !ran.contains(&(k.target.clone(), k.file.clone())));
        self.scripts.retain(|k, _| !ran.contains(k));
        for r in results {
            if let (Some(why), true) = (&r.failure, r.rejected) {
                self.scripts
                    .entry((r.key.target.clone(), r.key.file.clone()))
                    .or_insert_with(|| truncate(&one_line(why), 200));
            }
        }
        for r in results {
            if let Some(why) = &r.failure
                && !self.lists_script(&r.key.target, &r.key.file)
            {
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
            rejected: false,
        }
    }

    /// A module case the compiler rejected.
    fn rejected(k: CaseKey, why: &str) -> CaseResult {
        CaseResult {
            key: k,
            failure: Some(why.to_string()),
            rejected: true,
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
            "x86_64 i32.wast:x",
            "x86_64 i32.wast:3#0",
            "x86_64 simd",
            "a f:1\na f:1",
            "a f.wast why\na f.wast again",
            "a f.wast why\na f.wast:3",
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

    #[test]
    fn whole_scripts_accept_their_failures_until_every_module_compiles() {
        let list = "x86_64 simd/lane.wast compile error: v128\n";
        let k = KnownFailures::parse(list).unwrap();
        assert_eq!(k.render().lines().last(), Some(list.trim_end()));
        assert!(k.lists_script("x86_64", "simd/lane.wast"));
        assert!(!k.lists_script("aarch64", "simd/lane.wast"));
        let ran: BTreeSet<_> = [("x86_64".to_string(), "simd/lane.wast".to_string())].into();
        let lane = |line| key("x86_64", "simd/lane.wast", line, 1);
        let v = k.verdict(
            &[
                rejected(lane(1), "compile error: v128"),
                result(lane(2), Some("the module at line 1 did not compile")),
                result(lane(3), None),
            ],
            &ran,
        );
        assert_eq!((v.known, v.problems()), (2, 0));
        // Every module compiles now: the script must be listed case by case.
        let v = k.verdict(
            &[result(lane(1), None), result(lane(2), Some("wrong"))],
            &ran,
        );
        assert_eq!(
            v.scripts_compiling,
            vec![("x86_64".to_string(), "simd/lane.wast".to_string())]
        );
        assert_eq!(v.problems(), 1);
        // Blessing does exactly that, and lists a script with a rejection as one line.
        let mut k2 = k.clone();
        k2.bless(
            &[result(lane(1), None), result(lane(2), Some("wrong"))],
            &ran,
        );
        assert!(k2.render().ends_with("x86_64 simd/lane.wast:2 wrong\n"));
        k2.bless(
            &[
                result(lane(1), Some("wrong")),
                rejected(lane(5), "compile error: x\ny"),
                rejected(lane(9), "compile error: z"),
            ],
            &ran,
        );
        assert_eq!(k2.len(), 1);
        assert!(
            k2.render()
                .ends_with("x86_64 simd/lane.wast compile error: x y\n")
        );
    }
}
