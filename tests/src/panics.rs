//! Runs a closure and turns a panic into a one-line failure reason.
//!
//! A compiler panic on a spec module is a test failure of that command, not the end of the
//! suite. While [`catch`] runs, the panic hook records the message and location instead of
//! printing a report in the middle of the suite's output; panics elsewhere keep the
//! default report.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(|c| c.get()) {
                let msg = payload_message(info.payload());
                let msg = match info.location() {
                    Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
                    None => msg,
                };
                LAST.with(|l| *l.borrow_mut() = Some(msg));
            } else {
                default(info);
            }
        }));
    });
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `f`; a panic becomes `Err("panicked: <message> (at <file>:<line>)")`, one line.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was = CAPTURING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.with(|c| c.set(was));
    result.map_err(|payload| {
        let msg = LAST
            .with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| payload_message(&*payload));
        format!("panicked: {}", crate::one_line(&msg))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_one_line_errors() {
        assert_eq!(catch(|| 7), Ok(7));
        let e = catch(|| -> u32 { panic!("bad\nthing {}", 1) }).unwrap_err();
        assert!(e.starts_with("panicked: bad thing 1 (at "), "{e}");
        assert!(e.contains("panics.rs:"), "{e}");
        assert!(!e.contains('\n'));
        // Nested use restores the outer state.
        let outer = catch(|| catch(|| -> u8 { panic!("inner") }).unwrap_err());
        assert!(outer.is_ok_and(|e| e.contains("inner")));
    }
}
