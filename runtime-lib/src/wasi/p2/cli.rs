//! `wasi:cli` 0.2: environment, exit, the standard streams and the terminals.

use std::sync::Arc;

use super::io::{StdinSource, StdioSink};
use super::{Call, Object, R, le32, p2_fns, rt};
use crate::wasi::io::Stdio;

/// `option<own<terminal-*>>` at `retptr`: Some when the stream is a terminal.
fn terminal(cx: &Call, retptr: i32, stream: Stdio, ty: crate::resources::ResourceType) -> R<()> {
    if !stream.is_terminal() {
        return cx.ret(retptr, 4, &[(0, &[0])]);
    }
    let object = if ty == rt::TERMINAL_INPUT {
        Object::TerminalInput
    } else {
        Object::TerminalOutput
    };
    let h = cx.push(ty, object)?;
    cx.ret(retptr, 4, &[(0, &[1]), (4, &le32(h as u32))])
}

p2_fns! {
    fn aot_wasi_p2_cli__environment__get_environment(cx, retptr: i32) {
        let n = u32::try_from(cx.wasi.env.len()).map_err(|_| cx.trap("list too long"))?;
        let array = cx.alloc(n.checked_mul(16).ok_or_else(|| cx.trap("list too long"))?, 4)?;
        for (i, (k, v)) in cx.wasi.env.iter().enumerate() {
            let (kp, kl) = cx.lower_bytes(&String::from_utf8_lossy(k).into_owned().into_bytes())?;
            let (vp, vl) = cx.lower_bytes(&String::from_utf8_lossy(v).into_owned().into_bytes())?;
            let at = array as i32 + 16 * i as i32;
            cx.ret(at, 4, &[(0, &le32(kp)), (4, &le32(kl)), (8, &le32(vp)), (12, &le32(vl))])?;
        }
        cx.ret(retptr, 4, &[(0, &le32(array)), (4, &le32(n))])
    }

    fn aot_wasi_p2_cli__environment__get_arguments(cx, retptr: i32) {
        let args: Vec<Vec<u8>> = cx
            .wasi
            .args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned().into_bytes())
            .collect();
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let (p, n) = cx.lower_strings(&refs)?;
        cx.ret(retptr, 4, &[(0, &le32(p)), (4, &le32(n))])
    }

    fn aot_wasi_p2_cli__environment__initial_cwd(cx, retptr: i32) {
        // wasmtime run gives no initial directory.
        cx.ret(retptr, 4, &[(0, &[0])])
    }

    fn aot_wasi_p2_cli__exit__exit(_cx, status: i32) {
        crate::wasi::cli::exit(if status == 0 { 0 } else { 1 })
    }

    fn aot_wasi_p2_cli__exit__exit_with_code(_cx, code: i32) {
        crate::wasi::cli::exit(code & 0xff)
    }

    fn aot_wasi_p2_cli__stdin__get_stdin(cx) -> i32 {
        cx.push(rt::INPUT_STREAM, Object::InputStream(Arc::new(StdinSource)))
    }

    fn aot_wasi_p2_cli__stdout__get_stdout(cx) -> i32 {
        cx.push(rt::OUTPUT_STREAM, Object::OutputStream(Arc::new(StdioSink(Stdio::Stdout))))
    }

    fn aot_wasi_p2_cli__stderr__get_stderr(cx) -> i32 {
        cx.push(rt::OUTPUT_STREAM, Object::OutputStream(Arc::new(StdioSink(Stdio::Stderr))))
    }

    fn aot_wasi_p2_cli__terminal_input__resource_drop__terminal_input(cx, handle: i32) {
        cx.drop_handle(handle, rt::TERMINAL_INPUT)
    }

    fn aot_wasi_p2_cli__terminal_output__resource_drop__terminal_output(cx, handle: i32) {
        cx.drop_handle(handle, rt::TERMINAL_OUTPUT)
    }

    fn aot_wasi_p2_cli__terminal_stdin__get_terminal_stdin(cx, retptr: i32) {
        terminal(&cx, retptr, Stdio::Stdin, rt::TERMINAL_INPUT)
    }

    fn aot_wasi_p2_cli__terminal_stdout__get_terminal_stdout(cx, retptr: i32) {
        terminal(&cx, retptr, Stdio::Stdout, rt::TERMINAL_OUTPUT)
    }

    fn aot_wasi_p2_cli__terminal_stderr__get_terminal_stderr(cx, retptr: i32) {
        terminal(&cx, retptr, Stdio::Stderr, rt::TERMINAL_OUTPUT)
    }
}
