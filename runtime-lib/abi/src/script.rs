//! Spec-test scripts as the test driver inside the runtime executes them.
//!
//! The test harness turns a `.wast` file into a [`Script`]: each module in it is compiled
//! to its own object (numbered in order), assert_invalid/assert_malformed are checked at
//! compile time and never reach here, and the remaining commands are encoded for the
//! runtime, which executes them against live instances and prints one line per command:
//! `ok <line>` or `FAIL <line>: <why>`, then `summary: <passed> passed, <failed> failed`.

use crate::codec::{DecodeError, DecodeResult, Reader, Writer};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// `ref.null func` / `ref.null extern` (or their bottoms `nofunc`, `noextern`, or a
    /// concrete function type): the null of that hierarchy.
    NullFuncRef,
    NullExternRef,
    /// `ref.null any` (or `none`, `eq`, `struct`, ...) and `ref.null exn` (or `noexn`).
    NullAnyRef,
    NullExnRef,
    /// `ref.extern N`: a host reference the harness names by number.
    ExternRef(u32),
    /// `ref.host N`: the same host reference seen in the `any` hierarchy (after
    /// `any.convert_extern`); the word is `aot_abi::gc::host_ref(N)` in both.
    HostRef(u32),
}

/// What an assert_return expects of one result.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Bit-exact (floats compare by bits).
    Exact(Value),
    F32CanonicalNan,
    F32ArithmeticNan,
    F64CanonicalNan,
    F64ArithmeticNan,
    /// `(ref.func)`: any non-null funcref.
    AnyFuncRef,
    /// `(ref.extern)`: any non-null externref.
    AnyExternRef,
    /// `(ref.any)`: any non-null reference of the `any` hierarchy.
    AnyRef,
    /// `(ref.eq)`: an i31, a struct or an array.
    EqRef,
    /// `(ref.i31)`: an i31 of any value.
    I31Ref,
    /// `(ref.struct)`: a struct of any type.
    StructRef,
    /// `(ref.array)`: an array of any type.
    ArrayRef,
    /// Any of these (the `either` form).
    Either(Vec<Expected>),
    /// A v128 checked lane by lane: `lane_bits` wide lanes (8, 16, 32 or 64), lane 0 in the
    /// low bits, each an `Exact` integer or float of that width or a NaN pattern, so that
    /// `(v128.const f32x4 nan:canonical 1 2 3)` is expressible.
    V128Lanes {
        lane_bits: u8,
        lanes: Vec<Expected>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Invoke {
        /// None = the most recently instantiated module.
        instance: Option<String>,
        field: String,
        args: Vec<Value>,
    },
    Get {
        instance: Option<String>,
        field: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Instantiate module object `module` (index into the program's modules); it becomes
    /// the current instance, and is also known as `name` if given.
    Module {
        module: u32,
        name: Option<String>,
    },
    /// Make an instance's exports importable under module name `as_name`.
    Register {
        as_name: String,
        instance: Option<String>,
    },
    /// Perform an action; it must not trap.
    Action(Action),
    AssertReturn {
        action: Action,
        expected: Vec<Expected>,
    },
    /// The action must trap with a message containing `message`.
    AssertTrap {
        action: Action,
        message: String,
    },
    /// Instantiation (including its start function) must trap with `message`.
    AssertUninstantiable {
        module: u32,
        message: String,
    },
    AssertExhaustion {
        action: Action,
        message: String,
    },
    /// The action must end in an uncaught Wasm exception.
    AssertException {
        action: Action,
    },
    /// Instantiation must fail at link time (unknown import, incompatible import type).
    AssertUnlinkable {
        module: u32,
        message: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// Each command with its line number in the .wast file.
    pub commands: Vec<(u32, Command)>,
    /// The compiled `spectest` module (the spec suite's host module, written in Wasm over
    /// the test host's print functions), instantiated and registered as `spectest` before
    /// the first command; None for scripts that need none.
    pub spectest: Option<u32>,
}

impl Script {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(SCRIPT_MAGIC);
        w.seq(&self.commands, |w, (line, c)| {
            w.u32(*line);
            enc_command(w, c);
        });
        w.opt_u64(self.spectest.map(u64::from));
        w.buf
    }

    pub fn decode(data: &[u8]) -> DecodeResult<Script> {
        let mut r = Reader::new(data);
        if r.u32()? != SCRIPT_MAGIC {
            return Err(DecodeError("bad script magic"));
        }
        let commands = r.seq(|r| Ok((r.u32()?, dec_command(r)?)))?;
        let spectest = r
            .opt_u64()?
            .map(|m| u32::try_from(m).map_err(|_| DecodeError("spectest module out of range")))
            .transpose()?;
        if !r.at_end() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(Script { commands, spectest })
    }
}

const SCRIPT_MAGIC: u32 = 0x5053_4100 | crate::ABI_VERSION;

fn enc_command(w: &mut Writer, c: &Command) {
    match c {
        Command::Module { module, name } => {
            w.u8(0);
            w.u32(*module);
            w.opt_str(name.as_deref());
        }
        Command::Register { as_name, instance } => {
            w.u8(1);
            w.str(as_name);
            w.opt_str(instance.as_deref());
        }
        Command::Action(a) => {
            w.u8(2);
            enc_action(w, a);
        }
        Command::AssertReturn { action, expected } => {
            w.u8(3);
            enc_action(w, action);
            w.seq(expected, enc_expected);
        }
        Command::AssertTrap { action, message } => {
            w.u8(4);
            enc_action(w, action);
            w.str(message);
        }
        Command::AssertUninstantiable { module, message } => {
            w.u8(5);
            w.u32(*module);
            w.str(message);
        }
        Command::AssertExhaustion { action, message } => {
            w.u8(6);
            enc_action(w, action);
            w.str(message);
        }
        Command::AssertException { action } => {
            w.u8(8);
            enc_action(w, action);
        }
        Command::AssertUnlinkable { module, message } => {
            w.u8(7);
            w.u32(*module);
            w.str(message);
        }
    }
}

fn dec_command(r: &mut Reader) -> DecodeResult<Command> {
    Ok(match r.u8()? {
        0 => Command::Module {
            module: r.u32()?,
            name: r.opt_string()?,
        },
        1 => Command::Register {
            as_name: r.string()?,
            instance: r.opt_string()?,
        },
        2 => Command::Action(dec_action(r)?),
        3 => Command::AssertReturn {
            action: dec_action(r)?,
            expected: r.seq(dec_expected)?,
        },
        4 => Command::AssertTrap {
            action: dec_action(r)?,
            message: r.string()?,
        },
        5 => Command::AssertUninstantiable {
            module: r.u32()?,
            message: r.string()?,
        },
        6 => Command::AssertExhaustion {
            action: dec_action(r)?,
            message: r.string()?,
        },
        7 => Command::AssertUnlinkable {
            module: r.u32()?,
            message: r.string()?,
        },
        8 => Command::AssertException {
            action: dec_action(r)?,
        },
        _ => return Err(DecodeError("bad command")),
    })
}

fn enc_action(w: &mut Writer, a: &Action) {
    match a {
        Action::Invoke {
            instance,
            field,
            args,
        } => {
            w.u8(0);
            w.opt_str(instance.as_deref());
            w.str(field);
            w.seq(args, enc_value);
        }
        Action::Get { instance, field } => {
            w.u8(1);
            w.opt_str(instance.as_deref());
            w.str(field);
        }
    }
}

fn dec_action(r: &mut Reader) -> DecodeResult<Action> {
    Ok(match r.u8()? {
        0 => Action::Invoke {
            instance: r.opt_string()?,
            field: r.string()?,
            args: r.seq(dec_value)?,
        },
        1 => Action::Get {
            instance: r.opt_string()?,
            field: r.string()?,
        },
        _ => return Err(DecodeError("bad action")),
    })
}

fn enc_value(w: &mut Writer, v: &Value) {
    match v {
        Value::I32(x) => {
            w.u8(0);
            w.u32(*x);
        }
        Value::I64(x) => {
            w.u8(1);
            w.u64(*x);
        }
        Value::F32(x) => {
            w.u8(2);
            w.u32(*x);
        }
        Value::F64(x) => {
            w.u8(3);
            w.u64(*x);
        }
        Value::V128(x) => {
            w.u8(4);
            w.u64(*x as u64);
            w.u64((*x >> 64) as u64);
        }
        Value::NullFuncRef => w.u8(5),
        Value::NullExternRef => w.u8(6),
        Value::ExternRef(x) => {
            w.u8(7);
            w.u32(*x);
        }
        Value::NullAnyRef => w.u8(8),
        Value::NullExnRef => w.u8(9),
        Value::HostRef(x) => {
            w.u8(10);
            w.u32(*x);
        }
    }
}

fn dec_value(r: &mut Reader) -> DecodeResult<Value> {
    Ok(match r.u8()? {
        0 => Value::I32(r.u32()?),
        1 => Value::I64(r.u64()?),
        2 => Value::F32(r.u32()?),
        3 => Value::F64(r.u64()?),
        4 => {
            let lo = r.u64()? as u128;
            let hi = r.u64()? as u128;
            Value::V128(lo | (hi << 64))
        }
        5 => Value::NullFuncRef,
        6 => Value::NullExternRef,
        7 => Value::ExternRef(r.u32()?),
        8 => Value::NullAnyRef,
        9 => Value::NullExnRef,
        10 => Value::HostRef(r.u32()?),
        _ => return Err(DecodeError("bad value")),
    })
}

fn enc_expected(w: &mut Writer, e: &Expected) {
    match e {
        Expected::Exact(v) => {
            w.u8(0);
            enc_value(w, v);
        }
        Expected::F32CanonicalNan => w.u8(1),
        Expected::F32ArithmeticNan => w.u8(2),
        Expected::F64CanonicalNan => w.u8(3),
        Expected::F64ArithmeticNan => w.u8(4),
        Expected::AnyFuncRef => w.u8(5),
        Expected::AnyExternRef => w.u8(6),
        Expected::Either(alts) => {
            w.u8(7);
            w.seq(alts, enc_expected);
        }
        Expected::V128Lanes { lane_bits, lanes } => {
            w.u8(8);
            w.u8(*lane_bits);
            w.seq(lanes, enc_expected);
        }
        Expected::AnyRef => w.u8(9),
        Expected::EqRef => w.u8(10),
        Expected::I31Ref => w.u8(11),
        Expected::StructRef => w.u8(12),
        Expected::ArrayRef => w.u8(13),
    }
}

fn dec_expected(r: &mut Reader) -> DecodeResult<Expected> {
    Ok(match r.u8()? {
        0 => Expected::Exact(dec_value(r)?),
        1 => Expected::F32CanonicalNan,
        2 => Expected::F32ArithmeticNan,
        3 => Expected::F64CanonicalNan,
        4 => Expected::F64ArithmeticNan,
        5 => Expected::AnyFuncRef,
        6 => Expected::AnyExternRef,
        7 => Expected::Either(r.seq(dec_expected)?),
        8 => Expected::V128Lanes {
            lane_bits: r.u8()?,
            lanes: r.seq(dec_expected)?,
        },
        9 => Expected::AnyRef,
        10 => Expected::EqRef,
        11 => Expected::I31Ref,
        12 => Expected::StructRef,
        13 => Expected::ArrayRef,
        _ => return Err(DecodeError("bad expected value")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_round_trips() {
        let s = Script {
            spectest: Some(3),
            commands: vec![
                (
                    1,
                    Command::Module {
                        module: 0,
                        name: Some("$m".into()),
                    },
                ),
                (
                    2,
                    Command::Register {
                        as_name: "M".into(),
                        instance: None,
                    },
                ),
                (
                    3,
                    Command::AssertReturn {
                        action: Action::Invoke {
                            instance: None,
                            field: "f".into(),
                            args: vec![
                                Value::I32(1),
                                Value::F64(2),
                                Value::ExternRef(3),
                                Value::NullFuncRef,
                                Value::HostRef(4),
                            ],
                        },
                        expected: vec![
                            Expected::Exact(Value::I64(9)),
                            Expected::Either(vec![Expected::F32CanonicalNan, Expected::AnyFuncRef]),
                            Expected::V128Lanes {
                                lane_bits: 32,
                                lanes: vec![Expected::F32ArithmeticNan; 4],
                            },
                            Expected::AnyRef,
                            Expected::EqRef,
                            Expected::I31Ref,
                            Expected::StructRef,
                            Expected::ArrayRef,
                            Expected::Exact(Value::HostRef(2)),
                        ],
                    },
                ),
                (
                    4,
                    Command::AssertTrap {
                        action: Action::Get {
                            instance: Some("$m".into()),
                            field: "g".into(),
                        },
                        message: "unreachable".into(),
                    },
                ),
                (
                    5,
                    Command::AssertUnlinkable {
                        module: 1,
                        message: "unknown import".into(),
                    },
                ),
            ],
        };
        assert_eq!(Script::decode(&s.encode()), Ok(s));
    }
}
