//! The spec-script driver: executes an `aot_abi::script::Script` against the program's
//! modules and reports one line per command.
//!
//! Output (stdout, flushed after every line so that a crash mid-script leaves the earlier
//! results visible): `ok <line>` or `FAIL <line>: <reason>` per command, then
//! `summary: <passed> passed, <failed> failed`. Lines printed by the `spectest` host module
//! start with `spectest: `. A command that names a missing module, instance or export fails
//! with a reason; it never panics.
//!
//! Values: `ref.extern N` is the host reference word `aot_abi::gc::host_ref(N)` (0 is null); floats compare by bits;
//! nan:canonical accepts either sign with the canonical payload, nan:arithmetic any NaN
//! with the quiet bit set; `(ref.func)` and `(ref.extern)` accept any non-null reference.

use std::collections::HashMap;
use std::io::Write;

use aot_abi::gc::{host_ref, host_ref_number};
use aot_abi::script::{Action, Command, Expected, Script, Value};
use aot_abi::{
    FuncType, ImportSource, InstancePlan, ModuleDescriptor, RefTop, TrapKind, ValRaw, ValType,
};

use crate::imports::val_type_name;
use crate::instance::{Extern, Instance, InstantiateError};
use crate::trap::Trap;

/// Counts of a finished run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: u32,
    pub failed: u32,
}

/// The run function of spec-script programs (`ProgramKind::SpecScript`): runs the script
/// in the program's configuration; exit code 0 when every command passed.
///
/// # Safety
/// `program` must point to the program's descriptor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_run_spec_script(program: *const aot_abi::ProgramDescriptor) -> i32 {
    // SAFETY: per the contract; the descriptor is an immutable static.
    let Some(program) = (unsafe { program.as_ref() }) else {
        return 1;
    };
    let result = crate::entry::program_parts(program).and_then(|(modules, config)| {
        let script = Script::decode(config).map_err(|e| format!("spec script: {e}"))?;
        Ok(run(&modules, &script, &mut std::io::stdout()))
    });
    match result {
        Ok(summary) => i32::from(summary.failed != 0),
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// Runs `script` against `modules` (the program's module descriptors, by index), printing
/// the result lines to `out`.
pub fn run(modules: &[&'static ModuleDescriptor], script: &Script, out: &mut dyn Write) -> Summary {
    let mut driver = Driver::new(modules, script.spectest, out);
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
    /// Every instance created so far, in order: what `ImportSource::Instance` indexes.
    instances: Vec<&'static Instance>,
    /// Module names instances are registered under (`register`, and `spectest`).
    registered: HashMap<String, usize>,
    named: HashMap<String, &'static Instance>,
    current: Option<&'static Instance>,
}

/// What an action produced: typed results, or a trap.
enum Outcome {
    Values(Vec<(ValType, ValRaw)>),
    Trapped(Trap),
}

impl<'a> Driver<'a> {
    /// A driver with the script's `spectest` module, if it has one, instantiated and
    /// registered under that name.
    fn new(
        modules: &'a [&'static ModuleDescriptor],
        spectest: Option<u32>,
        out: &mut dyn Write,
    ) -> Driver<'a> {
        let mut driver = Driver {
            modules,
            instances: Vec::new(),
            registered: HashMap::new(),
            named: HashMap::new(),
            current: None,
        };
        if let Some(module) = spectest {
            match driver.instantiate(module) {
                Ok(instance) => driver.register("spectest", instance),
                // Not fatal: modules that do not import from spectest still run.
                Err(e) => {
                    let _ = writeln!(out, "spectest: cannot instantiate the spectest module: {e}");
                }
            }
        }
        driver
    }

    fn register(&mut self, name: &str, instance: &'static Instance) {
        let index = match self
            .instances
            .iter()
            .position(|i| core::ptr::eq(*i, instance))
        {
            Some(i) => i,
            None => {
                self.instances.push(instance);
                self.instances.len() - 1
            }
        };
        self.registered.insert(name.to_string(), index);
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
                self.register(as_name, instance);
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
            Command::AssertException { action } => match self.perform(action)? {
                Outcome::Trapped(t) if t.kind == TrapKind::UncaughtException => Ok(()),
                Outcome::Trapped(t) => Err(format!(
                    "expected an exception, got trap: {}",
                    t.kind.message()
                )),
                Outcome::Values(got) => {
                    Err(format!("expected an exception, got {}", show_values(&got)))
                }
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

    /// Instantiates `module` as executables do (`plan::instantiate_one`), its imports wired
    /// by the names registered so far: an import the compiler resolved to a host function
    /// is the module's own; an import from a registered name is that instance's export of
    /// the same name. Nothing is created when an import is missing (assert_unlinkable).
    fn instantiate(&mut self, module: u32) -> Result<&'static Instance, InstantiateError> {
        let desc = self.modules.get(module as usize).ok_or_else(|| {
            InstantiateError::Other(format!(
                "module {module} does not exist (the program has {})",
                self.modules.len()
            ))
        })?;
        let meta = crate::instance::module_meta(desc).map_err(InstantiateError::Other)?;
        let imports = meta
            .imports
            .iter()
            .enumerate()
            .map(|(n, import)| {
                if crate::instance::host_import(desc, n).is_some() {
                    return Ok(ImportSource::Host);
                }
                self.registered
                    .get(&import.module)
                    .and_then(|&instance| {
                        let from = self.instances[instance];
                        let export = from
                            .meta()
                            .exports
                            .iter()
                            .position(|e| e.name == import.name)?;
                        Some(ImportSource::Instance {
                            instance: instance as u32,
                            export: export as u32,
                        })
                    })
                    .ok_or_else(|| {
                        InstantiateError::Link(format!(
                            "unknown import: `{}::{}`",
                            import.module, import.name
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let step = InstancePlan { module, imports };
        let instance =
            crate::plan::instantiate_one(self.modules, &step, &self.instances, &mut |n, _| {
                Err(format!("no component glue {n} in a spec script"))
            })?;
        self.instances.push(instance);
        Ok(instance)
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
                let ty = &canonical_func_type(instance, ty);
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

/// The hierarchy and nullability of a reference type whose concrete heap types are
/// canonical ids (see [`canonical_func_type`]).
fn ref_top(ty: ValType) -> Option<(RefTop, bool)> {
    ty.as_ref()
        .map(|r| (r.heap.top(crate::types::is_func), r.nullable))
}

/// `instance`'s function type `ty` with its concrete heap types made canonical ids, so
/// that [`ref_top`] tells a struct or array type from a function type (globals' types
/// already are canonical).
fn canonical_func_type(instance: &Instance, ty: &FuncType) -> FuncType {
    let ids = crate::types::module_ids(instance.meta());
    let canon = |v: &ValType| crate::types::canonical_val(*v, ids);
    FuncType {
        params: ty.params.iter().map(canon).collect(),
        results: ty.results.iter().map(canon).collect(),
    }
}

/// What a reference word of the `any` hierarchy holds (`aot_abi::gc`'s tags, and an
/// object's type info for struct versus array).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AnyWord {
    Null,
    I31,
    Host,
    Struct,
    Array,
    /// An object whose header is neither (never made by generated code).
    Unknown,
}

fn any_word(w: u64) -> AnyWord {
    use aot_abi::gc::{GC_KIND_ARRAY, GC_KIND_STRUCT, I31_TAG, VMGcTypeInfo};
    if w == 0 {
        return AnyWord::Null;
    }
    if w & I31_TAG != 0 {
        return AnyWord::I31;
    }
    if aot_abi::gc::host_ref_number(w).is_some() {
        return AnyWord::Host;
    }
    // SAFETY: an object word returned by Wasm points at a live object (no collection runs
    // while the driver looks at a result) whose header is its type's leaked info.
    let kind = unsafe { (*(*(w as *const *const VMGcTypeInfo))).kind };
    match kind {
        GC_KIND_STRUCT => AnyWord::Struct,
        GC_KIND_ARRAY => AnyWord::Array,
        _ => AnyWord::Unknown,
    }
}

/// [`value_to_raw`] of the values only GC scripts use.
fn gc_value_to_raw(value: &Value, ty: ValType) -> Option<ValRaw> {
    match value {
        Value::HostRef(n) if ref_top(ty).is_some_and(|(t, _)| t == RefTop::Any) => {
            Some(ValRaw::from_u64(aot_abi::gc::host_ref(u64::from(*n))))
        }
        _ => None,
    }
}

/// [`result_matches`] of the `any`-hierarchy patterns of GC scripts (`ref.any`, `ref.eq`,
/// `ref.i31`, `ref.struct`, `ref.array`), by the word's tag and object kind.
fn gc_result_matches(expected: &Expected, ty: ValType, got: &ValRaw) -> bool {
    if ref_top(ty).is_none_or(|(t, _)| t != RefTop::Any) {
        return false;
    }
    let w = any_word(got.u64());
    match expected {
        Expected::AnyRef => w != AnyWord::Null,
        Expected::EqRef => matches!(w, AnyWord::I31 | AnyWord::Struct | AnyWord::Array),
        Expected::I31Ref => w == AnyWord::I31,
        Expected::StructRef => w == AnyWord::Struct,
        Expected::ArrayRef => w == AnyWord::Array,
        _ => false,
    }
}

/// The representation of a script value as an argument of type `ty`, if it has that type.
pub fn value_to_raw(value: &Value, ty: ValType) -> Option<ValRaw> {
    let null_of = |top: RefTop| ref_top(ty) == Some((top, true));
    Some(match (value, ty) {
        (Value::I32(v), ValType::I32) | (Value::F32(v), ValType::F32) => ValRaw::from_u32(*v),
        (Value::I64(v), ValType::I64) | (Value::F64(v), ValType::F64) => ValRaw::from_u64(*v),
        (Value::V128(v), ValType::V128) => ValRaw(v.to_le_bytes()),
        (Value::NullFuncRef, _) if null_of(RefTop::Func) => ValRaw::default(),
        (Value::NullExternRef, _) if null_of(RefTop::Extern) => ValRaw::default(),
        (Value::NullAnyRef, _) if null_of(RefTop::Any) => ValRaw::default(),
        (Value::NullExnRef, _) if null_of(RefTop::Exn) => ValRaw::default(),
        (Value::ExternRef(n), _) if ref_top(ty).is_some_and(|(t, _)| t == RefTop::Extern) => {
            ValRaw::from_u64(host_ref(u64::from(*n)))
        }
        _ => return gc_value_to_raw(value, ty),
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
        Expected::AnyFuncRef => {
            ref_top(ty).is_some_and(|(t, _)| t == RefTop::Func) && got.u64() != 0
        }
        Expected::AnyExternRef => {
            ref_top(ty).is_some_and(|(t, _)| t == RefTop::Extern) && got.u64() != 0
        }
        Expected::AnyRef
        | Expected::EqRef
        | Expected::I31Ref
        | Expected::StructRef
        | Expected::ArrayRef => gc_result_matches(expected, ty, got),
        Expected::Either(alternatives) => alternatives.iter().any(|e| result_matches(e, ty, got)),
        Expected::V128Lanes { lane_bits, lanes } => {
            let bits = u32::from(*lane_bits);
            let all = u128::from_le_bytes(got.0);
            ty == ValType::V128
                && matches!(bits, 8 | 16 | 32 | 64)
                && lanes.len() as u32 * bits == 128
                && lanes.iter().enumerate().all(|(i, e)| {
                    let lane = (all >> (i as u32 * bits)) as u64 & lane_mask(bits);
                    lane_matches(e, bits, lane)
                })
        }
    }
}

fn lane_mask(bits: u32) -> u64 {
    u64::MAX >> (64 - bits)
}

/// Whether one lane (`bits` wide, zero-extended) of a v128 result is what `expected` says.
fn lane_matches(expected: &Expected, bits: u32, lane: u64) -> bool {
    match expected {
        Expected::Exact(Value::I32(x) | Value::F32(x)) => u64::from(*x) & lane_mask(bits) == lane,
        Expected::Exact(Value::I64(x) | Value::F64(x)) => bits == 64 && *x == lane,
        Expected::F32CanonicalNan | Expected::F32ArithmeticNan => {
            bits == 32 && result_matches(expected, ValType::F32, &ValRaw::from_u64(lane))
        }
        Expected::F64CanonicalNan | Expected::F64ArithmeticNan => {
            bits == 64 && result_matches(expected, ValType::F64, &ValRaw::from_u64(lane))
        }
        Expected::Either(alternatives) => alternatives.iter().any(|e| lane_matches(e, bits, lane)),
        _ => false,
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
        // The GC proposal's scripts name the null's type.
        ("null structure reference", &[TrapKind::NullReference]),
        ("null array reference", &[TrapKind::NullReference]),
        ("null i31 reference", &[TrapKind::NullReference]),
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
            w => format!("externref:{}", show_host_ref(w)),
        },
        ValType::Ref(r) => {
            let name = crate::imports::val_type_name(ty);
            // Concrete ids are canonical here (results and globals), so struct and array
            // types are told from function types.
            match (r.heap.top(crate::types::is_func), v.u64()) {
                (_, 0) => format!("{name}:null"),
                (RefTop::Extern, w) => format!("{name}:{}", show_host_ref(w)),
                (RefTop::Any, w) => format!("{name}:{}", show_any(w)),
                (_, p) => format!("{name}:0x{p:x}"),
            }
        }
    }
}

/// A non-null extern word: its host reference number, or `any <what>` for an `any` made
/// external (see [`show_any`]).
fn show_host_ref(w: u64) -> String {
    match host_ref_number(w) {
        Some(n) => n.to_string(),
        None => format!("any {}", show_any(w)),
    }
}

/// A non-null word of the `any` hierarchy as scripts can compare it: `i31 <unsigned
/// value>`, `struct`, `array` (objects have no printable identity: their addresses
/// change with every collection), `host <n>`.
fn show_any(w: u64) -> String {
    match any_word(w) {
        AnyWord::I31 => format!("i31 {}", (w as u32) >> 1),
        AnyWord::Struct => "struct".into(),
        AnyWord::Array => "array".into(),
        AnyWord::Host => match host_ref_number(w) {
            Some(n) => format!("host {n}"),
            None => format!("0x{w:x}"),
        },
        AnyWord::Null | AnyWord::Unknown => format!("0x{w:x}"),
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
        Value::NullAnyRef => "anyref:null".into(),
        Value::NullExnRef => "exnref:null".into(),
        Value::ExternRef(n) => format!("externref:{n}"),
        Value::HostRef(n) => format!("anyref:host {n}"),
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
        Expected::AnyRef => "anyref:non-null".into(),
        Expected::EqRef => "eqref:non-null".into(),
        Expected::I31Ref => "i31ref".into(),
        Expected::StructRef => "structref:non-null".into(),
        Expected::ArrayRef => "arrayref:non-null".into(),
        Expected::Either(alts) => {
            let items: Vec<String> = alts.iter().map(show_expected).collect();
            format!("either({})", items.join(" | "))
        }
        Expected::V128Lanes { lane_bits, lanes } => {
            let items: Vec<String> = lanes.iter().map(show_expected).collect();
            format!("v128:i{lane_bits}x{}[{}]", lanes.len(), items.join(" "))
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
    use crate::instance::test_support::*;
    use aot_abi::script::Action::{Get, Invoke};
    use aot_abi::{ExternKind, ImportKind, ModuleMeta};

    fn invoke(instance: Option<&str>, field: &str, args: Vec<Value>) -> Action {
        Invoke {
            instance: instance.map(String::from),
            field: field.into(),
            args,
        }
    }

    fn returns(action: Action, expected: Vec<Expected>) -> Command {
        Command::AssertReturn { action, expected }
    }

    /// The modules the driver test instantiates, by index.
    fn modules() -> Vec<&'static ModuleDescriptor> {
        use crate::arch::test_code::{aot_rt_test_recurse, aot_rt_test_unreachable};
        // Registers the hand-written assembly with the trap handler.
        crate::trap::tests::fake_module();
        let i32_ = ValType::I32;
        let m0 = ModuleMeta {
            types: vec![ft(&[], &[i32_]), ft(&[i32_], &[i32_])],
            funcs: vec![0, 1].into(),
            memories: vec![memory_type(1, None)],
            globals: vec![global(i32_, true, i32c(7))],
            datas: vec![data(active(0, 0), 0, 1)],
            exports: vec![
                export("f", ExternKind::Func, 0),
                export("load", ExternKind::Func, 1),
                export("g", ExternKind::Global, 0),
            ],
            ..ModuleMeta::default()
        };
        let m1 = ModuleMeta {
            types: vec![ft(&[], &[i32_])],
            imports: vec![import("M", "f", ImportKind::Func(0))],
            funcs: vec![0].into(),
            exports: vec![export("f2", ExternKind::Func, 0)],
            ..ModuleMeta::default()
        };
        let m2 = ModuleMeta {
            types: vec![ft(&[], &[])],
            imports: vec![import("spectest", "nonexistent", ImportKind::Func(0))],
            funcs: vec![0].into(),
            ..ModuleMeta::default()
        };
        let m3 = ModuleMeta {
            types: vec![ft(&[], &[i32_])],
            imports: vec![import("spectest", "print_i32", ImportKind::Func(0))],
            funcs: vec![0].into(),
            ..ModuleMeta::default()
        };
        let m4 = ModuleMeta {
            types: vec![ft(&[], &[i32_])],
            funcs: vec![0].into(),
            tables: vec![funcref_table(1, None)],
            elems: vec![elem(active(0, 1), &[Some(0)])],
            ..ModuleMeta::default()
        };
        let m5 = ModuleMeta {
            types: vec![ft(&[], &[])],
            funcs: vec![0, 0].into(),
            exports: vec![
                export("boom", ExternKind::Func, 0),
                export("recurse", ExternKind::Func, 1),
            ],
            ..ModuleMeta::default()
        };
        // A stand-in for the compiled spectest module: `print_i32` of type [i32] -> [].
        let spectest = ModuleMeta {
            types: vec![ft(&[i32_], &[])],
            funcs: vec![0].into(),
            exports: vec![export("print_i32", ExternKind::Func, 0)],
            ..ModuleMeta::default()
        };
        let f = forty_two as *const u8;
        vec![
            descriptor(&m0, b"a", &[f, load8 as *const u8]),
            descriptor(&m1, &[], &[]),
            descriptor(&m2, &[], &[]),
            descriptor(&m3, &[], &[]),
            descriptor(&m4, &[], &[f]),
            descriptor(
                &m5,
                &[],
                &[
                    aot_rt_test_unreachable as *const u8,
                    aot_rt_test_recurse as *const u8,
                ],
            ),
            descriptor(&spectest, &[], &[ignore_i32 as *const u8]),
        ]
    }

    /// The module index of the spectest stand-in in [`modules`].
    const SPECTEST: u32 = 6;

    unsafe extern "C" fn ignore_i32(_vmctx: *mut u8, _v: i32) {}

    #[test]
    fn driver_reports_one_line_per_command() {
        use Expected::Exact;
        let script = Script {
            spectest: Some(SPECTEST),
            commands: vec![
                (
                    1,
                    Command::Module {
                        module: 0,
                        name: Some("$a".into()),
                    },
                ),
                (
                    2,
                    returns(invoke(None, "f", vec![]), vec![Exact(Value::I32(42))]),
                ),
                (
                    3,
                    returns(
                        Get {
                            instance: None,
                            field: "g".into(),
                        },
                        vec![Exact(Value::I32(7))],
                    ),
                ),
                (
                    4,
                    returns(invoke(None, "f", vec![]), vec![Exact(Value::I32(43))]),
                ),
                (
                    5,
                    Command::Register {
                        as_name: "M".into(),
                        instance: None,
                    },
                ),
                (
                    6,
                    Command::Module {
                        module: 1,
                        name: None,
                    },
                ),
                (
                    7,
                    returns(invoke(None, "f2", vec![]), vec![Exact(Value::I32(42))]),
                ),
                (
                    8,
                    returns(
                        invoke(Some("$a"), "load", vec![Value::I32(0)]),
                        vec![Exact(Value::I32(0x61))],
                    ),
                ),
                (
                    9,
                    Command::AssertUnlinkable {
                        module: 2,
                        message: "unknown import".into(),
                    },
                ),
                (
                    10,
                    Command::AssertUnlinkable {
                        module: 3,
                        message: "incompatible import type".into(),
                    },
                ),
                (
                    11,
                    Command::AssertUninstantiable {
                        module: 4,
                        message: "out of bounds table access".into(),
                    },
                ),
                (
                    12,
                    Command::AssertUnlinkable {
                        module: 4,
                        message: "unknown import".into(),
                    },
                ),
                (
                    13,
                    Command::Module {
                        module: 5,
                        name: None,
                    },
                ),
                (
                    14,
                    Command::AssertTrap {
                        action: invoke(None, "boom", vec![]),
                        message: "unreachable".into(),
                    },
                ),
                (
                    15,
                    Command::AssertExhaustion {
                        action: invoke(None, "recurse", vec![]),
                        message: "call stack exhausted".into(),
                    },
                ),
                (
                    16,
                    Command::AssertTrap {
                        action: invoke(None, "recurse", vec![]),
                        message: "unreachable".into(),
                    },
                ),
                (17, Command::Action(invoke(None, "boom", vec![]))),
                (18, Command::Action(invoke(None, "missing", vec![]))),
                (19, returns(invoke(Some("$nope"), "f", vec![]), vec![])),
                (
                    20,
                    returns(invoke(Some("$a"), "load", vec![Value::F32(0)]), vec![]),
                ),
                (
                    21,
                    Command::Module {
                        module: 99,
                        name: None,
                    },
                ),
                (22, Command::Action(invoke(None, "boom", vec![]))),
            ],
        };
        let mut out = Vec::new();
        let summary = run(&modules(), &script, &mut out);
        let out = String::from_utf8(out).expect("utf-8 output");
        let expected = "\
ok 1
ok 2
ok 3
FAIL 4: expected [i32:43 (0x2b)], got [i32:42 (0x2a)]
ok 5
ok 6
ok 7
ok 8
ok 9
ok 10
ok 11
FAIL 12: expected link error `unknown import`, got: wasm trap: undefined element: out of bounds table access
ok 13
ok 14
ok 15
FAIL 16: expected trap `unreachable`, got trap: call stack exhausted
FAIL 17: unexpected trap: wasm `unreachable` instruction executed
FAIL 18: no function exported as `missing`
FAIL 19: no instance named `$nope`
FAIL 20: argument 0 of `load` is f32:0 (0x00000000), the parameter is i32
FAIL 21: instantiation failed: module 99 does not exist (the program has 7)
FAIL 22: no current instance
summary: 13 passed, 9 failed
";
        assert_eq!(out, expected);
        assert_eq!(
            summary,
            Summary {
                passed: 13,
                failed: 9
            }
        );
    }

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
    fn v128_lanes() {
        use Expected::*;
        let v = |x: u128| ValRaw(x.to_le_bytes());
        // i16x8 lanes 0..8 = 1, 2, ..., 8, written as the script's signed values.
        let lanes16: u128 = (0..8).map(|i| (i as u128 + 1) << (16 * i)).sum();
        let want = V128Lanes {
            lane_bits: 16,
            lanes: (1..=8).map(|i| Exact(Value::I32(i))).collect(),
        };
        assert!(result_matches(&want, ValType::V128, &v(lanes16)));
        assert!(!result_matches(&want, ValType::V128, &v(lanes16 + 1)));
        assert!(
            !result_matches(&want, ValType::I64, &v(lanes16)),
            "not a v128"
        );
        // -1 as an i8 lane is 0xff, the script gives it sign-extended.
        let minus_one = V128Lanes {
            lane_bits: 8,
            lanes: vec![Exact(Value::I32(-1i32 as u32)); 16],
        };
        assert!(result_matches(&minus_one, ValType::V128, &v(u128::MAX)));
        // f32x4 [nan:canonical, nan:arithmetic, 1.0, -0.0]
        let floats = V128Lanes {
            lane_bits: 32,
            lanes: vec![
                F32CanonicalNan,
                F32ArithmeticNan,
                Exact(Value::F32(0x3f80_0000)),
                Exact(Value::F32(0x8000_0000)),
            ],
        };
        let got =
            |l0: u32, l1: u32| {
                v(u128::from(l0)
                    | u128::from(l1) << 32
                    | 0x3f80_0000u128 << 64
                    | 0x8000_0000u128 << 96)
            };
        assert!(result_matches(
            &floats,
            ValType::V128,
            &got(0xffc0_0000, 0x7fc0_0001)
        ));
        assert!(
            !result_matches(&floats, ValType::V128, &got(0x7fc0_0001, 0x7fc0_0001)),
            "a payload is not canonical"
        );
        assert!(
            !result_matches(&floats, ValType::V128, &got(0x7fc0_0000, 0x7f80_0001)),
            "a signalling NaN is not arithmetic"
        );
        let f64s = V128Lanes {
            lane_bits: 64,
            lanes: vec![F64ArithmeticNan, Exact(Value::F64(0))],
        };
        assert!(result_matches(
            &f64s,
            ValType::V128,
            &v(0x7ff8_0000_0000_0001)
        ));
        assert!(!result_matches(
            &f64s,
            ValType::V128,
            &v(0x7ff0_0000_0000_0001)
        ));
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
            &ValRaw::from_u64(host_ref(0))
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
            Some(ValRaw::from_u64(host_ref(41)))
        );
        assert_eq!(
            show_raw(ValType::ExternRef, &ValRaw::from_u64(host_ref(41))),
            "externref:41"
        );
        assert_eq!(value_to_raw(&Value::I32(1), ValType::F32), None);
    }

    /// `ref.struct`, `ref.array`, `ref.i31`, `ref.eq`, `ref.any` and `ref.host` are told
    /// apart by the word's tag and the object's type info, only in the `any` hierarchy.
    #[test]
    fn gc_reference_patterns() {
        use Expected::*;
        use aot_abi::gc::{GC_KIND_ARRAY, GC_KIND_STRUCT, VMGcTypeInfo, host_ref, i31_ref};
        use aot_abi::{HeapType, RefType};
        let info = |kind| VMGcTypeInfo {
            kind,
            type_id: 1,
            depth: 0,
            size: 8,
            num_ref_offsets: 0,
            elem_is_ref: 0,
            ref_offsets: std::ptr::null(),
            display: std::ptr::null(),
        };
        let (s, a) = (info(GC_KIND_STRUCT), info(GC_KIND_ARRAY));
        // Objects: a header word pointing at the info (8-aligned boxes).
        let s_obj = Box::new(&s as *const VMGcTypeInfo as u64);
        let a_obj = Box::new(&a as *const VMGcTypeInfo as u64);
        let word = |b: &u64| ValRaw::from_u64(b as *const u64 as u64);
        let any = ValType::Ref(RefType {
            nullable: true,
            heap: HeapType::Any,
        });
        let cases = [
            (ValRaw::default(), [false, false, false, false, false]),
            (
                ValRaw::from_u64(i31_ref(7)),
                [true, true, true, false, false],
            ),
            (
                ValRaw::from_u64(host_ref(3)),
                [true, false, false, false, false],
            ),
            (word(&s_obj), [true, true, false, true, false]),
            (word(&a_obj), [true, true, false, false, true]),
        ];
        for (got, want) in cases {
            let matched =
                [AnyRef, EqRef, I31Ref, StructRef, ArrayRef].map(|e| result_matches(&e, any, &got));
            assert_eq!(matched, want, "{:#x}", got.u64());
        }
        assert!(!result_matches(
            &AnyRef,
            ValType::ExternRef,
            &ValRaw::from_u64(6)
        ));
        assert!(!result_matches(
            &AnyRef,
            ValType::FuncRef,
            &ValRaw::from_u64(8)
        ));
        assert!(result_matches(
            &Exact(Value::HostRef(3)),
            any,
            &ValRaw::from_u64(host_ref(3))
        ));
        assert!(result_matches(
            &Exact(Value::NullAnyRef),
            any,
            &ValRaw::default()
        ));
        assert_eq!(value_to_raw(&Value::HostRef(3), ValType::FuncRef), None);
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
        assert!(
            check_results(
                &[
                    Expected::Exact(Value::I32(1)),
                    Expected::Exact(Value::I32(1))
                ],
                &got
            )
            .is_err()
        );
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
        for wording in [
            "null reference",
            "null structure reference",
            "null array reference",
            "null i31 reference",
        ] {
            assert!(trap_matches(TrapKind::NullReference, wording), "{wording}");
            assert!(!trap_matches(TrapKind::CastFailure, wording), "{wording}");
        }
        assert!(trap_matches(TrapKind::CastFailure, "cast failure"));
        assert!(trap_matches(
            TrapKind::ArrayOutOfBounds,
            "out of bounds array access"
        ));
        assert!(!trap_matches(
            TrapKind::MemoryOutOfBounds,
            "out of bounds array access"
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
