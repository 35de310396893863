//! The spec-script driver: executes an `aot_abi::script::Script` against the program's
//! modules and reports one line per command.
//!
//! Output (stdout, flushed after every line so that a crash mid-script leaves the earlier
//! results visible): `ok <line>` or `FAIL <line>: <reason>` per command, then
//! `summary: <passed> passed, <failed> failed`. Lines printed by the `spectest` host module
//! start with `spectest: `. A command that names a missing module, instance or export fails
//! with a reason; it never panics.
//!
//! Values: `ref.extern N` is the opaque reference N+1 (0 is null); floats compare by bits;
//! nan:canonical accepts either sign with the canonical payload, nan:arithmetic any NaN
//! with the quiet bit set; `(ref.func)` and `(ref.extern)` accept any non-null reference.

use std::collections::HashMap;
use std::io::Write;

use aot_abi::script::{Action, Command, Expected, Script, Value};
use aot_abi::{BoundsMode, ModuleDescriptor, TrapKind, ValRaw, ValType};

use crate::instance::{Extern, Instance, InstantiateError};
use crate::linker::{Linker, val_type_name};
use crate::trap::Trap;

/// Counts of a finished run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: u32,
    pub failed: u32,
}

/// Runs `script` against `modules` (the program's module descriptors, by index), printing
/// the result lines to `out`.
pub fn run(modules: &[&'static ModuleDescriptor], script: &Script, out: &mut dyn Write) -> Summary {
    let mut driver = Driver::new(modules, out);
    let mut summary = Summary::default();
    for (line, command) in &script.commands {
        let outcome = driver.execute(command);
        match &outcome {
            Ok(()) => {
                summary.passed += 1;
                let _ = writeln!(out, "ok {line}");
            }
            Err(reason) => {
                summary.failed += 1;
                let _ = writeln!(out, "FAIL {line}: {reason}");
            }
        }
        let _ = out.flush();
    }
    let _ = writeln!(
        out,
        "summary: {} passed, {} failed",
        summary.passed, summary.failed
    );
    let _ = out.flush();
    summary
}

struct Driver<'a> {
    modules: &'a [&'static ModuleDescriptor],
    linker: Linker,
    named: HashMap<String, &'static Instance>,
    current: Option<&'static Instance>,
}

/// What an action produced: typed results, or a trap.
enum Outcome {
    Values(Vec<(ValType, ValRaw)>),
    Trapped(Trap),
}

impl<'a> Driver<'a> {
    fn new(modules: &'a [&'static ModuleDescriptor], out: &mut dyn Write) -> Driver<'a> {
        // The spectest memory must suit the strictest importer: guard-page code needs a
        // guard-page reservation.
        let guarded = modules
            .iter()
            .any(|m| m.bounds_mode == BoundsMode::GuardPages as u32);
        let mode = if guarded {
            BoundsMode::GuardPages
        } else {
            BoundsMode::Explicit
        };
        let mut linker = Linker::new();
        match crate::host::spectest(mode) {
            Ok(exports) => linker.register_host("spectest", exports),
            // Not fatal: modules that do not import from spectest still run.
            Err(e) => {
                let _ = writeln!(out, "spectest: cannot create the spectest module: {e}");
            }
        }
        Driver {
            modules,
            linker,
            named: HashMap::new(),
            current: None,
        }
    }

    fn execute(&mut self, command: &Command) -> Result<(), String> {
        match command {
            Command::Module { module, name } => {
                // A failed module must not leave an older one answering for it.
                self.current = None;
                if let Some(name) = name {
                    self.named.remove(name);
                }
                let instance = self
                    .instantiate(*module)
                    .map_err(|e| format!("instantiation failed: {e}"))?;
                self.current = Some(instance);
                if let Some(name) = name {
                    self.named.insert(name.clone(), instance);
                }
                Ok(())
            }
            Command::Register { as_name, instance } => {
                let instance = self.instance(instance.as_deref())?;
                self.linker.register_instance(as_name, instance);
                Ok(())
            }
            Command::Action(action) => match self.perform(action)? {
                Outcome::Values(_) => Ok(()),
                Outcome::Trapped(t) => Err(format!("unexpected trap: {}", t.kind.message())),
            },
            Command::AssertReturn { action, expected } => match self.perform(action)? {
                Outcome::Values(got) => check_results(expected, &got),
                Outcome::Trapped(t) => Err(format!(
                    "expected {}, got trap: {}",
                    show_expected_list(expected),
                    t.kind.message()
                )),
            },
            Command::AssertTrap { action, message } => match self.perform(action)? {
                Outcome::Trapped(t) if trap_matches(t.kind, message) => Ok(()),
                Outcome::Trapped(t) => Err(format!(
                    "expected trap `{message}`, got trap: {}",
                    t.kind.message()
                )),
                Outcome::Values(got) => Err(format!(
                    "expected trap `{message}`, got {}",
                    show_values(&got)
                )),
            },
            Command::AssertExhaustion { action, message } => match self.perform(action)? {
                Outcome::Trapped(t) if t.kind == TrapKind::StackOverflow => Ok(()),
                Outcome::Trapped(t) => Err(format!(
                    "expected `{message}`, got trap: {}",
                    t.kind.message()
                )),
                Outcome::Values(got) => {
                    Err(format!("expected `{message}`, got {}", show_values(&got)))
                }
            },
            Command::AssertUninstantiable { module, message } => match self.instantiate(*module) {
                Err(InstantiateError::Trap(t)) if trap_matches(t.kind, message) => Ok(()),
                Err(InstantiateError::Trap(t)) => Err(format!(
                    "expected trap `{message}`, got trap: {}",
                    t.kind.message()
                )),
                Err(e) => Err(format!("expected trap `{message}`, got error: {e}")),
                Ok(_) => Err(format!(
                    "expected trap `{message}`, but instantiation succeeded"
                )),
            },
            Command::AssertUnlinkable { module, message } => match self.instantiate(*module) {
                Err(InstantiateError::Link(e)) if e.contains(message.as_str()) => Ok(()),
                Err(InstantiateError::Link(e)) => {
                    Err(format!("expected link error `{message}`, got: {e}"))
                }
                Err(e) => Err(format!("expected link error `{message}`, got: {e}")),
                Ok(_) => Err(format!(
                    "expected link error `{message}`, but instantiation succeeded"
                )),
            },
        }
    }

    fn instantiate(&self, module: u32) -> Result<&'static Instance, InstantiateError> {
        let desc = self.modules.get(module as usize).ok_or_else(|| {
            InstantiateError::Other(format!(
                "module {module} does not exist (the program has {})",
                self.modules.len()
            ))
        })?;
        self.linker.instantiate(desc)
    }

    fn instance(&self, name: Option<&str>) -> Result<&'static Instance, String> {
        match name {
            Some(n) => self
                .named
                .get(n)
                .copied()
                .ok_or_else(|| format!("no instance named `{n}`")),
            None => self
                .current
                .ok_or_else(|| "no current instance".to_string()),
        }
    }

    fn perform(&self, action: &Action) -> Result<Outcome, String> {
        match action {
            Action::Invoke {
                instance,
                field,
                args,
            } => {
                let instance = self.instance(instance.as_deref())?;
                let index = instance
                    .exported_func(field)
                    .ok_or_else(|| format!("no function exported as `{field}`"))?;
                let ty = instance
                    .func_type(index)
                    .ok_or_else(|| format!("export `{field}` has no type"))?;
                if args.len() != ty.params.len() {
                    return Err(format!(
                        "`{field}` takes {} arguments, the script passes {}",
                        ty.params.len(),
                        args.len()
                    ));
                }
                let mut raw = Vec::with_capacity(args.len());
                for (i, (arg, &param)) in args.iter().zip(&ty.params).enumerate() {
                    raw.push(value_to_raw(arg, param).ok_or_else(|| {
                        format!(
                            "argument {i} of `{field}` is {}, the parameter is {}",
                            show_value(arg),
                            val_type_name(param)
                        )
                    })?);
                }
                Ok(match instance.call(index, &raw) {
                    Ok(results) => {
                        Outcome::Values(ty.results.iter().copied().zip(results).collect())
                    }
                    Err(trap) => Outcome::Trapped(trap),
                })
            }
            Action::Get { instance, field } => {
                let instance = self.instance(instance.as_deref())?;
                match instance.export(field) {
                    Some(Extern::Global(g)) => Ok(Outcome::Values(vec![(g.ty().ty, g.get())])),
                    Some(_) => Err(format!("export `{field}` is not a global")),
                    None => Err(format!("no global exported as `{field}`")),
                }
            }
        }
    }
}

/// The representation of a script value as an argument of type `ty`, if it has that type.
pub fn value_to_raw(value: &Value, ty: ValType) -> Option<ValRaw> {
    Some(match (value, ty) {
        (Value::I32(v), ValType::I32) | (Value::F32(v), ValType::F32) => ValRaw::from_u32(*v),
        (Value::I64(v), ValType::I64) | (Value::F64(v), ValType::F64) => ValRaw::from_u64(*v),
        (Value::V128(v), ValType::V128) => ValRaw(v.to_le_bytes()),
        (Value::NullFuncRef, ValType::FuncRef) | (Value::NullExternRef, ValType::ExternRef) => {
            ValRaw::default()
        }
        (Value::ExternRef(n), ValType::ExternRef) => ValRaw::from_u64(u64::from(*n) + 1),
        _ => return None,
    })
}

/// Whether result `got` of type `ty` is what `expected` describes.
pub fn result_matches(expected: &Expected, ty: ValType, got: &ValRaw) -> bool {
    const F32_NAN: u32 = 0x7fc0_0000;
    const F64_NAN: u64 = 0x7ff8_0000_0000_0000;
    match expected {
        Expected::Exact(v) => value_to_raw(v, ty).is_some_and(|want| raw_equal(ty, &want, got)),
        Expected::F32CanonicalNan => ty == ValType::F32 && got.u32() & 0x7fff_ffff == F32_NAN,
        Expected::F32ArithmeticNan => ty == ValType::F32 && got.u32() & F32_NAN == F32_NAN,
        Expected::F64CanonicalNan => {
            ty == ValType::F64 && got.u64() & 0x7fff_ffff_ffff_ffff == F64_NAN
        }
        Expected::F64ArithmeticNan => ty == ValType::F64 && got.u64() & F64_NAN == F64_NAN,
        Expected::AnyFuncRef => ty == ValType::FuncRef && got.u64() != 0,
        Expected::AnyExternRef => ty == ValType::ExternRef && got.u64() != 0,
        Expected::Either(alternatives) => alternatives.iter().any(|e| result_matches(e, ty, got)),
    }
}

/// Compares only the bytes a value of type `ty` uses.
fn raw_equal(ty: ValType, a: &ValRaw, b: &ValRaw) -> bool {
    match ty {
        ValType::I32 | ValType::F32 => a.u32() == b.u32(),
        ValType::V128 => a == b,
        _ => a.u64() == b.u64(),
    }
}

fn check_results(expected: &[Expected], got: &[(ValType, ValRaw)]) -> Result<(), String> {
    let all_match = expected.len() == got.len()
        && expected
            .iter()
            .zip(got)
            .all(|(e, (ty, v))| result_matches(e, *ty, v));
    if all_match {
        Ok(())
    } else {
        Err(format!(
            "expected {}, got {}",
            show_expected_list(expected),
            show_values(got)
        ))
    }
}

/// Whether a trap of `kind` is what the script's `expected` text asks for: the message
/// contains the text, or the text is one of the spec's wordings for the same trap.
pub fn trap_matches(kind: TrapKind, expected: &str) -> bool {
    if kind.message().contains(expected) {
        return true;
    }
    let aliases: &[(&str, &[TrapKind])] = &[
        // "uninitialized element 2" in bulk.wast names the element.
        ("uninitialized element", &[TrapKind::IndirectCallToNull]),
        ("undefined element", &[TrapKind::TableOutOfBounds]),
        ("out of bounds table access", &[TrapKind::TableOutOfBounds]),
        (
            "null function reference",
            &[TrapKind::IndirectCallToNull, TrapKind::NullReference],
        ),
        ("unreachable", &[TrapKind::UnreachableCodeReached]),
        ("call stack exhausted", &[TrapKind::StackOverflow]),
        ("stack overflow", &[TrapKind::StackOverflow]),
    ];
    aliases
        .iter()
        .any(|(prefix, kinds)| expected.starts_with(prefix) && kinds.contains(&kind))
}

fn show_raw(ty: ValType, v: &ValRaw) -> String {
    match ty {
        ValType::I32 => format!("i32:{} (0x{:x})", v.u32() as i32, v.u32()),
        ValType::I64 => format!("i64:{} (0x{:x})", v.u64() as i64, v.u64()),
        ValType::F32 => format!("f32:{} (0x{:08x})", f32::from_bits(v.u32()), v.u32()),
        ValType::F64 => format!("f64:{} (0x{:016x})", f64::from_bits(v.u64()), v.u64()),
        ValType::V128 => format!("v128:0x{:032x}", u128::from_le_bytes(v.0)),
        ValType::FuncRef => match v.u64() {
            0 => "funcref:null".into(),
            p => format!("funcref:0x{p:x}"),
        },
        ValType::ExternRef => match v.u64() {
            0 => "externref:null".into(),
            n => format!("externref:{}", n - 1),
        },
    }
}

fn show_values(values: &[(ValType, ValRaw)]) -> String {
    let items: Vec<String> = values.iter().map(|(ty, v)| show_raw(*ty, v)).collect();
    format!("[{}]", items.join(", "))
}

fn show_value(v: &Value) -> String {
    match v {
        Value::I32(x) => show_raw(ValType::I32, &ValRaw::from_u32(*x)),
        Value::I64(x) => show_raw(ValType::I64, &ValRaw::from_u64(*x)),
        Value::F32(x) => show_raw(ValType::F32, &ValRaw::from_u32(*x)),
        Value::F64(x) => show_raw(ValType::F64, &ValRaw::from_u64(*x)),
        Value::V128(x) => show_raw(ValType::V128, &ValRaw(x.to_le_bytes())),
        Value::NullFuncRef => "funcref:null".into(),
        Value::NullExternRef => "externref:null".into(),
        Value::ExternRef(n) => format!("externref:{n}"),
    }
}

fn show_expected(e: &Expected) -> String {
    match e {
        Expected::Exact(v) => show_value(v),
        Expected::F32CanonicalNan => "f32:nan:canonical".into(),
        Expected::F32ArithmeticNan => "f32:nan:arithmetic".into(),
        Expected::F64CanonicalNan => "f64:nan:canonical".into(),
        Expected::F64ArithmeticNan => "f64:nan:arithmetic".into(),
        Expected::AnyFuncRef => "funcref:non-null".into(),
        Expected::AnyExternRef => "externref:non-null".into(),
        Expected::Either(alts) => {
            let items: Vec<String> = alts.iter().map(show_expected).collect();
            format!("either({})", items.join(" | "))
        }
    }
}

fn show_expected_list(expected: &[Expected]) -> String {
    let items: Vec<String> = expected.iter().map(show_expected).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32v(bits: u32) -> ValRaw {
        ValRaw::from_u32(bits)
    }
    fn f64v(bits: u64) -> ValRaw {
        ValRaw::from_u64(bits)
    }

    #[test]
    fn nan_classes() {
        use Expected::*;
        let f32_cases = [
            (0x7fc0_0000, true, true),
            (0xffc0_0000, true, true),
            (0x7fc0_0001, false, true),
            (0x7fa0_0000, false, false),
            (0x7f80_0000, false, false),
            (0x3f80_0000, false, false),
        ];
        for (bits, canonical, arithmetic) in f32_cases {
            assert_eq!(
                result_matches(&F32CanonicalNan, ValType::F32, &f32v(bits)),
                canonical,
                "{bits:x}"
            );
            assert_eq!(
                result_matches(&F32ArithmeticNan, ValType::F32, &f32v(bits)),
                arithmetic,
                "{bits:x}"
            );
        }
        let f64_cases = [
            (0x7ff8_0000_0000_0000, true, true),
            (0xfff8_0000_0000_0000, true, true),
            (0x7ff8_0000_0000_0001, false, true),
            (0x7ff4_0000_0000_0000, false, false),
            (0x7ff0_0000_0000_0000, false, false),
        ];
        for (bits, canonical, arithmetic) in f64_cases {
            assert_eq!(
                result_matches(&F64CanonicalNan, ValType::F64, &f64v(bits)),
                canonical,
                "{bits:x}"
            );
            assert_eq!(
                result_matches(&F64ArithmeticNan, ValType::F64, &f64v(bits)),
                arithmetic,
                "{bits:x}"
            );
        }
        assert!(
            !result_matches(&F32CanonicalNan, ValType::F64, &f64v(0x7fc0_0000)),
            "wrong type"
        );
    }

    #[test]
    fn exact_values_compare_by_bits_and_type() {
        use Expected::Exact;
        let nan = Exact(Value::F32(0x7fc0_0000));
        assert!(result_matches(&nan, ValType::F32, &f32v(0x7fc0_0000)));
        assert!(
            !result_matches(&nan, ValType::F32, &f32v(0xffc0_0000)),
            "sign matters"
        );
        let zero = Exact(Value::F64(0));
        assert!(
            !result_matches(&zero, ValType::F64, &f64v(0x8000_0000_0000_0000)),
            "-0 is not 0"
        );
        let one = Exact(Value::I32(1));
        assert!(result_matches(&one, ValType::I32, &ValRaw::from_u32(1)));
        assert!(
            !result_matches(&one, ValType::I64, &ValRaw::from_u64(1)),
            "i64 is not i32"
        );
        let mut junk = ValRaw::from_u32(1);
        junk.0[4] = 0xff;
        assert!(
            result_matches(&one, ValType::I32, &junk),
            "bytes past an i32 are ignored"
        );
    }

    #[test]
    fn references() {
        use Expected::*;
        assert!(result_matches(
            &Exact(Value::NullFuncRef),
            ValType::FuncRef,
            &ValRaw::default()
        ));
        assert!(!result_matches(
            &Exact(Value::NullFuncRef),
            ValType::ExternRef,
            &ValRaw::default()
        ));
        assert!(result_matches(
            &Exact(Value::ExternRef(0)),
            ValType::ExternRef,
            &ValRaw::from_u64(1)
        ));
        assert!(!result_matches(
            &Exact(Value::ExternRef(0)),
            ValType::ExternRef,
            &ValRaw::default()
        ));
        assert!(result_matches(
            &AnyFuncRef,
            ValType::FuncRef,
            &ValRaw::from_u64(0x1000)
        ));
        assert!(!result_matches(
            &AnyFuncRef,
            ValType::FuncRef,
            &ValRaw::default()
        ));
        assert!(!result_matches(
            &AnyExternRef,
            ValType::ExternRef,
            &ValRaw::default()
        ));
        let either = Either(vec![Exact(Value::I32(1)), Exact(Value::I32(2))]);
        assert!(result_matches(&either, ValType::I32, &ValRaw::from_u32(2)));
        assert!(!result_matches(&either, ValType::I32, &ValRaw::from_u32(3)));
        assert_eq!(
            value_to_raw(&Value::ExternRef(41), ValType::ExternRef),
            Some(ValRaw::from_u64(42))
        );
        assert_eq!(value_to_raw(&Value::I32(1), ValType::F32), None);
    }

    #[test]
    fn result_lists_must_have_equal_length() {
        let got = [(ValType::I32, ValRaw::from_u32(1))];
        assert_eq!(
            check_results(&[Expected::Exact(Value::I32(1))], &got),
            Ok(())
        );
        let err = check_results(&[], &got).expect_err("extra result");
        assert_eq!(err, "expected [], got [i32:1 (0x1)]");
        assert!(check_results(&[Expected::Exact(Value::I32(1)); 2], &got).is_err());
    }

    #[test]
    fn trap_messages_and_spec_wordings() {
        assert!(trap_matches(
            TrapKind::IntegerDivisionByZero,
            "integer divide by zero"
        ));
        assert!(trap_matches(
            TrapKind::UnreachableCodeReached,
            "unreachable"
        ));
        assert!(trap_matches(
            TrapKind::TableOutOfBounds,
            "undefined element"
        ));
        assert!(trap_matches(
            TrapKind::TableOutOfBounds,
            "out of bounds table access"
        ));
        assert!(trap_matches(
            TrapKind::IndirectCallToNull,
            "uninitialized element"
        ));
        assert!(trap_matches(
            TrapKind::IndirectCallToNull,
            "uninitialized element 2"
        ));
        assert!(trap_matches(
            TrapKind::StackOverflow,
            "call stack exhausted"
        ));
        assert!(trap_matches(
            TrapKind::NullReference,
            "null function reference"
        ));
        assert!(!trap_matches(
            TrapKind::TableOutOfBounds,
            "uninitialized element"
        ));
        assert!(!trap_matches(
            TrapKind::MemoryOutOfBounds,
            "out of bounds table access"
        ));
        assert!(!trap_matches(
            TrapKind::IntegerOverflow,
            "integer divide by zero"
        ));
    }
}
