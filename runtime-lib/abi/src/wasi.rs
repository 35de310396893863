//! The WASI preview 1 functions the runtime provides, with their core-Wasm signatures.
//!
//! The compiler accepts an import of `wasi_snapshot_preview1::<name>` exactly when it is
//! listed here with the same signature; the runtime implements each as
//! `aot_wasi_p1_<name>(vmctx, args...) -> ret` and checks at compile time that its
//! function has the listed signature.

/// Module name of WASI preview 1 imports.
pub const WASI_P1_MODULE: &str = "wasi_snapshot_preview1";

/// Expands `$m! { $( $name ( $($arg: $ty),* ) $(-> $ret)? ; )* }` with `$ty` one of `i32`, `i64`.
#[macro_export]
macro_rules! foreach_wasi_p1 {
    ($m:ident) => {
        $m! {
            args_get(argv: i32, argv_buf: i32) -> i32;
            args_sizes_get(argc: i32, argv_buf_size: i32) -> i32;
            environ_get(environ: i32, environ_buf: i32) -> i32;
            environ_sizes_get(count: i32, buf_size: i32) -> i32;
            clock_res_get(id: i32, resolution: i32) -> i32;
            clock_time_get(id: i32, precision: i64, time: i32) -> i32;
            fd_advise(fd: i32, offset: i64, len: i64, advice: i32) -> i32;
            fd_allocate(fd: i32, offset: i64, len: i64) -> i32;
            fd_close(fd: i32) -> i32;
            fd_datasync(fd: i32) -> i32;
            fd_fdstat_get(fd: i32, stat: i32) -> i32;
            fd_fdstat_set_flags(fd: i32, flags: i32) -> i32;
            fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64) -> i32;
            fd_filestat_get(fd: i32, buf: i32) -> i32;
            fd_filestat_set_size(fd: i32, size: i64) -> i32;
            fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, fst_flags: i32) -> i32;
            fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32) -> i32;
            fd_prestat_get(fd: i32, buf: i32) -> i32;
            fd_prestat_dir_name(fd: i32, path: i32, path_len: i32) -> i32;
            fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32) -> i32;
            fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> i32;
            fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32) -> i32;
            fd_renumber(fd: i32, to: i32) -> i32;
            fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32) -> i32;
            fd_sync(fd: i32) -> i32;
            fd_tell(fd: i32, offset: i32) -> i32;
            fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32) -> i32;
            path_create_directory(fd: i32, path: i32, path_len: i32) -> i32;
            path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, buf: i32) -> i32;
            path_filestat_set_times(fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst_flags: i32) -> i32;
            path_link(old_fd: i32, old_flags: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32) -> i32;
            path_open(fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32, rights_base: i64, rights_inheriting: i64, fdflags: i32, opened_fd: i32) -> i32;
            path_readlink(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, bufused: i32) -> i32;
            path_remove_directory(fd: i32, path: i32, path_len: i32) -> i32;
            path_rename(fd: i32, old_path: i32, old_path_len: i32, new_fd: i32, new_path: i32, new_path_len: i32) -> i32;
            path_symlink(old_path: i32, old_path_len: i32, fd: i32, new_path: i32, new_path_len: i32) -> i32;
            path_unlink_file(fd: i32, path: i32, path_len: i32) -> i32;
            poll_oneoff(subs: i32, events: i32, nsubscriptions: i32, nevents: i32) -> i32;
            proc_exit(code: i32);
            proc_raise(sig: i32) -> i32;
            sched_yield() -> i32;
            random_get(buf: i32, buf_len: i32) -> i32;
            sock_accept(fd: i32, flags: i32, result_fd: i32) -> i32;
            sock_recv(fd: i32, ri_data: i32, ri_data_len: i32, ri_flags: i32, ro_datalen: i32, ro_flags: i32) -> i32;
            sock_send(fd: i32, si_data: i32, si_data_len: i32, si_flags: i32, so_datalen: i32) -> i32;
            sock_shutdown(fd: i32, how: i32) -> i32;
        }
    };
}

macro_rules! wasi_signature_table {
    ($( $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// The signature of WASI preview 1 function `name`, if the runtime provides it.
        pub fn wasi_p1_signature(name: &str) -> Option<crate::FuncType> {
            match name {
                $( stringify!($name) => Some(crate::FuncType {
                    params: vec![$( wasi_ty(stringify!($ty)), )*],
                    results: vec![$( wasi_ty(stringify!($ret)), )?],
                }), )*
                _ => None,
            }
        }

        /// Every WASI preview 1 function name the runtime provides.
        pub const WASI_P1_FUNCTIONS: &[&str] = &[$( stringify!($name), )*];
    };
}

fn wasi_ty(t: &str) -> crate::ValType {
    if t == "i64" {
        crate::ValType::I64
    } else {
        crate::ValType::I32
    }
}

crate::foreach_wasi_p1!(wasi_signature_table);

/// Symbol of the runtime's implementation of WASI preview 1 function `name`.
pub fn wasi_p1_symbol(name: &str) -> String {
    format!("aot_wasi_p1_{name}")
}

/// Module name of the wasi-threads import (`wasi::thread-spawn`), as `wasm32-wasip1-threads`
/// programs and wasmtime (46 and earlier, `-S threads`) spell it.
pub const WASI_THREADS_MODULE: &str = "wasi";
/// Name of the wasi-threads spawn function: `(start_arg: i32) -> i32`, the new thread's id
/// (1 and up) or a negative value when no thread could be started.
pub const THREAD_SPAWN: &str = "thread-spawn";
/// Symbol of the runtime's `thread-spawn`: `(vmctx, start_arg: i32) -> i32`.
pub const THREAD_SPAWN_SYMBOL: &str = "aot_wasi_thread_spawn";
/// The export every thread's new instance starts in: `(thread_id: i32, start_arg: i32)`.
pub const THREAD_START_EXPORT: &str = "wasi_thread_start";

/// Whether `module::name` of type `ty` is wasi-threads' spawn function.
pub fn is_thread_spawn(module: &str, name: &str, ty: &crate::FuncType) -> bool {
    module == WASI_THREADS_MODULE
        && name == THREAD_SPAWN
        && ty.params == [crate::ValType::I32]
        && ty.results == [crate::ValType::I32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_all_46_functions_with_signatures() {
        assert_eq!(WASI_P1_FUNCTIONS.len(), 46);
        let fd_write = wasi_p1_signature("fd_write").expect("listed");
        assert_eq!(fd_write.params.len(), 4);
        assert_eq!(fd_write.results, vec![crate::ValType::I32]);
        assert!(
            wasi_p1_signature("proc_exit")
                .expect("listed")
                .results
                .is_empty()
        );
        assert!(wasi_p1_signature("nope").is_none());
    }
}
