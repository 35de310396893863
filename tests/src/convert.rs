//! Turns one `.wast` script into what the harness compiles, links and runs.
//!
//! Every directive of the script becomes one counted [`Case`]. Modules are compiled here,
//! in script order, through the caller's compile function (so this module does not depend
//! on the compiler and can be tested with a fake one). assert_invalid and
//! assert_malformed are decided here and never reach the executable. All other commands
//! go into an [`aot_abi::script::Script`] that the runtime's spec driver executes; their
//! outcome comes from its result lines.
//!
//! A module that should compile but does not fails its own case, and every later command
//! that acts on that instance fails here too, naming the module: sending it to the runtime
//! would run it against whichever instance happened to be current before, which could
//! pass by accident.

use std::collections::HashMap;
use std::fmt;

use aot_abi::script::{Action, Command, Expected, Script, Value};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use crate::{one_line, panics};

/// Where a command is in its script: its line, and which of the commands starting on that
/// line it is (a few scripts put two commands on one line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId {
    pub line: u32,
    /// 1 for the first command on the line.
    pub nth: u32,
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nth == 1 {
            write!(f, "{}", self.line)
        } else {
            write!(f, "{}#{}", self.line, self.nth)
        }
    }
}

impl std::str::FromStr for CaseId {
    type Err = String;

    fn from_str(s: &str) -> Result<CaseId, String> {
        let (line, nth) = match s.split_once('#') {
            Some((l, n)) => (
                l,
                n.parse()
                    .map_err(|_| format!("bad command number in `{s}`"))?,
            ),
            None => (s, 1),
        };
        let line = line
            .parse()
            .map_err(|_| format!("bad line number in `{s}`"))?;
        if nth == 0 {
            return Err(format!("bad command number in `{s}`"));
        }
        Ok(CaseId { line, nth })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// Sent to the runtime; decided by its result line.
    Runtime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub id: CaseId,
    /// The directive, e.g. `assert_return`.
    pub kind: &'static str,
    pub outcome: Outcome,
    /// A module that should compile was rejected by the compiler (with an error, not a
    /// panic): an unsupported feature, see [`crate::known`].
    pub rejected: bool,
}

/// Why a module did not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileFailure {
    /// The compiler panicked (always a failure, also where rejection was expected).
    pub panicked: bool,
    pub message: String,
}

/// A converted script.
#[derive(Debug, Default)]
pub struct Converted {
    /// Object file of each module the program holds; the index is its module number.
    pub objects: Vec<Vec<u8>>,
    /// The commands for the runtime.
    pub script: Script,
    /// `cases[script_cases[i]]` is the case of `script.commands[i]`.
    pub script_cases: Vec<usize>,
    /// Every directive of the file, in order.
    pub cases: Vec<Case>,
}

/// Why a module that should compile did not.
struct NotCompiled {
    why: String,
    /// The compiler returned an error (not a panic, not a text that did not encode).
    rejected: bool,
}

/// Whether an instance the script names exists.
#[derive(Clone, Copy, Debug)]
enum Instance {
    Compiled,
    /// The module at this line should have compiled and did not.
    Failed(u32),
}

struct Converter<'f, F> {
    file: &'f str,
    text: &'f str,
    compile: F,
    out: Converted,
    per_line: HashMap<u32, u32>,
    current: Option<Instance>,
    named: HashMap<String, Instance>,
    /// `(module definition $m ...)`: the module number, or the line of a module that did
    /// not compile.
    definitions: HashMap<String, Result<u32, u32>>,
}

/// Parses `text` (the script `file`) and converts it, compiling its modules with
/// `compile(wasm, "<file>:<line>", module index)`, which returns an object file or an error
/// message. A script that does not parse becomes one failing case at the line of the error.
pub fn convert<F>(file: &str, text: &str, compile: F) -> Converted
where
    F: FnMut(&[u8], &str, usize) -> Result<Vec<u8>, String>,
{
    let mut lexer = Lexer::new(text);
    // Some scripts (names.wast) deliberately use confusable Unicode in strings.
    lexer.allow_confusing_unicode(true);
    let directives = ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
        parser::parse::<Wast>(&buf).map(|w| {
            let mut c = Converter {
                file,
                text,
                compile,
                out: Converted::default(),
                per_line: HashMap::new(),
                current: None,
                named: HashMap::new(),
                definitions: HashMap::new(),
            };
            for d in w.directives {
                c.directive(d);
            }
            c.out
        })
    });
    match directives {
        Ok(out) => out,
        Err(e) => Converted {
            cases: vec![Case {
                id: CaseId {
                    line: line_of(e.span(), text),
                    nth: 1,
                },
                kind: "script",
                outcome: Outcome::Fail(format!(
                    "cannot parse the script: {}",
                    one_line(&e.message())
                )),
                rejected: false,
            }],
            ..Converted::default()
        },
    }
}

fn line_of(span: Span, text: &str) -> u32 {
    span.linecol_in(text).0 as u32 + 1
}

fn id_name(id: Option<Id<'_>>) -> Option<String> {
    id.map(|id| format!("${}", id.name()))
}

impl<F> Converter<'_, F>
where
    F: FnMut(&[u8], &str, usize) -> Result<Vec<u8>, String>,
{
    fn next_id(&mut self, line: u32) -> CaseId {
        let nth = self.per_line.entry(line).or_insert(0);
        *nth += 1;
        CaseId { line, nth: *nth }
    }

    fn decide(&mut self, id: CaseId, kind: &'static str, outcome: Outcome) {
        self.out.cases.push(Case {
            id,
            kind,
            outcome,
            rejected: false,
        });
    }

    /// A module that should have compiled did not.
    fn decide_not_compiled(&mut self, id: CaseId, kind: &'static str, failure: NotCompiled) {
        self.decide(id, kind, Outcome::Fail(failure.why));
        if let Some(case) = self.out.cases.last_mut() {
            case.rejected = failure.rejected;
        }
    }

    fn send_to_runtime(&mut self, id: CaseId, kind: &'static str, command: Command) {
        self.out.script.commands.push((id.line, command));
        self.out.script_cases.push(self.out.cases.len());
        self.decide(id, kind, Outcome::Runtime);
    }

    /// Compiles a module that is expected to compile; on success it becomes the next
    /// module of the program and its number is returned.
    fn compile_valid(
        &mut self,
        line: u32,
        encoded: Result<Vec<u8>, String>,
    ) -> Result<u32, NotCompiled> {
        let wasm = encoded.map_err(|why| NotCompiled {
            why,
            rejected: false,
        })?;
        let index = self.out.objects.len();
        match self.compile_wasm(line, &wasm, index) {
            Ok(obj) => {
                self.out.objects.push(obj);
                Ok(index as u32)
            }
            Err(f) if f.panicked => Err(NotCompiled {
                why: f.message,
                rejected: false,
            }),
            Err(f) => Err(NotCompiled {
                why: format!("compile error: {}", f.message),
                rejected: true,
            }),
        }
    }

    fn compile_wasm(
        &mut self,
        line: u32,
        wasm: &[u8],
        index: usize,
    ) -> Result<Vec<u8>, CompileFailure> {
        let name = format!("{}:{line}", self.file);
        let compile = &mut self.compile;
        match panics::catch(|| compile(wasm, &name, index)) {
            Ok(Ok(obj)) => Ok(obj),
            Ok(Err(message)) => Err(CompileFailure {
                panicked: false,
                message: one_line(&message),
            }),
            Err(message) => Err(CompileFailure {
                panicked: true,
                message,
            }),
        }
    }

    /// The instance an action or register names must exist; `None` is the current one.
    fn check_instance(&self, name: &Option<String>) -> Result<(), String> {
        let state = match name {
            None => self.current,
            Some(n) => self.named.get(n).copied(),
        };
        match state {
            Some(Instance::Failed(line)) => {
                Err(format!("the module at line {line} did not compile"))
            }
            // A missing instance is the runtime's to report.
            Some(Instance::Compiled) | None => Ok(()),
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) {
        let line = line_of(d.span(), self.text);
        let id = self.next_id(line);
        match d {
            WastDirective::Module(mut module) => {
                let name = id_name(module.name());
                let encoded = encode_quote(&mut module);
                let state = match self.compile_valid(line, encoded) {
                    Ok(index) => {
                        self.send_to_runtime(
                            id,
                            "module",
                            Command::Module {
                                module: index,
                                name: name.clone(),
                            },
                        );
                        Instance::Compiled
                    }
                    Err(failure) => {
                        self.decide_not_compiled(id, "module", failure);
                        Instance::Failed(line)
                    }
                };
                self.current = Some(state);
                if let Some(name) = name {
                    self.named.insert(name, state);
                }
            }
            // A definition must compile; it is instantiated only by `module instance`.
            WastDirective::ModuleDefinition(mut module) => {
                let name = id_name(module.name());
                let encoded = encode_quote(&mut module);
                let state = match self.compile_valid(line, encoded) {
                    Ok(index) => {
                        self.decide(id, "module definition", Outcome::Pass);
                        Ok(index)
                    }
                    Err(failure) => {
                        self.decide_not_compiled(id, "module definition", failure);
                        Err(line)
                    }
                };
                if let Some(name) = name {
                    self.definitions.insert(name, state);
                }
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let name = id_name(instance);
                let definition = id_name(module).and_then(|m| self.definitions.get(&m).copied());
                let state = match definition {
                    Some(Ok(module)) => {
                        let command = Command::Module {
                            module,
                            name: name.clone(),
                        };
                        self.send_to_runtime(id, "module instance", command);
                        Instance::Compiled
                    }
                    Some(Err(at)) => {
                        let why = format!("the module at line {at} did not compile");
                        self.decide(id, "module instance", Outcome::Fail(why));
                        Instance::Failed(at)
                    }
                    None => {
                        let why = "module instance of an unknown module definition".to_string();
                        self.decide(id, "module instance", Outcome::Fail(why));
                        Instance::Failed(line)
                    }
                };
                self.current = Some(state);
                if let Some(name) = name {
                    self.named.insert(name, state);
                }
            }
            WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let outcome = self.expect_rejection(line, &mut module, message);
                self.decide(id, "assert_malformed", outcome);
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            } => {
                let outcome = self.expect_rejection(line, &mut module, message);
                self.decide(id, "assert_invalid", outcome);
            }
            WastDirective::Register { name, module, .. } => {
                let instance = id_name(module);
                match self.check_instance(&instance) {
                    Ok(()) => self.send_to_runtime(
                        id,
                        "register",
                        Command::Register {
                            as_name: name.to_string(),
                            instance,
                        },
                    ),
                    Err(why) => self.decide(id, "register", Outcome::Fail(why)),
                }
            }
            WastDirective::Invoke(invoke) => {
                let command = self.invoke(&invoke).map(Command::Action);
                self.action_case(id, "invoke", command);
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let command = self.execute(&exec).and_then(|action| {
                    let expected = results
                        .iter()
                        .map(expected)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Command::AssertReturn { action, expected })
                });
                self.action_case(id, "assert_return", command);
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(mut wat),
                message,
                ..
            } => {
                let encoded = encode_wat(&mut wat);
                match self.compile_valid(line, encoded) {
                    Ok(module) => self.send_to_runtime(
                        id,
                        "assert_trap",
                        Command::AssertUninstantiable {
                            module,
                            message: message.to_string(),
                        },
                    ),
                    Err(failure) => self.decide_not_compiled(id, "assert_trap", failure),
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let command = self.execute(&exec).map(|action| Command::AssertTrap {
                    action,
                    message: message.to_string(),
                });
                self.action_case(id, "assert_trap", command);
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let command = self.invoke(&call).map(|action| Command::AssertExhaustion {
                    action,
                    message: message.to_string(),
                });
                self.action_case(id, "assert_exhaustion", command);
            }
            WastDirective::AssertException { exec, .. } => {
                let command = self
                    .execute(&exec)
                    .map(|action| Command::AssertException { action });
                self.action_case(id, "assert_exception", command);
            }
            WastDirective::AssertUnlinkable {
                module: mut wat,
                message,
                ..
            } => {
                let encoded = encode_wat(&mut wat);
                match self.compile_valid(line, encoded) {
                    Ok(module) => self.send_to_runtime(
                        id,
                        "assert_unlinkable",
                        Command::AssertUnlinkable {
                            module,
                            message: message.to_string(),
                        },
                    ),
                    Err(failure) => self.decide_not_compiled(id, "assert_unlinkable", failure),
                }
            }
            other => {
                let kind = directive_kind(&other);
                self.decide(
                    id,
                    kind,
                    Outcome::Fail(format!("{kind} is not supported by the spec harness")),
                );
            }
        }
    }

    /// assert_invalid / assert_malformed: rejected by the text parser or by the compiler.
    fn expect_rejection(&mut self, line: u32, module: &mut QuoteWat<'_>, message: &str) -> Outcome {
        if is_component(module) {
            return Outcome::Fail("components are not supported by the spec harness".to_string());
        }
        let wasm = match module.encode() {
            Ok(wasm) => wasm,
            // The text parser rejected it; aot reads text through the same parser family.
            Err(_) => return Outcome::Pass,
        };
        let index = self.out.objects.len();
        match self.compile_wasm(line, &wasm, index) {
            Ok(_) => Outcome::Fail(format!(
                "module was accepted, expected rejection: {message}"
            )),
            Err(f) if f.panicked => Outcome::Fail(f.message),
            Err(_) => Outcome::Pass,
        }
    }

    fn action_case(&mut self, id: CaseId, kind: &'static str, command: Result<Command, String>) {
        match command {
            Ok(command) => self.send_to_runtime(id, kind, command),
            Err(why) => self.decide(id, kind, Outcome::Fail(why)),
        }
    }

    fn invoke(&self, invoke: &WastInvoke<'_>) -> Result<Action, String> {
        let instance = id_name(invoke.module);
        self.check_instance(&instance)?;
        Ok(Action::Invoke {
            instance,
            field: invoke.name.to_string(),
            args: invoke.args.iter().map(argument).collect::<Result<_, _>>()?,
        })
    }

    fn execute(&self, exec: &WastExecute<'_>) -> Result<Action, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = id_name(*module);
                self.check_instance(&instance)?;
                Ok(Action::Get {
                    instance,
                    field: global.to_string(),
                })
            }
            WastExecute::Wat(_) => {
                Err("a module in this position is not supported by the spec harness".to_string())
            }
        }
    }
}

fn is_component(module: &QuoteWat<'_>) -> bool {
    matches!(
        module,
        QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..)
    )
}

fn encode_quote(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    if is_component(module) {
        return Err("components are not supported by the spec harness".to_string());
    }
    module
        .encode()
        .map_err(|e| format!("cannot encode the module: {}", one_line(&e.message())))
}

fn encode_wat(wat: &mut Wat<'_>) -> Result<Vec<u8>, String> {
    if matches!(wat, Wat::Component(_)) {
        return Err("components are not supported by the spec harness".to_string());
    }
    wat.encode()
        .map_err(|e| format!("cannot encode the module: {}", one_line(&e.message())))
}

fn directive_kind(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
    }
}

/// The null of heap type `ty`'s hierarchy. A concrete type is taken as a function type:
/// the scripts of the gate reference only function types by index in `ref.null`.
fn null_ref(ty: &HeapType<'_>) -> Option<Value> {
    use AbstractHeapType as A;
    match ty {
        HeapType::Abstract { shared: false, ty } => match ty {
            A::Func | A::NoFunc => Some(Value::NullFuncRef),
            A::Extern | A::NoExtern => Some(Value::NullExternRef),
            A::Any | A::None | A::Eq | A::I31 | A::Struct | A::Array => Some(Value::NullAnyRef),
            A::Exn | A::NoExn => Some(Value::NullExnRef),
            A::Cont | A::NoCont => None,
        },
        HeapType::Concrete(_) => Some(Value::NullFuncRef),
        _ => None,
    }
}

fn argument(arg: &WastArg<'_>) -> Result<Value, String> {
    let WastArg::Core(core) = arg else {
        return Err("component-model arguments are not supported".to_string());
    };
    Ok(match core {
        WastArgCore::I32(x) => Value::I32(*x as u32),
        WastArgCore::I64(x) => Value::I64(*x as u64),
        WastArgCore::F32(x) => Value::F32(x.bits),
        WastArgCore::F64(x) => Value::F64(x.bits),
        WastArgCore::V128(x) => Value::V128(u128::from_le_bytes(x.to_le_bytes())),
        WastArgCore::RefNull(ty) => {
            null_ref(ty).ok_or_else(|| format!("unsupported argument (ref.null {ty:?})"))?
        }
        WastArgCore::RefExtern(n) => Value::ExternRef(*n),
        WastArgCore::RefHost(n) => Value::HostRef(*n),
    })
}

fn expected(ret: &WastRet<'_>) -> Result<Expected, String> {
    match ret {
        WastRet::Core(core) => expected_core(core),
        _ => Err("component-model results are not supported".to_string()),
    }
}

fn expected_core(ret: &WastRetCore<'_>) -> Result<Expected, String> {
    Ok(match ret {
        WastRetCore::I32(x) => Expected::Exact(Value::I32(*x as u32)),
        WastRetCore::I64(x) => Expected::Exact(Value::I64(*x as u64)),
        WastRetCore::F32(NanPattern::CanonicalNan) => Expected::F32CanonicalNan,
        WastRetCore::F32(NanPattern::ArithmeticNan) => Expected::F32ArithmeticNan,
        WastRetCore::F32(NanPattern::Value(x)) => Expected::Exact(Value::F32(x.bits)),
        WastRetCore::F64(NanPattern::CanonicalNan) => Expected::F64CanonicalNan,
        WastRetCore::F64(NanPattern::ArithmeticNan) => Expected::F64ArithmeticNan,
        WastRetCore::F64(NanPattern::Value(x)) => Expected::Exact(Value::F64(x.bits)),
        // Untyped `ref.null`: either null will do.
        WastRetCore::RefNull(None) => Expected::Either(vec![
            Expected::Exact(Value::NullFuncRef),
            Expected::Exact(Value::NullExternRef),
            Expected::Exact(Value::NullAnyRef),
            Expected::Exact(Value::NullExnRef),
        ]),
        WastRetCore::RefNull(Some(ty)) => Expected::Exact(
            null_ref(ty).ok_or_else(|| format!("unsupported result (ref.null {ty:?})"))?,
        ),
        WastRetCore::RefExtern(Some(n)) => Expected::Exact(Value::ExternRef(*n)),
        WastRetCore::RefExtern(None) => Expected::AnyExternRef,
        WastRetCore::RefFunc(_) => Expected::AnyFuncRef,
        WastRetCore::RefHost(n) => Expected::Exact(Value::HostRef(*n)),
        WastRetCore::RefAny => Expected::AnyRef,
        WastRetCore::RefEq => Expected::EqRef,
        WastRetCore::RefI31 => Expected::I31Ref,
        WastRetCore::RefStruct => Expected::StructRef,
        WastRetCore::RefArray => Expected::ArrayRef,
        WastRetCore::Either(alts) => {
            Expected::Either(alts.iter().map(expected_core).collect::<Result<_, _>>()?)
        }
        WastRetCore::V128(pattern) => v128_expected(pattern),
        other => {
            return Err(format!(
                "unsupported expected result {}",
                one_line(&format!("{other:?}"))
            ));
        }
    })
}

/// A v128 result checked per lane, in the shape the script writes it.
fn v128_expected(pattern: &V128Pattern) -> Expected {
    let ints = |bits: u8, lanes: Vec<u64>| Expected::V128Lanes {
        lane_bits: bits,
        lanes: lanes
            .into_iter()
            .map(|x| {
                Expected::Exact(if bits == 64 {
                    Value::I64(x)
                } else {
                    Value::I32(x as u32)
                })
            })
            .collect(),
    };
    match pattern {
        V128Pattern::I8x16(l) => ints(8, l.iter().map(|x| u64::from(*x as u8)).collect()),
        V128Pattern::I16x8(l) => ints(16, l.iter().map(|x| u64::from(*x as u16)).collect()),
        V128Pattern::I32x4(l) => ints(32, l.iter().map(|x| u64::from(*x as u32)).collect()),
        V128Pattern::I64x2(l) => ints(64, l.iter().map(|x| *x as u64).collect()),
        V128Pattern::F32x4(l) => Expected::V128Lanes {
            lane_bits: 32,
            lanes: l
                .iter()
                .map(|p| match p {
                    NanPattern::CanonicalNan => Expected::F32CanonicalNan,
                    NanPattern::ArithmeticNan => Expected::F32ArithmeticNan,
                    NanPattern::Value(x) => Expected::Exact(Value::F32(x.bits)),
                })
                .collect(),
        },
        V128Pattern::F64x2(l) => Expected::V128Lanes {
            lane_bits: 64,
            lanes: l
                .iter()
                .map(|p| match p {
                    NanPattern::CanonicalNan => Expected::F64CanonicalNan,
                    NanPattern::ArithmeticNan => Expected::F64ArithmeticNan,
                    NanPattern::Value(x) => Expected::Exact(Value::F64(x.bits)),
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiler that "compiles" every module to one byte (its index) and records the names
    /// it was called with.
    fn accept_all(
        names: &mut Vec<String>,
    ) -> impl FnMut(&[u8], &str, usize) -> Result<Vec<u8>, String> + '_ {
        move |wasm: &[u8], name: &str, index: usize| {
            assert!(wasm.starts_with(b"\0asm"), "{name}: not a binary module");
            names.push(name.to_string());
            Ok(vec![index as u8])
        }
    }

    fn outcomes(c: &Converted) -> Vec<(String, &'static str, Outcome)> {
        c.cases
            .iter()
            .map(|c| (c.id.to_string(), c.kind, c.outcome.clone()))
            .collect()
    }

    const SCRIPT: &str = r#"(module $A
  (func (export "f") (param i32) (result i32) local.get 0)
  (global (export "g") i32 (i32.const 7)))
(register "a" $A)
(assert_return (invoke "f" (i32.const -1)) (i32.const 0xffffffff))
(assert_return (invoke $A "f" (i32.const 2)) (either (i32.const 1) (i32.const 2)))
(invoke "f" (i32.const 3))
(assert_trap (invoke "f" (i32.const 4)) "unreachable") (assert_return (get "g") (i32.const 7))
(assert_exhaustion (invoke "f" (i32.const 5)) "call stack exhausted")
(module (func (export "h") (param f32 f64 externref funcref) (result f32 f64 f32 f64 externref externref funcref funcref)
  unreachable))
(assert_return
  (invoke "h" (f32.const -0x1p+0) (f64.const 1.5) (ref.extern 3) (ref.null func))
  (f32.const nan:canonical) (f64.const nan:arithmetic) (f32.const -0x1p+0) (f64.const nan:canonical)
  (ref.extern 3) (ref.extern) (ref.func) (ref.null func))
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")
(assert_unlinkable (module (import "a" "nope" (func))) "unknown import")
"#;

    #[test]
    fn converts_commands_values_and_lines() {
        let mut names = Vec::new();
        let c = convert("t.wast", SCRIPT, accept_all(&mut names));
        assert_eq!(
            names,
            vec!["t.wast:1", "t.wast:10", "t.wast:16", "t.wast:17"]
        );
        assert_eq!(c.objects, vec![vec![0], vec![1], vec![2], vec![3]]);
        let invoke = |instance: Option<&str>, field: &str, args: Vec<Value>| Action::Invoke {
            instance: instance.map(str::to_string),
            field: field.to_string(),
            args,
        };
        let expected_commands = vec![
            (
                1,
                Command::Module {
                    module: 0,
                    name: Some("$A".into()),
                },
            ),
            (
                4,
                Command::Register {
                    as_name: "a".into(),
                    instance: Some("$A".into()),
                },
            ),
            (
                5,
                Command::AssertReturn {
                    action: invoke(None, "f", vec![Value::I32(0xffff_ffff)]),
                    expected: vec![Expected::Exact(Value::I32(0xffff_ffff))],
                },
            ),
            (
                6,
                Command::AssertReturn {
                    action: invoke(Some("$A"), "f", vec![Value::I32(2)]),
                    expected: vec![Expected::Either(vec![
                        Expected::Exact(Value::I32(1)),
                        Expected::Exact(Value::I32(2)),
                    ])],
                },
            ),
            (7, Command::Action(invoke(None, "f", vec![Value::I32(3)]))),
            (
                8,
                Command::AssertTrap {
                    action: invoke(None, "f", vec![Value::I32(4)]),
                    message: "unreachable".into(),
                },
            ),
            (
                8,
                Command::AssertReturn {
                    action: Action::Get {
                        instance: None,
                        field: "g".into(),
                    },
                    expected: vec![Expected::Exact(Value::I32(7))],
                },
            ),
            (
                9,
                Command::AssertExhaustion {
                    action: invoke(None, "f", vec![Value::I32(5)]),
                    message: "call stack exhausted".into(),
                },
            ),
            (
                10,
                Command::Module {
                    module: 1,
                    name: None,
                },
            ),
            (
                12,
                Command::AssertReturn {
                    action: invoke(
                        None,
                        "h",
                        vec![
                            Value::F32(0xbf80_0000),
                            Value::F64(0x3ff8_0000_0000_0000),
                            Value::ExternRef(3),
                            Value::NullFuncRef,
                        ],
                    ),
                    expected: vec![
                        Expected::F32CanonicalNan,
                        Expected::F64ArithmeticNan,
                        Expected::Exact(Value::F32(0xbf80_0000)),
                        Expected::F64CanonicalNan,
                        Expected::Exact(Value::ExternRef(3)),
                        Expected::AnyExternRef,
                        Expected::AnyFuncRef,
                        Expected::Exact(Value::NullFuncRef),
                    ],
                },
            ),
            (
                16,
                Command::AssertUninstantiable {
                    module: 2,
                    message: "unreachable".into(),
                },
            ),
            (
                17,
                Command::AssertUnlinkable {
                    module: 3,
                    message: "unknown import".into(),
                },
            ),
        ];
        assert_eq!(c.script.commands, expected_commands);
        // Every case goes to the runtime, and the mapping points at the right cases.
        assert_eq!(c.cases.len(), 12);
        assert!(c.cases.iter().all(|c| c.outcome == Outcome::Runtime));
        assert_eq!(c.script_cases, (0..12).collect::<Vec<_>>());
        let ids: Vec<String> = c.cases.iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids[5..7], ["8".to_string(), "8#2".to_string()]);
        // The encoded script decodes to the same commands (what the runtime will read).
        assert_eq!(Script::decode(&c.script.encode()).as_ref(), Ok(&c.script));
    }

    #[test]
    fn converts_gc_result_patterns_and_host_references() {
        const GC: &str = r#"(module (func (export "f") (param anyref) (result anyref anyref anyref anyref anyref anyref anyref) unreachable))
(assert_return (invoke "f" (ref.host 1))
  (ref.any) (ref.eq) (ref.i31) (ref.struct) (ref.array) (ref.host 1) (ref.null struct))
"#;
        let mut names = Vec::new();
        let c = convert("g.wast", GC, accept_all(&mut names));
        let Some((2, Command::AssertReturn { action, expected })) = c.script.commands.get(1) else {
            panic!("no assert_return at line 2: {:?}", c.script.commands);
        };
        assert!(matches!(action, Action::Invoke { args, .. } if args == &[Value::HostRef(1)]));
        assert_eq!(
            expected,
            &[
                Expected::AnyRef,
                Expected::EqRef,
                Expected::I31Ref,
                Expected::StructRef,
                Expected::ArrayRef,
                Expected::Exact(Value::HostRef(1)),
                Expected::Exact(Value::NullAnyRef),
            ]
        );
    }

    const REJECTIONS: &str = r#"(assert_malformed (module quote "(func (i32.const 1)") "unexpected end")
(assert_malformed (module binary "\00asm" "\02\00\00\00") "unknown binary version")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_invalid (module (func (result i32) (i32.const 1))) "accepted by mistake")
(assert_invalid (module (func (result i32) (i64.const 1))) "panics")
(assert_malformed (module quote "(func (result i32) (i32.const 1))") "accepted, text")
"#;

    #[test]
    fn rejections_are_decided_at_compile_time() {
        let mut calls = Vec::new();
        let compile = |_: &[u8], name: &str, _: usize| -> Result<Vec<u8>, String> {
            calls.push(name.to_string());
            match name {
                "r.wast:2" | "r.wast:3" => Err("bad\nmodule".into()),
                "r.wast:5" => panic!("compiler bug"),
                _ => Ok(vec![]),
            }
        };
        let c = convert("r.wast", REJECTIONS, compile);
        // The unparsable quoted module never reaches the compiler.
        assert_eq!(
            calls,
            vec!["r.wast:2", "r.wast:3", "r.wast:4", "r.wast:5", "r.wast:6"]
        );
        let o = outcomes(&c);
        assert_eq!(o[0], ("1".into(), "assert_malformed", Outcome::Pass));
        assert_eq!(o[1], ("2".into(), "assert_malformed", Outcome::Pass));
        assert_eq!(o[2], ("3".into(), "assert_invalid", Outcome::Pass));
        assert_eq!(
            o[3],
            (
                "4".into(),
                "assert_invalid",
                Outcome::Fail(
                    "module was accepted, expected rejection: accepted by mistake".into()
                )
            )
        );
        assert!(matches!(&o[4].2, Outcome::Fail(why) if why.starts_with("panicked: compiler bug")));
        assert!(matches!(&o[5].2, Outcome::Fail(why) if why.contains("accepted, text")));
        assert!(c.objects.is_empty() && c.script.commands.is_empty());
    }

    const DEPENDENT: &str = r#"(module $A (func (export "f")))
(module $B (func (export "f")))
(invoke "f")
(invoke $A "f")
(register "b" $B)
(assert_return (get $B "g"))
(module (func (export "f")))
(invoke "f")
"#;

    #[test]
    fn commands_on_a_module_that_did_not_compile_fail_here() {
        let compile = |_: &[u8], name: &str, i: usize| -> Result<Vec<u8>, String> {
            if name == "d.wast:2" {
                Err("unsupported op".into())
            } else {
                Ok(vec![i as u8])
            }
        };
        let c = convert("d.wast", DEPENDENT, compile);
        let o = outcomes(&c);
        assert_eq!(o[0].2, Outcome::Runtime);
        assert_eq!(
            o[1].2,
            Outcome::Fail("compile error: unsupported op".into())
        );
        let dead = Outcome::Fail("the module at line 2 did not compile".into());
        assert_eq!(o[2].2, dead);
        assert_eq!(o[3].2, Outcome::Runtime);
        assert_eq!(o[4].2, dead);
        assert_eq!(o[5].2, dead);
        assert_eq!(o[6].2, Outcome::Runtime);
        assert_eq!(o[7].2, Outcome::Runtime);
        // The second compiled module is module 1 of the program.
        let lines: Vec<_> = c.script.commands.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 4, 7, 8]);
        assert_eq!(
            c.script.commands[2].1,
            Command::Module {
                module: 1,
                name: None
            }
        );
        assert_eq!(c.script_cases, vec![0, 3, 6, 7]);
    }

    #[test]
    fn definitions_compile_and_instances_instantiate_them() {
        const DEFS: &str = "(module definition $M (func (export \"f\")))\n(module definition $Bad (func))\n(module instance $i $M)\n(module instance $k $M)\n(invoke $i \"f\")\n(module instance $j $Bad)\n(invoke $j \"f\")\n";
        let compile = |_: &[u8], name: &str, i: usize| -> Result<Vec<u8>, String> {
            match name {
                "m.wast:2" => Err("unsupported".into()),
                _ => Ok(vec![i as u8]),
            }
        };
        let c = convert("m.wast", DEFS, compile);
        let o = outcomes(&c);
        assert_eq!(o[0], ("1".into(), "module definition", Outcome::Pass));
        assert!(c.cases[1].rejected);
        assert_eq!(o[2].2, Outcome::Runtime);
        assert_eq!(o[3].2, Outcome::Runtime);
        let dead = Outcome::Fail("the module at line 2 did not compile".into());
        assert_eq!((&o[5].2, &o[6].2), (&dead, &dead));
        assert_eq!(
            c.script.commands[..2],
            [
                (
                    3,
                    Command::Module {
                        module: 0,
                        name: Some("$i".into())
                    }
                ),
                (
                    4,
                    Command::Module {
                        module: 0,
                        name: Some("$k".into())
                    }
                )
            ]
        );
    }

    #[test]
    fn unparsable_scripts_are_one_failure_at_the_error() {
        let c = convert(
            "bad.wast",
            "(module)\n\n(assert_return (invoke \"f\") (i32.const))\n",
            accept_all(&mut Vec::new()),
        );
        assert_eq!(c.cases.len(), 1);
        assert_eq!(c.cases[0].id.line, 3);
        assert!(
            matches!(&c.cases[0].outcome, Outcome::Fail(w) if w.starts_with("cannot parse the script"))
        );
        assert!(c.script.commands.is_empty());
    }

    #[test]
    fn case_ids_round_trip() {
        for s in ["1", "181#2"] {
            assert_eq!(
                s.parse::<CaseId>().map(|c| c.to_string()),
                Ok(s.to_string())
            );
        }
        assert!("x".parse::<CaseId>().is_err());
        assert!("1#0".parse::<CaseId>().is_err());
    }

    /// The whole of wasm-v2 converts, with the command counts of `wasm-tools json-from-wast`
    /// (see TOOLCHAIN.md) and no command the harness cannot express.
    #[test]
    fn converts_all_of_wasm_v2() {
        let mut kinds: HashMap<&'static str, usize> = HashMap::new();
        let (mut runtime, mut objects, mut uninstantiable) = (0, 0, 0);
        for f in crate::suite::wasm_v2() {
            let c = convert(
                &f.name,
                f.text,
                |_: &[u8], _: &str, _: usize| Ok(Vec::new()),
            );
            for case in &c.cases {
                *kinds.entry(case.kind).or_default() += 1;
                if let Outcome::Fail(why) = &case.outcome {
                    assert!(
                        matches!(case.kind, "assert_invalid" | "assert_malformed"),
                        "{}:{}: {why}",
                        f.name,
                        case.id
                    );
                }
            }
            runtime += c.script.commands.len();
            objects += c.objects.len();
            uninstantiable += c
                .script
                .commands
                .iter()
                .filter(|(_, c)| matches!(c, Command::AssertUninstantiable { .. }))
                .count();
            assert_eq!(Script::decode(&c.script.encode()).as_ref(), Ok(&c.script));
        }
        let count = |k| kinds.get(k).copied().unwrap_or(0);
        assert_eq!(count("module"), 1126);
        assert_eq!(count("assert_return"), 21453);
        assert_eq!(count("assert_trap"), 2354 + 34);
        assert_eq!(uninstantiable, 34);
        assert_eq!(count("assert_exhaustion"), 15);
        assert_eq!(count("assert_invalid"), 1471);
        assert_eq!(count("assert_malformed"), 1300);
        assert_eq!(count("assert_unlinkable"), 83);
        assert_eq!(count("register"), 21);
        assert_eq!(count("invoke"), 155);
        assert_eq!(kinds.values().sum::<usize>(), 28012);
        assert_eq!(runtime, 28012 - 1471 - 1300);
        assert_eq!(objects, 1126 + 34 + 83);
    }
}
