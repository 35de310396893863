//! The spec-suite harness of `aot` (run by `tests/tests/spec.rs`).
//!
//! Data flow per `.wast` file and target: [`suite`] (which scripts, which are skipped) →
//! [`convert`] (parse with `wast`, compile every module, decide assert_invalid and
//! assert_malformed, build the runtime [`aot_abi::script::Script`]) → [`runner`] (emit the
//! program object, link, run the executable natively or under qemu) → [`results`] (read
//! its `ok`/`FAIL` lines) → [`known`] (compare with tests/spec/known-failures.txt) → report.
//! Only [`runner`] calls the compiler; the other modules are tested on their own.
//! [`tools`] finds the external programs that all end-to-end tests run, and [`process`]
//! runs them.

pub mod convert;
pub mod known;
pub mod panics;
pub mod process;
pub mod results;
pub mod runner;
pub mod suite;
pub mod tools;

/// `s` on one line: whitespace runs (newlines included) become one space, and very long
/// texts are cut, so that a reason fits a report line and a known-failures entry.
pub fn one_line(s: &str) -> String {
    const MAX: usize = 400;
    let mut out = String::new();
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX {
            let mut end = MAX;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push_str("...");
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(super::one_line("  a\n\tb  c \n"), "a b c");
        let long = super::one_line(&"é".repeat(1000));
        assert!(long.ends_with("...") && long.len() <= 403);
    }
}
