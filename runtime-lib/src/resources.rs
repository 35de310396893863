//! Component resource handles: the handle table each component instance owns, with the
//! canonical ABI's rules for own and borrow handles.
//!
//! A handle is an index into one instance's table; index 0 is never valid, freed indices
//! are reused (most recently freed first), and the table never grows past
//! [`MAX_HANDLES`]. An *own* handle carries the resource's representation and a count of
//! borrows lent from it; it cannot be moved out or dropped while any are outstanding. A
//! *borrow* handle belongs to the call that received it (its scope) and must be dropped
//! before that call returns. Every handle records its resource type, so a handle of one
//! type used where another is expected is caught.
//!
//! This module only keeps the books: it never calls a destructor or touches guest memory;
//! the caller turns a [`HandleError`] into the trap wasmtime raises for it (see
//! [`HandleError::message`]). Not yet used by generated code (components are in progress).

use core::fmt;

/// The most handles one table holds (the canonical ABI's limit, 2^28 - 1).
pub const MAX_HANDLES: u32 = (1 << 28) - 1;

/// A resource type, as the runtime numbers them (host resources and each guest-defined
/// resource type get distinct ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResourceType(pub u32);

/// A call that borrow handles are lent to; it must have dropped them all when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallScope(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free {
        next: Option<u32>,
    },
    Own {
        ty: ResourceType,
        rep: u32,
        lends: u32,
    },
    Borrow {
        ty: ResourceType,
        rep: u32,
        scope: CallScope,
    },
}

/// Why a handle operation traps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The index is 0, out of range, or free.
    Unknown(u32),
    /// The handle is of another resource type than the one expected.
    WrongType(u32),
    /// An own handle was expected, the index holds a borrow.
    NotOwned(u32),
    /// The own handle still has borrows lent out.
    StillBorrowed(u32),
    /// The table is full.
    TableFull,
    /// A call returned with borrow handles it had not dropped.
    BorrowsOutstanding,
}

impl HandleError {
    /// The trap message, in wasmtime's words.
    pub fn message(self) -> String {
        match self {
            HandleError::Unknown(i) => format!("unknown handle index {i}"),
            HandleError::WrongType(i) => {
                format!("handle index {i} used with the wrong type")
            }
            HandleError::NotOwned(i) => format!("handle index {i} is not an owned resource"),
            HandleError::StillBorrowed(_) => {
                "cannot remove owned resource while borrowed".to_string()
            }
            HandleError::TableFull => "resource table has no free keys".to_string(),
            HandleError::BorrowsOutstanding => {
                "borrow handles still remain at the end of the call".to_string()
            }
        }
    }
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What dropping a handle did, so the caller can run the destructor of an own one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// An own handle: the resource is gone; run its destructor on `rep`.
    Own { rep: u32 },
    /// A borrow handle: nothing to destroy.
    Borrow,
}

/// One component instance's handles.
#[derive(Debug)]
pub struct HandleTable {
    /// `slots[0]` is a permanent placeholder so that index 0 is never valid.
    slots: Vec<Slot>,
    /// Head of the free list (an index into `slots`).
    free: Option<u32>,
    /// Per call scope, how many of its borrow handles are still in the table.
    borrows: Vec<(CallScope, u32)>,
    /// Own handles lent to a call, to be returned when it ends: (scope, handle).
    lends: Vec<(CallScope, u32)>,
    /// The highest index a handle may have ([`MAX_HANDLES`]; smaller in tests).
    limit: u32,
}

impl Default for HandleTable {
    fn default() -> HandleTable {
        HandleTable::new()
    }
}

impl HandleTable {
    pub fn new() -> HandleTable {
        HandleTable {
            slots: vec![Slot::Free { next: None }],
            free: None,
            borrows: Vec::new(),
            lends: Vec::new(),
            limit: MAX_HANDLES,
        }
    }

    fn insert(&mut self, slot: Slot) -> Result<u32, HandleError> {
        if let Some(i) = self.free {
            let Slot::Free { next } = self.slots[i as usize] else {
                unreachable!("the free list holds only free slots");
            };
            self.free = next;
            self.slots[i as usize] = slot;
            return Ok(i);
        }
        let i = u32::try_from(self.slots.len()).map_err(|_| HandleError::TableFull)?;
        if i > self.limit {
            return Err(HandleError::TableFull);
        }
        self.slots.push(slot);
        Ok(i)
    }

    fn slot(&self, handle: u32) -> Result<Slot, HandleError> {
        match self.slots.get(handle as usize) {
            Some(s) if handle != 0 && !matches!(s, Slot::Free { .. }) => Ok(*s),
            _ => Err(HandleError::Unknown(handle)),
        }
    }

    fn free_slot(&mut self, handle: u32) {
        self.slots[handle as usize] = Slot::Free { next: self.free };
        self.free = Some(handle);
    }

    /// The resource type of a handle (own or borrow).
    pub fn type_of(&self, handle: u32) -> Result<ResourceType, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty, .. } | Slot::Borrow { ty, .. } => Ok(ty),
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
        }
    }

    /// `resource.new`, or lowering an `own` the host passes in: a new own handle.
    pub fn new_own(&mut self, ty: ResourceType, rep: u32) -> Result<u32, HandleError> {
        self.insert(Slot::Own { ty, rep, lends: 0 })
    }

    /// Lowering a `borrow` into a call `scope`: a borrow handle that call must drop.
    pub fn new_borrow(
        &mut self,
        ty: ResourceType,
        rep: u32,
        scope: CallScope,
    ) -> Result<u32, HandleError> {
        let handle = self.insert(Slot::Borrow { ty, rep, scope })?;
        match self.borrows.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, n)) => *n += 1,
            None => self.borrows.push((scope, 1)),
        }
        Ok(handle)
    }

    /// `resource.rep`: the representation of an own handle of type `ty`.
    pub fn rep(&self, handle: u32, ty: ResourceType) -> Result<u32, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty: t, rep, .. } if t == ty => Ok(rep),
            Slot::Own { .. } => Err(HandleError::WrongType(handle)),
            Slot::Borrow { .. } => Err(HandleError::NotOwned(handle)),
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
        }
    }

    /// Lifting a `borrow` the caller passes (from an own or a borrow handle it holds): the
    /// representation, the handle staying where it is.
    pub fn borrow_rep(&self, handle: u32, ty: ResourceType) -> Result<u32, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty: t, rep, .. } | Slot::Borrow { ty: t, rep, .. } if t == ty => Ok(rep),
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
            _ => Err(HandleError::WrongType(handle)),
        }
    }

    /// Lifting an `own` (passing it to another component or to the host): removes it.
    pub fn take_own(&mut self, handle: u32, ty: ResourceType) -> Result<u32, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty: t, .. } if t != ty => Err(HandleError::WrongType(handle)),
            Slot::Own { lends, .. } if lends > 0 => Err(HandleError::StillBorrowed(handle)),
            Slot::Own { rep, .. } => {
                self.free_slot(handle);
                Ok(rep)
            }
            Slot::Borrow { .. } => Err(HandleError::NotOwned(handle)),
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
        }
    }

    /// Lifting a `borrow` for the call `scope`: the representation; an own handle is lent
    /// (it cannot be dropped or moved until [`HandleTable::end_call`] of that scope).
    pub fn lend(
        &mut self,
        handle: u32,
        ty: ResourceType,
        scope: CallScope,
    ) -> Result<u32, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty: t, .. } | Slot::Borrow { ty: t, .. } if t != ty => {
                Err(HandleError::WrongType(handle))
            }
            Slot::Own { ty, rep, lends } => {
                self.slots[handle as usize] = Slot::Own {
                    ty,
                    rep,
                    lends: lends + 1,
                };
                self.lends.push((scope, handle));
                Ok(rep)
            }
            Slot::Borrow { rep, .. } => Ok(rep),
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
        }
    }

    /// `resource.drop` of a handle of type `ty`.
    pub fn drop_handle(&mut self, handle: u32, ty: ResourceType) -> Result<Dropped, HandleError> {
        match self.slot(handle)? {
            Slot::Own { ty: t, .. } | Slot::Borrow { ty: t, .. } if t != ty => {
                Err(HandleError::WrongType(handle))
            }
            Slot::Own { lends, .. } if lends > 0 => Err(HandleError::StillBorrowed(handle)),
            Slot::Own { rep, .. } => {
                self.free_slot(handle);
                Ok(Dropped::Own { rep })
            }
            Slot::Borrow { scope, .. } => {
                self.free_slot(handle);
                if let Some(i) = self.borrows.iter().position(|(s, _)| *s == scope) {
                    self.borrows[i].1 -= 1;
                    if self.borrows[i].1 == 0 {
                        self.borrows.swap_remove(i);
                    }
                }
                Ok(Dropped::Borrow)
            }
            Slot::Free { .. } => Err(HandleError::Unknown(handle)),
        }
    }

    /// The call `scope` returns: every own handle lent to it is returned, and it must not
    /// leave borrow handles behind (they would outlive the borrow).
    pub fn end_call(&mut self, scope: CallScope) -> Result<(), HandleError> {
        let mut i = 0;
        while i < self.lends.len() {
            if self.lends[i].0 == scope {
                let (_, handle) = self.lends.swap_remove(i);
                if let Some(Slot::Own { lends, .. }) = self.slots.get_mut(handle as usize) {
                    *lends = lends.saturating_sub(1);
                }
            } else {
                i += 1;
            }
        }
        if self.borrows.iter().any(|(s, n)| *s == scope && *n > 0) {
            return Err(HandleError::BorrowsOutstanding);
        }
        Ok(())
    }

    /// Handles in use (own and borrow).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .skip(1)
            .filter(|s| !matches!(s, Slot::Free { .. }))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: ResourceType = ResourceType(1);
    const POLLABLE: ResourceType = ResourceType(2);

    #[test]
    fn index_zero_is_never_a_handle_and_freed_indices_are_reused() {
        let mut t = HandleTable::new();
        assert_eq!(t.rep(0, STREAM), Err(HandleError::Unknown(0)));
        let a = t.new_own(STREAM, 100).unwrap();
        let b = t.new_own(STREAM, 200).unwrap();
        let c = t.new_own(POLLABLE, 300).unwrap();
        assert_eq!((a, b, c), (1, 2, 3));
        assert_eq!(t.drop_handle(a, STREAM), Ok(Dropped::Own { rep: 100 }));
        assert_eq!(t.drop_handle(b, STREAM), Ok(Dropped::Own { rep: 200 }));
        assert_eq!(t.rep(a, STREAM), Err(HandleError::Unknown(a)));
        assert_eq!(t.new_own(STREAM, 400), Ok(b), "most recently freed first");
        assert_eq!(t.new_own(STREAM, 500), Ok(a));
        assert_eq!(t.new_own(STREAM, 600), Ok(4));
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn handles_are_typed() {
        let mut t = HandleTable::new();
        let s = t.new_own(STREAM, 7).unwrap();
        assert_eq!(t.rep(s, STREAM), Ok(7));
        assert_eq!(t.rep(s, POLLABLE), Err(HandleError::WrongType(s)));
        assert_eq!(t.drop_handle(s, POLLABLE), Err(HandleError::WrongType(s)));
        assert_eq!(t.take_own(s, POLLABLE), Err(HandleError::WrongType(s)));
        assert_eq!(t.take_own(s, STREAM), Ok(7));
        assert_eq!(t.take_own(s, STREAM), Err(HandleError::Unknown(s)));
        assert_eq!(t.drop_handle(99, STREAM), Err(HandleError::Unknown(99)));
    }

    #[test]
    fn a_lent_own_handle_cannot_be_moved_or_dropped_until_the_call_ends() {
        let mut t = HandleTable::new();
        let h = t.new_own(STREAM, 5).unwrap();
        let call = CallScope(1);
        assert_eq!(t.lend(h, STREAM, call), Ok(5));
        assert_eq!(t.drop_handle(h, STREAM), Err(HandleError::StillBorrowed(h)));
        assert_eq!(t.take_own(h, STREAM), Err(HandleError::StillBorrowed(h)));
        assert_eq!(
            HandleError::StillBorrowed(h).message(),
            "cannot remove owned resource while borrowed"
        );
        assert_eq!(t.end_call(call), Ok(()));
        assert_eq!(t.drop_handle(h, STREAM), Ok(Dropped::Own { rep: 5 }));
    }

    #[test]
    fn borrow_handles_must_be_dropped_before_their_call_returns() {
        let mut t = HandleTable::new();
        let (outer, inner) = (CallScope(1), CallScope(2));
        let b1 = t.new_borrow(POLLABLE, 9, outer).unwrap();
        let b2 = t.new_borrow(POLLABLE, 9, inner).unwrap();
        assert_eq!(t.rep(b1, POLLABLE), Err(HandleError::NotOwned(b1)));
        assert_eq!(t.take_own(b1, POLLABLE), Err(HandleError::NotOwned(b1)));
        assert_eq!(
            t.lend(b2, POLLABLE, inner),
            Ok(9),
            "a borrow passes its rep on"
        );
        assert_eq!(t.end_call(inner), Err(HandleError::BorrowsOutstanding));
        assert_eq!(t.drop_handle(b2, POLLABLE), Ok(Dropped::Borrow));
        assert_eq!(t.end_call(inner), Ok(()));
        assert_eq!(t.drop_handle(b1, POLLABLE), Ok(Dropped::Borrow));
        assert_eq!(t.end_call(outer), Ok(()));
        assert!(t.is_empty());
        assert_eq!(
            HandleError::BorrowsOutstanding.message(),
            "borrow handles still remain at the end of the call"
        );
    }

    #[test]
    fn the_table_has_a_limit() {
        // The real limit (2^28 - 1 handles) with a small one standing in for it.
        let mut t = HandleTable {
            limit: 8,
            ..HandleTable::new()
        };
        for i in 1..=8 {
            assert_eq!(t.new_own(STREAM, i * 10), Ok(i));
        }
        assert_eq!(t.new_own(STREAM, 1), Err(HandleError::TableFull));
        assert_eq!(t.drop_handle(5, STREAM), Ok(Dropped::Own { rep: 50 }));
        assert_eq!(t.new_own(STREAM, 1), Ok(5), "a freed slot is still usable");
    }
}
