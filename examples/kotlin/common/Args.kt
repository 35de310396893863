// Command-line arguments for Kotlin/Wasm on WASI: the WASI stdlib's `main(args)` receives
// an empty array, so they are read with `args_sizes_get`/`args_get` directly.

import kotlin.wasm.WasmImport
import kotlin.wasm.unsafe.Pointer
import kotlin.wasm.unsafe.UnsafeWasmMemoryApi
import kotlin.wasm.unsafe.withScopedMemoryAllocator

@OptIn(kotlin.wasm.ExperimentalWasmInterop::class)
@WasmImport("wasi_snapshot_preview1", "args_sizes_get")
private external fun argsSizesGet(argc: Int, bufSize: Int): Int

@OptIn(kotlin.wasm.ExperimentalWasmInterop::class)
@WasmImport("wasi_snapshot_preview1", "args_get")
private external fun argsGet(argv: Int, buf: Int): Int

/** The program's arguments without argv[0]. */
@OptIn(UnsafeWasmMemoryApi::class)
fun programArgs(): List<String> = withScopedMemoryAllocator { alloc ->
    val sizes = alloc.allocate(8)
    check(argsSizesGet(sizes.address.toInt(), sizes.address.toInt() + 4) == 0) { "args_sizes_get failed" }
    val argc = sizes.loadInt()
    val bufSize = Pointer(sizes.address + 4u).loadInt()
    val argv = alloc.allocate(maxOf(argc, 1) * 4)
    val buf = alloc.allocate(maxOf(bufSize, 1))
    check(argsGet(argv.address.toInt(), buf.address.toInt()) == 0) { "args_get failed" }
    (1 until argc).map { i ->
        val start = Pointer(argv.address + (i * 4).toUInt()).loadInt().toUInt()
        var len = 0
        while (Pointer(start + len.toUInt()).loadByte() != 0.toByte()) len++
        ByteArray(len) { Pointer(start + it.toUInt()).loadByte() }.decodeToString()
    }
}
