//! Reads what the spec-script executable printed and decides the cases sent to it.
//!
//! The runtime's driver prints one line per script command, in order: `ok <line>` or
//! `FAIL <line>: <why>`, then `summary: <passed> passed, <failed> failed`. Other lines
//! (a module's own prints) are ignored. Results are matched to commands by line, in
//! order, since a line can hold two commands. A command with no result line (the process
//! crashed or timed out) fails with the caller's reason.

use std::collections::{HashMap, VecDeque};

use crate::convert::{Converted, Outcome};
use crate::one_line;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineResult {
    Ok,
    Fail(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// `(line, result)` in the order printed.
    pub results: Vec<(u32, LineResult)>,
    /// `(passed, failed)` from the summary line, if the driver got that far.
    pub summary: Option<(u64, u64)>,
}

pub fn parse_output(stdout: &str) -> RunOutput {
    let mut out = RunOutput::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("ok ") {
            if let Ok(n) = rest.trim().parse() {
                out.results.push((n, LineResult::Ok));
            }
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            if let Some((n, why)) = rest.split_once(':')
                && let Ok(n) = n.trim().parse()
            {
                out.results.push((n, LineResult::Fail(one_line(why))));
            }
        } else if let Some(rest) = line.strip_prefix("summary: ") {
            out.summary = parse_summary(rest);
        }
    }
    out
}

fn parse_summary(s: &str) -> Option<(u64, u64)> {
    let (p, f) = s.split_once(',')?;
    let passed = p.trim().strip_suffix("passed")?.trim().parse().ok()?;
    let failed = f.trim().strip_suffix("failed")?.trim().parse().ok()?;
    Some((passed, failed))
}

/// Decides every case that went to the runtime from `output`; a command without a result
/// fails with `no_result`. Returns protocol errors: results for commands that were not
/// sent, and a summary that disagrees with the result lines.
pub fn apply(conv: &mut Converted, output: &RunOutput, no_result: &str) -> Vec<String> {
    let mut by_line: HashMap<u32, VecDeque<&LineResult>> = HashMap::new();
    for (line, r) in &output.results {
        by_line.entry(*line).or_default().push_back(r);
    }
    for ((line, _), &case) in conv.script.commands.iter().zip(&conv.script_cases) {
        let outcome = match by_line.get_mut(line).and_then(|q| q.pop_front()) {
            Some(LineResult::Ok) => Outcome::Pass,
            Some(LineResult::Fail(why)) => Outcome::Fail(why.clone()),
            None => Outcome::Fail(no_result.to_string()),
        };
        conv.cases[case].outcome = outcome;
    }
    let mut errors = Vec::new();
    let mut extra: Vec<u32> = by_line
        .iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(l, _)| *l)
        .collect();
    extra.sort_unstable();
    for line in extra {
        errors.push(format!(
            "the runtime printed a result for line {line}, which has no (further) command"
        ));
    }
    if let Some((passed, failed)) = output.summary {
        let ok = output
            .results
            .iter()
            .filter(|(_, r)| *r == LineResult::Ok)
            .count() as u64;
        let bad = output.results.len() as u64 - ok;
        if (passed, failed) != (ok, bad) {
            errors.push(format!(
                "the runtime's summary says {passed} passed, {failed} failed, but it printed {ok} ok and {bad} FAIL lines"
            ));
        }
    }
    errors
}

/// Fails every case that went to the runtime with `why` (the program could not be built).
pub fn fail_runtime_cases(conv: &mut Converted, why: &str) {
    for &case in &conv.script_cases {
        conv.cases[case].outcome = Outcome::Fail(why.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{Case, CaseId};
    use aot_abi::script::{Action, Command};

    fn conv_with_lines(lines: &[u32]) -> Converted {
        let mut conv = Converted::default();
        let mut nth: HashMap<u32, u32> = HashMap::new();
        for &line in lines {
            let n = nth.entry(line).or_insert(0);
            *n += 1;
            let action = Action::Invoke {
                instance: None,
                field: "f".into(),
                args: vec![],
            };
            conv.script.commands.push((line, Command::Action(action)));
            conv.script_cases.push(conv.cases.len());
            conv.cases.push(Case {
                id: CaseId { line, nth: *n },
                kind: "invoke",
                outcome: Outcome::Runtime,
                rejected: false,
            });
        }
        conv
    }

    #[test]
    fn parses_result_lines_and_ignores_others() {
        let out = parse_output(
            "ok 3\nhello from print_i32\nFAIL 7: expected i32 1, got i32 2\nok x\nFAIL 9:\nsummary: 1 passed, 2 failed\n",
        );
        assert_eq!(
            out.results,
            vec![
                (3, LineResult::Ok),
                (7, LineResult::Fail("expected i32 1, got i32 2".into())),
                (9, LineResult::Fail(String::new())),
            ]
        );
        assert_eq!(out.summary, Some((1, 2)));
        assert_eq!(parse_output("summary: garbage").summary, None);
    }

    #[test]
    fn matches_results_by_line_in_order_and_reports_missing_ones() {
        let mut conv = conv_with_lines(&[1, 2, 2, 5]);
        let out = parse_output("ok 1\nFAIL 2: first\nok 2\n");
        let errors = apply(&mut conv, &out, "no result (exit status: signal 11)");
        assert!(errors.is_empty(), "{errors:?}");
        let outcomes: Vec<_> = conv.cases.iter().map(|c| c.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            vec![
                Outcome::Pass,
                Outcome::Fail("first".into()),
                Outcome::Pass,
                Outcome::Fail("no result (exit status: signal 11)".into()),
            ]
        );
    }

    #[test]
    fn extra_results_and_wrong_summaries_are_protocol_errors() {
        let mut conv = conv_with_lines(&[1]);
        let out = parse_output("ok 1\nok 1\nok 4\nsummary: 3 passed, 1 failed\n");
        let errors = apply(&mut conv, &out, "none");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("line 1,"));
        assert!(errors[1].contains("line 4,"));
        assert!(errors[2].contains("summary"));
        assert_eq!(conv.cases[0].outcome, Outcome::Pass);
    }

    #[test]
    fn unbuilt_programs_fail_only_runtime_cases() {
        let mut conv = conv_with_lines(&[1, 2]);
        conv.cases.push(Case {
            id: CaseId { line: 3, nth: 1 },
            kind: "assert_invalid",
            outcome: Outcome::Pass,
            rejected: false,
        });
        fail_runtime_cases(&mut conv, "link failed: x");
        assert_eq!(
            conv.cases[1].outcome,
            Outcome::Fail("link failed: x".into())
        );
        assert_eq!(conv.cases[2].outcome, Outcome::Pass);
    }
}
