# Generates bswap-idioms.wast (next to this file): byte swaps written out in shifts, rotates,
# masks and ors, as LLVM and clang expand them for Wasm, which aot turns into one `bswap`
# (compiler/src/translate/bswap.rs), and near misses (a wrong mask or amount, two different
# values, overlapping terms, seeded one-constant mutants) that must keep their own meaning.
# Expectations come from a model of the Wasm operators here, on fixed and random inputs:
# `python3 tests/wast/gen-bswap-idioms.py tests/wast/bswap-idioms.wast`.
# `wasmtime wast tests/wast/bswap-idioms.wast` agrees.
import random
import sys

out = []
def emit(s): out.append(s)

WIDTH = {"i32": 32, "i64": 64}

def ev(e, ty, v):
    """Value of expression e (of Wasm type ty) when the base local holds v."""
    w = WIDTH[ty]
    m = (1 << w) - 1
    k = e[0]
    if k == "v": return v & m
    if k == "c": return e[1] & m
    if k == "ext16s":
        lo = ev(e[1], ty, v) & 0xffff
        return (lo - 0x10000 if lo & 0x8000 else lo) & m
    if k == "wrap": return ev(e[1], "i64", v) & 0xffffffff
    if k == "extu": return ev(e[1], "i32", v)
    a, b = ev(e[1], ty, v), ev(e[2], ty, v)
    if k == "and": return a & b
    if k == "or": return a | b
    if k == "xor": return a ^ b
    if k == "add": return (a + b) & m
    s = b % w
    if k == "shl": return (a << s) & m
    if k == "shr_u": return a >> s
    if k == "rotl": return ((a << s) | (a >> (w - s))) & m
    if k == "rotr": return ((a >> s) | (a << (w - s))) & m
    raise ValueError(k)

def wat(e, ty):
    k = e[0]
    if k == "v": return "(local.get $v)"
    if k == "c": return f"({ty}.const {e[1]:#x})"
    if k == "ext16s": return f"({ty}.extend16_s {wat(e[1], ty)})"
    if k == "wrap": return f"(i32.wrap_i64 {wat(e[1], 'i64')})"
    if k == "extu": return f"(i64.extend_i32_u {wat(e[1], 'i32')})"
    return f"({ty}.{k} {wat(e[1], ty)} {wat(e[2], ty)})"

def C(c): return ("c", c)
V = ("v",)
def op(k):
    return lambda a, b: (k, a, b)
AND, OR, XOR, ADD = op("and"), op("or"), op("xor"), op("add")
SHL, SHR, ROTL, ROTR = op("shl"), op("shr_u"), op("rotl"), op("rotr")

# How the base local $v is set from the parameter $x (an i32 for 32-bit functions and the
# extension, an i64 otherwise; a load reads $x stored at address 0): (Wasm, its model of x).
BASES = {
    "param": ("(local.get $x)", lambda x, w: x),
    "load16u": ("(i32.load16_u (i32.const 0))",
                lambda x, w: x & 0xffff),
    "load8u": ("(i32.load8_u (i32.const 0))",
               lambda x, w: x & 0xff),
    "shl8": ("(i32.shl (local.get $x) (i32.const 8))", lambda x, w: (x << 8) & 0xffffffff),
    "load32u": ("(i64.load32_u (i32.const 0))",
                lambda x, w: x & 0xffffffff),
    "extu": ("(i64.extend_i32_u (local.get $x))", lambda x, w: x & 0xffffffff),
}

M32 = 0x00ff00ff
# The 32-bit forms: LLVM's rotate form (Rust's swap_bytes, from_be_bytes), clang's shift form
# (C's __builtin_bswap32), and rearrangements of them that still swap.
ROT = OR(ROTR(AND(V, C(M32)), C(8)), AND(ROTR(V, C(24)), C(M32)))
SHIFT = OR(OR(SHL(V, C(24)), SHL(AND(V, C(0xff00)), C(8))),
           OR(AND(SHR(V, C(8)), C(0xff00)), SHR(V, C(24))))
def swap32(v): return int.from_bytes((v & 0xffffffff).to_bytes(4, "little"), "big")
def swap64(v): return int.from_bytes((v & (2**64 - 1)).to_bytes(8, "little"), "big")

FUNCS = [
    # (name, result type, base, expression, whether it is a byte swap of the base: a
    # check of the model itself, so that a near miss really is one)
    ("rot", "i32", "param", ROT, "swap32"),
    ("rot_commuted", "i32", "param",
     OR(AND(C(M32), ROTR(V, C(24))), ROTR(AND(C(M32), V), C(8))), "swap32"),
    ("rotl", "i32", "param", OR(ROTL(AND(V, C(M32)), C(24)), AND(ROTL(V, C(8)), C(M32))), "swap32"),
    ("rot_wide_amounts", "i32", "param",
     OR(ROTR(AND(V, C(M32)), C(40)), AND(ROTL(V, C(-24)), C(M32))), "swap32"),
    # add and xor of terms with no bit in common are ors: recognised inside the expression,
    # computed as written at its root
    ("add_xor_inside", "i32", "param",
     OR(ADD(SHL(V, C(24)), SHL(AND(V, C(0xff00)), C(8))), XOR(AND(SHR(V, C(8)), C(0xff00)), SHR(V, C(24)))),
     "swap32"),
    ("rot_add", "i32", "param", ADD(ROTR(AND(V, C(M32)), C(8)), AND(ROTR(V, C(24)), C(M32))), "swap32"),
    ("rot_xor", "i32", "param", XOR(AND(ROTR(V, C(24)), C(M32)), ROTR(AND(V, C(M32)), C(8))), "swap32"),
    ("rot_load", "i32", "load16u", ROT, "swap32"),
    ("rot_of_shifted", "i32", "shl8", ROT, "swap32"),
    ("shift", "i32", "param", SHIFT, "swap32"),
    ("shift_chain", "i32", "param",
     OR(SHR(V, C(24)), OR(AND(SHR(V, C(8)), C(0xff00)), OR(SHL(AND(V, C(0xff00)), C(8)), SHL(V, C(24))))),
     "swap32"),
    ("shift_masks_after", "i32", "param",
     OR(OR(SHL(V, C(24)), AND(SHL(V, C(8)), C(0xff0000))), OR(AND(SHR(V, C(8)), C(0xff00)), SHR(V, C(24)))),
     "swap32"),
    ("halves_then_rotate", "i32", "param",
     ROTL(OR(SHL(AND(V, C(M32)), C(8)), AND(SHR(V, C(8)), C(M32))), C(16)), "swap32"),
    ("swap16_load", "i32", "load16u", AND(OR(SHL(V, C(8)), SHR(V, C(8))), C(0xffff)), "swap16"),
    ("swap16_load_noand", "i32", "load16u", OR(SHL(AND(V, C(0xff)), C(8)), SHR(V, C(8))), "swap16"),
    ("swap16_ext", "i32", "param", ("ext16s", OR(SHL(V, C(8)), SHR(AND(V, C(0xff00)), C(8)))), "swap16s"),
    ("swap16_high", "i32", "param", SHR(SHIFT, C(16)), "swap16"),
    # near misses: not byte swaps, computed as written
    ("miss_mask", "i32", "param", OR(ROTR(AND(V, C(0x00ff00fe)), C(8)), AND(ROTR(V, C(24)), C(M32))), None),
    ("miss_mask_inverted", "i32", "param",
     OR(ROTR(AND(V, C(0xff00ff00)), C(8)), AND(ROTR(V, C(24)), C(0xff00ff00))), None),
    ("miss_amount", "i32", "param", OR(ROTR(AND(V, C(M32)), C(8)), AND(ROTR(V, C(16)), C(M32))), None),
    ("miss_amount_same", "i32", "param", OR(ROTR(AND(V, C(M32)), C(8)), AND(ROTR(V, C(8)), C(M32))), None),
    ("miss_shift_amount", "i32", "param",
     OR(OR(SHL(V, C(24)), SHL(AND(V, C(0xff00)), C(8))), OR(AND(SHR(V, C(8)), C(0xff00)), SHR(V, C(23)))),
     None),
    ("miss_one_term", "i32", "param", AND(ROTR(V, C(24)), C(M32)), None),
    ("miss_extra_bit", "i32", "param", OR(ROT, AND(V, C(1))), None),
    ("miss_add_overlap", "i32", "param",
     ADD(ROTR(AND(V, C(M32)), C(8)), AND(ROTR(V, C(24)), C(0x00ffffff))), None),
    ("miss_xor_overlap", "i32", "param", XOR(ROTR(V, C(8)), AND(ROTR(V, C(24)), C(M32))), None),
    ("miss_swap16_param", "i32", "param", AND(OR(SHL(V, C(8)), SHR(V, C(8))), C(0xffff)), None),
    ("miss_swap16_mask", "i32", "load16u", AND(OR(SHL(V, C(8)), SHR(V, C(8))), C(0xfffe)), None),
    ("miss_swap16_wide", "i32", "load16u", OR(SHL(V, C(8)), SHR(V, C(8))), None),
    # a byte swap too (of a zero-extended byte), but a lone shift is cheaper left alone
    ("byte_shift", "i32", "load8u", SHL(V, C(8)), "swap16"),
]
SWAP64 = OR(OR(OR(SHL(V, C(56)), SHL(AND(V, C(0xff00)), C(40))),
               OR(SHL(AND(V, C(0xff0000)), C(24)), SHL(AND(V, C(0xff000000)), C(8)))),
            OR(OR(AND(SHR(V, C(8)), C(0xff000000)), AND(SHR(V, C(24)), C(0xff0000))),
               OR(AND(SHR(V, C(40)), C(0xff00)), SHR(V, C(56)))))
def swap64_expr(masks):
    """64-bit rotate-free form with the given masks of the four right shifts (for misses)."""
    return OR(OR(OR(SHL(V, C(56)), SHL(AND(V, C(0xff00)), C(40))),
                 OR(SHL(AND(V, C(0xff0000)), C(24)), SHL(AND(V, C(0xff000000)), C(8)))),
              OR(OR(AND(SHR(V, C(8)), C(masks[0])), AND(SHR(V, C(24)), C(masks[1]))),
                 OR(AND(SHR(V, C(40)), C(masks[2])), SHR(V, C(56)))))
FUNCS += [
    ("swap64", "i64", "param", SWAP64, "swap64"),
    ("swap64_rot", "i64", "param",
     OR(ROTR(AND(V, C(0x000000ff000000ff)), C(8)),
        OR(ROTR(AND(V, C(0x0000ff000000ff00)), C(24)),
           OR(ROTL(AND(V, C(0x00ff000000ff0000)), C(24)), ROTL(AND(V, C(0xff000000ff000000)), C(8))))),
     "swap64"),
    ("swap64_of_u32", "i64", "extu", SWAP64, "swap64"),
    ("swap64_load32", "i64", "load32u", SWAP64, "swap64"),
    ("swap32_in_64", "i64", "param",
     SHR(OR(OR(SHL(V, C(56)), SHL(AND(V, C(0xff00)), C(40))),
            OR(SHL(AND(V, C(0xff0000)), C(24)), SHL(AND(V, C(0xff000000)), C(8)))), C(32)), "swap32"),
    ("swap32_wrapped", "i32", None, None, "swap32"),  # filled in below: i32 result of i64 base
    ("miss_swap64_mask", "i64", "param", swap64_expr([0xff000000, 0xff0000, 0xff80, 0]), None),
    ("miss_swap64_missing", "i64", "param",
     OR(OR(OR(SHL(V, C(56)), SHL(AND(V, C(0xff00)), C(40))),
           OR(SHL(AND(V, C(0xff0000)), C(24)), SHL(AND(V, C(0xff000000)), C(8)))),
        OR(AND(SHR(V, C(8)), C(0xff000000)), OR(AND(SHR(V, C(40)), C(0xff00)), SHR(V, C(56))))), None),
]
# i32.wrap_i64 of the upper half of a 64-bit swap (Rust's `(x.swap_bytes() >> 32) as u32`)
FUNCS[[f[0] for f in FUNCS].index("swap32_wrapped")] = (
    "swap32_wrapped", "i32", "param64",
    ("wrap", SHR(OR(OR(SHL(V, C(56)), SHL(AND(V, C(0xff00)), C(40))),
                    OR(SHL(AND(V, C(0xff0000)), C(24)), SHL(AND(V, C(0xff000000)), C(8)))), C(32))),
    "swap32")
BASES["param64"] = ("(local.get $x)", lambda x, w: x)

# Near misses in bulk: each idiom with one constant changed (a mask bit flipped, an amount
# moved), seeded. Whether a mutant still swaps is decided by the model below, not assumed.
def consts(e):
    if e[0] == "c": return 1
    return sum(consts(a) for a in e[1:] if isinstance(a, tuple))

def mutate(e, k, rng, w):
    """e with its k-th constant (depth-first) changed, and the remaining k."""
    if e[0] == "c":
        if k == 0:
            c = e[1]
            if c >= 64 or rng.random() < 0.5:
                c ^= 1 << rng.randrange(w)
            else:
                c = (c + rng.choice([-8, -1, 1, 8, 16, w])) % (2 * w)
            return ("c", c), -1
        return e, k - 1
    parts = [e[0]]
    for a in e[1:]:
        if isinstance(a, tuple) and k >= 0:
            a, k = mutate(a, k, rng, w)
        parts.append(a)
    return tuple(parts), k

rng = random.Random(34)
for name, ty, e in [("rot", "i32", ROT), ("shift", "i32", SHIFT), ("swap64", "i64", SWAP64)]:
    for n in range(24):
        m, _ = mutate(e, rng.randrange(consts(e)), rng, WIDTH[ty])
        FUNCS.append((f"mutant_{name}_{n}", ty, "param", m, "model"))

def base_type(ty, base):
    if base in ("extu",): return "i32", "i64"
    if base == "param64": return "i64", "i64"
    if base in ("load16u", "load8u", "shl8"): return "i32", "i32"
    if base == "load32u": return "i64", "i64"
    return ty, ty

random.seed(12)
IN32 = [0, 1, 0xff, 0xff00, 0xff0000, 0xff000000, 0xffffffff, 0x7fffffff, 0x80000000,
        0x01234567, 0x12345678, 0x89abcdef, 0xdeadbeef, 0xa5a5a5a5, 0x5a5a5a5a, 0x00ff00ff,
        0xff00ff00, 0x80008000, 0x00800080] + [random.getrandbits(32) for _ in range(12)]
IN64 = [0, 1, 0xff, 0xff00000000000000, 2**64 - 1, 2**63 - 1, 2**63, 0x0123456789abcdef,
        0xfedcba9876543210, 0xdeadbeefcafebabe, 0x00ff00ff00ff00ff, 0xff00ff00ff00ff00,
        0x8000000080000000, 0x0000000080000000] + [random.getrandbits(64) for _ in range(12)]

def signed(v, w): return v - (1 << w) if v >> (w - 1) else v

emit(""";; Byte swaps written out in Wasm operators, as LLVM (rotate form) and clang (shift form)
;; expand them, and rearrangements of them, which aot turns into one `bswap`
;; (compiler/src/translate/bswap.rs); then near misses that are not byte swaps and must
;; keep their own meaning, and 72 seeded mutants of the idioms with one constant changed
;; (30 of which still swap). Generated by gen-bswap-idioms.py, its expectations from a
;; model of the operators.
""")
funcs = []
for (name, ty, base, e, kind) in FUNCS:
    pty, vty = base_type(ty, base)
    bwat, bmodel = BASES[base]
    store = f"    ({pty}.store (i32.const 0) (local.get $x))\n" if "load" in base else ""
    funcs.append(f"  (func (export \"{name}\") (param $x {pty}) (result {ty}) (local $v {vty})\n"
                 f"{store}    (local.set $v {bwat})\n    {wat(e, vty if e[0] not in ('wrap',) else 'i32')})")
emit("(module\n  (memory 1)\n" + "\n".join(funcs) + ")")
for (name, ty, base, e, kind) in FUNCS:
    pty, vty = base_type(ty, base)
    bmodel = BASES[base][1]
    ins = IN32 if pty == "i32" else IN64
    ety = vty if e[0] != "wrap" else "i32"
    swapped = []
    for x in ins:
        v = bmodel(x, WIDTH[vty])
        r = ev(e, ety, v)
        want = {"swap32": swap32(v), "swap64": swap64(v),
                "swap16": int.from_bytes((v & 0xffff).to_bytes(2, "little"), "big"),
                "swap16s": int.from_bytes((v & 0xffff).to_bytes(2, "little"), "big", signed=True)
                           & ((1 << WIDTH[ty]) - 1)}
        swapped.append(any(r == want[k] for k in want) if kind in (None, "model")
                       else r == want[kind])
        emit(f"(assert_return (invoke \"{name}\" ({pty}.const {signed(x, WIDTH[pty])})) "
             f"({ty}.const {signed(r, WIDTH[ty])}))")
    if kind == "model":
        pass
    elif kind is not None:
        assert all(swapped), f"{name} is not a byte swap in the model"
    else:
        assert not all(swapped), f"{name} is a byte swap in the model, not a near miss"
open(sys.argv[1], "w").write("\n".join(out) + "\n")
