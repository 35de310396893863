//! The `wasi:cli` host: the environment a program is given and how it exits. (Its
//! arguments are stored as given; its standard streams are in [`super::io`].)

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The guest environment, as `wasmtime run` builds it: with `inherit`, every variable of
/// `process_env` in order; then each `--env` grant in order, `NAME=VALUE` as given and a
/// bare `NAME` copied from `process_env` when set there (skipped otherwise). Later entries
/// do not replace earlier ones with the same name: both are passed, as wasmtime does.
pub fn environment(
    inherit: bool,
    grants: &[(String, Option<String>)],
    process_env: &[(OsString, OsString)],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if inherit {
        env.extend(
            process_env
                .iter()
                .map(|(k, v)| (k.clone().into_vec(), v.clone().into_vec())),
        );
    }
    for (name, value) in grants {
        let value = match value {
            Some(v) => v.as_bytes().to_vec(),
            None => match process_env
                .iter()
                .find(|(k, _)| k.as_bytes() == name.as_bytes())
            {
                Some((_, v)) => v.as_bytes().to_vec(),
                None => continue,
            },
        };
        env.push((name.as_bytes().to_vec(), value));
    }
    env
}

/// The running process's environment.
pub fn process_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

/// Ends the process with `code`. Nothing of WASI's is buffered; std's own stdout buffer
/// (used by nothing the guest reaches) is flushed for completeness.
pub fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    crate::gc::print_stats_if_asked(crate::store::store().gc().stats());
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn text(env: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<String> {
        env.into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    #[test]
    fn grants_follow_inherited_variables_like_wasmtime() {
        // `FOO=1 BAR=2 wasmtime run -S inherit-env --env FOO=3 --env BAZ --env BAR` gives
        // exactly FOO=1 BAR=2 FOO=3 BAR=2.
        let process = os(&[("FOO", "1"), ("BAR", "2")]);
        let grants = vec![
            ("FOO".to_string(), Some("3".to_string())),
            ("BAZ".to_string(), None),
            ("BAR".to_string(), None),
        ];
        assert_eq!(
            text(environment(true, &grants, &process)),
            ["FOO=1", "BAR=2", "FOO=3", "BAR=2"]
        );
        assert_eq!(
            text(environment(false, &grants, &process)),
            ["FOO=3", "BAR=2"]
        );
        assert!(environment(false, &[], &process).is_empty());
    }
}
