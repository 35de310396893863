# Generates bulk-memory-edges.wast (next to this file) with expectations from a byte-level
# model of memory.copy and memory.fill: `python3 tests/wast/gen-bulk-memory-edges.py tests/wast/bulk-memory-edges.wast`.
# `wasmtime wast -W memory64,threads,shared-memory tests/wast/bulk-memory-edges.wast` agrees.
import sys
PAGE = 65536
out = []
def emit(s): out.append(s)

class Mem:
    def __init__(self, pages, shared=False): self.b = bytearray(pages*PAGE)
    def copy(self, d, s, n):
        if s + n > len(self.b) or d + n > len(self.b): return False
        self.b[d:d+n] = bytes(self.b[s:s+n]); return True
    def fill(self, d, v, n):
        if d + n > len(self.b): return False
        self.b[d:d+n] = bytes([v & 0xff])*n; return True

def i(v, t): return f"({t}.const {v})"

DATA = ''.join('\\%02x' % k for k in range(1, 33))
def module32(memdecl, name, extra=""):
    return f"""(module {name}
  {memdecl}
  (data (i32.const 100) "{DATA}")
  (data (i32.const 200) "{DATA}")
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
{''.join(f'''  (func (export "copy{n}") (param i32 i32) (memory.copy (local.get 0) (local.get 1) (i32.const {n})))
  (func (export "fill{n}") (param i32 i32) (memory.fill (local.get 0) (local.get 1) (i32.const {n})))
''' for n in CONSTS)}  (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
{extra})"""

CONSTS = [0, 1, 2, 3, 4, 5, 7, 8, 13, 15, 16, 17, 31, 32, 33, 48, 64, 100, 127, 128, 129, 200, 255, 256, 257]

class Script:
    def __init__(self, mem, t="i32", mod=None):
        self.m, self.t, self.mod = mem, t, mod
    def inv(self, f, *args):
        m = f" {self.mod}" if self.mod else ""
        return f"(invoke{m} \"{f}\" " + " ".join(args) + ")"
    def op(self, kind, d, s_or_v, n, const=False):
        t = self.t
        if kind == "copy":
            ok = self.m.copy(d, s_or_v, n)
            args = [i(d, t), i(s_or_v, t)]
        else:
            ok = self.m.fill(d, s_or_v, n)
            args = [i(d, t), i(s_or_v, "i32")]
        f = f"{kind}{n}" if const else kind
        if not const: args.append(i(n, t))
        c = self.inv(f, *args)
        emit(f"(assert_return {c})" if ok else f"(assert_trap {c} \"out of bounds memory access\")")
    def check(self, addr):
        # 8 bytes at addr (clamped to memory) read back and compared with the model
        addr = min(addr, len(self.m.b) - 8)
        v = int.from_bytes(self.m.b[addr:addr+8], "little")
        if v >= 1 << 63: v -= 1 << 64
        emit(f"(assert_return {self.inv('load64', i(addr, self.t))} (i64.const {v}))")
    def checks(self, a, n=8):
        # [a - 8, a + n + 8) read back in 8-byte words
        for k in range(a - 8, a + n + 8, 8):
            if k >= 0: self.check(k)

def body32(s, end):
    # every constant length and the variable form, at and one past the end, both operands
    for n in CONSTS:
        for const in (True, False):
            s.op("fill", end - n, 0x40 + n, n, const)          # up to the end exactly
            s.checks(end - n, n)
            s.op("fill", end - n + 1, 0x80 + n, n, const)      # one past: traps, nothing written
            s.checks(end - n, n)
            s.op("copy", end - n, 100, n, const)               # dst up to the end
            s.checks(end - n, n)
            s.op("copy", 300, end - n, n, const)               # src up to the end
            s.checks(300, n)
            s.op("copy", end - n + 1, 200, n, const)           # dst one past
            s.checks(end - n, n)
            s.op("copy", 400, end - n + 1, n, const)           # src one past
            s.checks(400, n)
            # overlapping, both directions, by 1 and by 5
            s.op("copy", 101, 100, n, const); s.checks(100, n + 5)
            s.op("copy", 200, 201, n, const); s.checks(200, n + 5)
            s.op("copy", 105, 100, n, const); s.checks(100, n + 5)
            s.op("copy", 200, 205, n, const); s.checks(200, n + 5)
            s.op("fill", 1000 + n, 0xff - n, n, const); s.checks(1000 + n, n)
    # zero length exactly at the end and one past it
    for const in (True, False):
        s.op("copy", end, end, 0, const); s.op("copy", end + 1, 0, 0, const)
        s.op("copy", 0, end + 1, 0, const); s.op("fill", end, 0, 0, const)
        s.op("fill", end + 1, 0, 0, const)

emit(""";; memory.copy and memory.fill at the edges of aot's inline bounds checks
;; (compiler/src/translate/bulk_memory.rs): every constant length around the inline limit and
;; the variable form, exactly up to the end of memory, one byte past it (a trap that writes
;; nothing: the bytes are read back), zero length at and past the end, overlapping copies in
;; both directions, after memory.grow, on a memory other than the first, on an imported and
;; a shared memory, and on a 64-bit memory with lengths and addresses that wrap.
;; Generated by gen-bulk-memory-edges.py, its expectations from a byte model of memory.
""")
# 1. a plain 32-bit memory that grows
m = Mem(1); m.b[100:132] = bytes(range(1, 33)); m.b[200:232] = bytes(range(1, 33)); s = Script(m)
emit(module32("(memory 1 3)", "$plain")); body32(s, PAGE)
emit(f"(assert_return (invoke \"grow\" (i32.const 1)) (i32.const 1))")
m.b += bytearray(PAGE); body32(s, 2 * PAGE)
# address at 2^32 - 1 with length 2^32 - 1: no wrap in 64 bits
s.op("fill", 0xffffffff, 1, 0xffffffff); s.op("copy", 0xffffffff, 0, 0xffffffff); s.op("copy", 0, 0xffffffff, 1)
s.op("fill", 0xffffffff, 1, 0); s.op("copy", 0, 0, 0xffffffff)

# 2. memory index 1 (a second memory) and a copy between memories (the builtin)
emit("""(module $two
  (memory $a 1)
  (memory $b 2)
  (data (memory $b) (i32.const 100) "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10")
  (func (export "copy") (param i32 i32 i32) (memory.copy $b $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy8") (param i32 i32) (memory.copy $b $b (local.get 0) (local.get 1) (i32.const 8)))
  (func (export "fill") (param i32 i32 i32) (memory.fill $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill8") (param i32 i32) (memory.fill $b (local.get 0) (local.get 1) (i32.const 8)))
  (func (export "to_a") (param i32 i32 i32) (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load64") (param i32) (result i64) (i64.load $b (local.get 0)))
  (func (export "load64a") (param i32) (result i64) (i64.load $a (local.get 0))))""")
m = Mem(2); m.b[100:116] = bytes(range(1, 17)); s = Script(m)
for const in (True, False):
    s.op("copy", 2*PAGE - 8, 100, 8, const); s.checks(2*PAGE - 8, 8)
    s.op("copy", 2*PAGE - 7, 100, 8, const); s.checks(2*PAGE - 8, 8)
    s.op("fill", 2*PAGE - 8, 0x11, 8, const); s.checks(2*PAGE - 8, 8)
    s.op("fill", 2*PAGE - 7, 0x22, 8, const); s.checks(2*PAGE - 8, 8)
    s.op("copy", 101, 100, 8, const); s.checks(100, 13)
emit('(assert_return (invoke "to_a" (i32.const 65528) (i32.const 100) (i32.const 8)))')
emit(f'(assert_return (invoke "load64a" (i32.const 65528)) (i64.const {int.from_bytes(m.b[100:108], "little")}))')
emit('(assert_trap (invoke "to_a" (i32.const 65529) (i32.const 100) (i32.const 8)) "out of bounds memory access")')
emit('(assert_trap (invoke "to_a" (i32.const 0) (i32.const 131065) (i32.const 8)) "out of bounds memory access")')

# 3. an imported memory and a shared memory
emit('(module $exporter (memory (export "mem") 1))')
emit('(register "exporter" $exporter)')
m = Mem(1); m.b[100:132] = bytes(range(1, 33)); m.b[200:232] = bytes(range(1, 33))
emit(module32('(import "exporter" "mem" (memory 1))', "$importer")); s = Script(m)
for n in (8, 13, 40):
    for const in (True, False):
        if const and n not in CONSTS: continue
        s.op("fill", PAGE - n, 0x33, n, const); s.op("fill", PAGE - n + 1, 0x44, n, const); s.checks(PAGE - n, n)
        s.op("copy", 101, 100, n, const); s.checks(100, n + 5)
        s.op("copy", PAGE - n + 1, 100, n, const); s.checks(PAGE - n, n)
m = Mem(1); m.b[100:132] = bytes(range(1, 33)); m.b[200:232] = bytes(range(1, 33))
emit(module32("(memory 1 1 shared)", "$shared")); s = Script(m)
for n in (4, 17, 32, 33):
    for const in (True, False):
        s.op("fill", PAGE - n, 0x55, n, const); s.op("fill", PAGE - n + 1, 0x66, n, const); s.checks(PAGE - n, n)
        s.op("copy", 200, 201, n, const); s.checks(200, n + 5)
        s.op("copy", 400, PAGE - n + 1, n, const); s.checks(400, n)

# 4. a 64-bit memory: ends that wrap past 2^64 and addresses past 2^32
emit("""(module $m64
  (memory i64 1)
  (data (i64.const 100) "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10")
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy8") (param i64 i64) (memory.copy (local.get 0) (local.get 1) (i64.const 8)))
  (func (export "fill8") (param i64 i32) (memory.fill (local.get 0) (local.get 1) (i64.const 8)))
  (func (export "copy0") (param i64 i64) (memory.copy (local.get 0) (local.get 1) (i64.const 0)))
  (func (export "fill0") (param i64 i32) (memory.fill (local.get 0) (local.get 1) (i64.const 0)))
  (func (export "load64") (param i64) (result i64) (i64.load (local.get 0))))""")
m = Mem(1); m.b[100:116] = bytes(range(1, 17)); s = Script(m, "i64")
M = 1 << 64
def w(v): return v - M if v >= 1 << 63 else v   # as a signed i64 literal
for const in (True, False):
    s.op("fill", PAGE - 8, 0x77, 8, const); s.checks(PAGE - 8)
    s.op("copy", PAGE - 8, 100, 8, const); s.checks(PAGE - 8)
    s.op("copy", 101, 100, 8, const); s.checks(100, 13)
for (d, sv, n, kind) in [
    (M - 4, 0x12, 8, "fill"),        # dst + 8 wraps to 4
    (M - 1, 0x12, 2, "fill"),
    (1, 0x12, M - 1, "fill"),         # huge length
    (0, 0x12, M - 1, "fill"),
    (8, 0x12, M - 8, "fill"),         # ends exactly at 2^64 (0 after the wrap)
    (1 << 32, 0x12, 1, "fill"),
    (M - 4, 100, 8, "copy"),
    (100, M - 4, 8, "copy"),
    (0, M - 16, 32, "copy"),          # src + len wraps to 16
    (16, 0, M - 1, "copy"),
    (1 << 32, 0, 8, "copy"),
]:
    consts = (True, False) if n == 8 else (False,)
    for const in consts:
        f = f"{kind}8" if const else kind
        args = [f"(i64.const {w(d)})", f"(i32.const {sv})" if kind == "fill" else f"(i64.const {w(sv)})"]
        if not const: args.append(f"(i64.const {w(n)})")
        emit(f"(assert_trap (invoke \"{f}\" {' '.join(args)}) \"out of bounds memory access\")")
s.checks(100); s.checks(PAGE - 8)
for const in (True, False):
    s.op("copy", PAGE, PAGE, 0, const); s.op("copy", PAGE + 1, 0, 0, const); s.op("copy", 0, PAGE + 1, 0, const)
    s.op("fill", PAGE, 0, 0, const); s.op("fill", PAGE + 1, 0, 0, const)
for (d, sv) in [(M - 1, 0), (0, M - 1), (1 << 32, 0)]:
    emit(f"(assert_trap (invoke \"copy0\" (i64.const {w(d)}) (i64.const {w(sv)})) \"out of bounds memory access\")")
    emit(f"(assert_trap (invoke \"copy\" (i64.const {w(d)}) (i64.const {w(sv)}) (i64.const 0)) \"out of bounds memory access\")")
emit(f"(assert_trap (invoke \"fill0\" (i64.const -1) (i32.const 0)) \"out of bounds memory access\")")

# de-duplicate adjacent identical checks to keep the file readable
res = []
for line in out:
    if res and res[-1] == line and line.startswith("(assert_return (invoke") and "load64" in line:
        continue
    res.append(line)
open(sys.argv[1], "w").write("\n".join(res) + "\n")
