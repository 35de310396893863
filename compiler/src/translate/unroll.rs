//! Which loops the translator unrolls, and how many times.
//!
//! A standalone executable can spend compile time a JIT cannot. Cranelift does not unroll
//! loops, and the code LLVM emits for Wasm rarely is unrolled. A small innermost loop that
//! carries many values from one iteration to the next then pays, every iteration, for the
//! register moves that bring the values back to where the loop header expects them:
//! SHA-256's eight working variables rotate through eight registers each round, nine
//! moves and two spills per round in a body of sixty instructions. Translating the body
//! several times in a row, each copy ending in the loop's own exit test, leaves those
//! moves on one back edge in every few iterations, and the register allocator carries
//! the values from one copy to the next in place.
//!
//! Only loops whose shape makes the copies exact are eligible: innermost (no loop
//! inside), no parameters and no results, the body ending in the branch back to the loop
//! itself (`br_if 0` or `br 0` right before the loop's `end`), and no `try_table` inside.
//! Each copy is then one whole iteration: a branch to the loop starts the next iteration
//! at the header, a branch out leaves from whichever copy it is in, and a conditional back
//! edge that fails leaves to the loop's continuation, as the loop's `end` would.
//!
//! Of those, [`Unroll::Chosen`] takes the loops the moves are costly in: no calls (a call
//! sends the carried values to callee-saved registers or the stack whatever the layout)
//! and at least [`MIN_COPIES_OF_LOCALS`] local-to-local copies (`local.get` then
//! `local.set`/`local.tee` of another local), the Wasm form of values carried around. On
//! the benchmark corpus that is SHA-256's rounds (hash 10-12% faster) with no measurable
//! size change; unrolling every eligible loop grew executables 9-27% and slowed the
//! JavaScript engine 7%.

use std::collections::HashMap;

use wasmparser::{BlockType, Operator, OperatorsReader};

/// Which loops [`plan`] unrolls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unroll {
    /// None.
    Off,
    /// The eligible loops worth it (see the module doc): the default at -O2.
    #[default]
    Chosen,
    /// Every eligible loop, at least twice: for testing the translation of the copies.
    Every,
}

/// How many body operators (the copies together) an unrolled loop may have.
const BUDGET: u32 = 400;
/// The most copies of one body: on SHA-256 four beat two by 9% and eight by 2%.
const MAX_COPIES: u32 = 4;
/// The local-to-local copies a loop needs for [`Unroll::Chosen`].
const MIN_COPIES_OF_LOCALS: u32 = 4;

/// How an unrolled loop's body returns to its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BackEdge {
    /// `br_if 0` then `end`: the loop repeats while the condition holds.
    Conditional,
    /// `br 0` then `end`: the loop leaves only by branching out.
    Always,
}

/// One loop to unroll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Byte offset of the branch back to the loop (the operator before its `end`).
    pub back_edge: usize,
    pub kind: BackEdge,
    /// How many times the body is translated (at least 2).
    pub copies: u32,
}

/// A control frame open during the scan.
#[derive(Default)]
struct Open {
    /// Byte offset of the `loop` operator, for loops.
    loop_at: Option<usize>,
    /// Whether the loop is still eligible.
    eligible: bool,
    has_call: bool,
    /// Operators in the body so far, nested ones included.
    ops: u32,
    /// Local-to-local copies in the body so far.
    local_copies: u32,
}

/// The loops of one function body to unroll, by the byte offset of their `loop`
/// operator. `reader` is positioned at the body's first operator; a body that does not
/// read back cleanly yields no plan (the translator then reports the error itself).
pub(crate) fn plan(reader: &OperatorsReader, mode: Unroll) -> HashMap<usize, Plan> {
    let mut plans = HashMap::new();
    if mode == Unroll::Off {
        return plans;
    }
    let mut r = reader.clone();
    // The function's own frame, closed by the body's last `end`.
    let mut open = vec![Open::default()];
    // Indices in `open` of the open loops.
    let mut loops: Vec<usize> = Vec::new();
    let mut back_edge: Option<(usize, BackEdge)> = None;
    let mut got: Option<u32> = None;
    while !r.eof() {
        let offset = r.original_position() as usize;
        let Ok(op) = r.read() else {
            return HashMap::new();
        };
        let inner = loops.last().map(|&i| &mut open[i]);
        if let Some(l) = inner {
            l.ops += 1;
            match op {
                Operator::LocalSet { local_index } | Operator::LocalTee { local_index }
                    if got.is_some_and(|g| g != local_index) =>
                {
                    l.local_copies += 1
                }
                Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::CallRef { .. } => l.has_call = true,
                // A loop inside, or a handler: each copy would get its own landing pad and
                // catch table, more code for loops that are rarely hot.
                Operator::Loop { .. } | Operator::TryTable { .. } | Operator::Try { .. } => {
                    l.eligible = false
                }
                _ => {}
            }
        }
        got = match op {
            Operator::LocalGet { local_index } => Some(local_index),
            _ => None,
        };
        let this_edge = match op {
            Operator::BrIf { relative_depth: 0 } => Some((offset, BackEdge::Conditional)),
            Operator::Br { relative_depth: 0 } => Some((offset, BackEdge::Always)),
            _ => None,
        };
        match op {
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => open.push(Open::default()),
            Operator::Loop { blockty } => {
                loops.push(open.len());
                open.push(Open {
                    loop_at: Some(offset),
                    eligible: blockty == BlockType::Empty,
                    ..Open::default()
                });
            }
            Operator::End | Operator::Delegate { .. } => {
                let Some(frame) = open.pop() else {
                    return HashMap::new();
                };
                if let (Some(at), Some((edge_at, kind))) = (frame.loop_at, back_edge)
                    && let Some(copies) = copies(&frame, mode)
                {
                    plans.insert(
                        at,
                        Plan {
                            back_edge: edge_at,
                            kind,
                            copies,
                        },
                    );
                }
                if frame.loop_at.is_some() {
                    loops.pop();
                }
            }
            _ => {}
        }
        back_edge = this_edge;
    }
    plans
}

/// How many copies of `frame`'s body to translate, if it is to be unrolled: `frame` is an
/// innermost loop whose `end` follows its back edge.
fn copies(frame: &Open, mode: Unroll) -> Option<u32> {
    if !frame.eligible {
        return None;
    }
    // The body without its back edge and the loop's `end`.
    let body = frame.ops.saturating_sub(2).max(1);
    let fit = (BUDGET / body).min(MAX_COPIES);
    match mode {
        Unroll::Off => None,
        Unroll::Chosen => {
            (!frame.has_call && frame.local_copies >= MIN_COPIES_OF_LOCALS && fit >= 2)
                .then_some(fit)
        }
        Unroll::Every => Some(fit.max(2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (back edge, copies) of each loop planned in the first function of `wat`, in the
    /// order of the loops.
    fn plan_of(wat: &str, mode: Unroll) -> Vec<(BackEdge, u32)> {
        let module = crate::module::parse_test_wat(wat);
        let reader = module.bodies[0]
            .body
            .get_operators_reader()
            .expect("operators");
        let mut v: Vec<_> = plan(&reader, mode).into_iter().collect();
        v.sort_by_key(|(at, _)| *at);
        v.into_iter().map(|(_, p)| (p.kind, p.copies)).collect()
    }

    /// A module whose first function, of one i32 parameter and four i32 locals, has
    /// `body`.
    fn func(body: &str) -> String {
        format!("(module (func (param i32) (local i32 i32 i32 i32) {body}))")
    }

    /// A loop rotating four locals (four local-to-local copies) with `extra` in the middle.
    fn rotating(extra: &str, back_edge: &str) -> String {
        format!(
            "(loop
               local.get 1 local.get 2 i32.add local.set 1
               local.get 2 local.set 3  local.get 3 local.set 4
               local.get 4 local.set 1  local.get 1 local.set 2
               {extra}
               local.get 0 i32.const 1 i32.sub local.tee 0
               {back_edge})"
        )
    }

    #[test]
    fn chosen_loops_carry_values_and_make_no_calls() {
        let brif = func(&rotating("", "br_if 0"));
        assert_eq!(plan_of(&brif, Unroll::Chosen), [(BackEdge::Conditional, 4)]);
        let br = func(&rotating("", "i32.eqz (if (then return)) br 0"));
        assert_eq!(plan_of(&br, Unroll::Chosen), [(BackEdge::Always, 4)]);
        assert_eq!(plan_of(&brif, Unroll::Off), []);
        // A call, or too few copies of locals: eligible, but not chosen.
        let call = func(&rotating("local.get 0 call 0", "br_if 0"));
        assert_eq!(plan_of(&call, Unroll::Chosen), []);
        assert_eq!(plan_of(&call, Unroll::Every), [(BackEdge::Conditional, 4)]);
        let counting = func("(loop local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0)");
        assert_eq!(plan_of(&counting, Unroll::Chosen), []);
        assert_eq!(
            plan_of(&counting, Unroll::Every),
            [(BackEdge::Conditional, 4)]
        );
    }

    #[test]
    fn only_innermost_loops_of_the_exact_shape_are_eligible() {
        // Code after the back edge: the body does not end in it.
        let after = func(&rotating("", "br_if 0 nop"));
        assert_eq!(plan_of(&after, Unroll::Every), []);
        // A branch to an outer block is no back edge.
        let out = func(&format!("(block {})", rotating("", "br_if 1")));
        assert_eq!(plan_of(&out, Unroll::Every), []);
        // A loop with a result.
        let result = func(
            "(loop (result i32) local.get 1 i32.const 1 i32.add local.tee 1
                local.get 1 i32.const 9 i32.lt_u br_if 0) drop",
        );
        assert_eq!(plan_of(&result, Unroll::Every), []);
        // Nested loops: only the inner one.
        let nested = func(&format!(
            "(loop {} local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0)",
            rotating("", "br_if 0")
        ));
        assert_eq!(
            plan_of(&nested, Unroll::Every),
            [(BackEdge::Conditional, 4)]
        );
        // A large body gets fewer copies, down to two (and none unless every loop is
        // unrolled).
        let big = func(&rotating(&"local.get 0 drop ".repeat(80), "br_if 0"));
        assert_eq!(plan_of(&big, Unroll::Chosen), [(BackEdge::Conditional, 2)]);
        let huge = func(&rotating(&"local.get 0 drop ".repeat(300), "br_if 0"));
        assert_eq!(plan_of(&huge, Unroll::Chosen), []);
        assert_eq!(plan_of(&huge, Unroll::Every), [(BackEdge::Conditional, 2)]);
    }
}
