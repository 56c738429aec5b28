//! CO-RE (`--co-re`): the local types of the program's relocatable kernel accesses. Each
//! struct or union a `CoreRef` names becomes a record holding only the members used (by name,
//! anonymous members flattened, in the order first met) with each member's kind (integer,
//! enum, pointer, embedded record, array), which is all libbpf compares when it moves an
//! access to the loading kernel's layout. Codegen describes these records in debug info for
//! LLVM's relocation intrinsics; offsets in them are not the kernel's and need not be.
//! Also finds a tracepoint's `trace_event_raw_*` struct, the BTF type of its record.

use super::types::{CoreRef, ProgInfo};
use crate::kernel::btf::{KernelTypes, Shape};
use crate::kernel::tracefs::{FieldKind, Format};
use std::collections::HashMap;

/// The local types of every relocated access, by index; `CoreRef`s name kernel (BTF) ids,
/// which `record` turns into indices here.
#[derive(Debug, Clone, Default)]
pub struct CoreTypes {
    pub records: Vec<CoreRecord>,
    /// Kernel BTF id → index in `records`.
    ids: HashMap<u32, u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoreRecord {
    /// The struct's or union's name; empty when anonymous.
    pub name: String,
    pub union: bool,
    pub members: Vec<CoreMember>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoreMember {
    pub name: String,
    pub ty: CoreTy,
}

/// A member's type as far as libbpf's compatibility check looks: integers of any size match
/// integers, any pointer matches a pointer, records match records, arrays their element.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreTy {
    Int { size: u32, signed: bool },
    Enum { size: u32 },
    Ptr,
    /// An embedded struct or union: an index in `CoreTypes::records`.
    Record(u32),
    Array { elem: Box<CoreTy>, len: u32 },
}

impl CoreTypes {
    /// The local record of kernel struct or union `id`.
    pub fn record(&self, id: u32) -> Option<u32> {
        self.ids.get(&id).copied()
    }

    /// Member `name` of local record `record`: its index there, and the member.
    pub fn member(&self, record: u32, name: &str) -> Option<(u32, &CoreMember)> {
        let r = self.records.get(record as usize)?;
        r.members.iter().enumerate().find(|(_, m)| m.name == name).map(|(i, m)| (i as u32, m))
    }

    fn ensure(&mut self, k: &KernelTypes, id: u32) -> u32 {
        if let Some(&i) = self.ids.get(&id) {
            return i;
        }
        let (name, union) = k.record_name(id).unwrap_or_default();
        let i = self.records.len() as u32;
        self.records.push(CoreRecord { name, union, members: Vec::new() });
        self.ids.insert(id, i);
        i
    }

    /// Adds member `name` of kernel record `id` (found through anonymous members too);
    /// returns the kernel id of the record it embeds, if it is one.
    fn add_member(&mut self, k: &KernelTypes, id: u32, name: &str) -> Option<u32> {
        let record = self.ensure(k, id);
        let m = k.member(id, name)?;
        if self.member(record, name).is_none() {
            let ty = self.mirror(k, m.ty);
            self.records[record as usize].members.push(CoreMember { name: name.to_string(), ty });
        }
        match k.shape(m.ty) {
            Shape::Record { id, .. } => Some(id),
            _ => None,
        }
    }

    fn mirror(&mut self, k: &KernelTypes, id: u32) -> CoreTy {
        match k.shape(id) {
            Shape::Int { size, .. } if k.is_enum(id) => CoreTy::Enum { size },
            Shape::Int { size, signed, .. } => CoreTy::Int { size, signed },
            Shape::Ptr { .. } => CoreTy::Ptr,
            Shape::Record { id, .. } => CoreTy::Record(self.ensure(k, id)),
            Shape::Array { elem, len } => CoreTy::Array { elem: Box::new(self.mirror(k, elem)), len },
            // (floats and functions are not read; an int keeps the member's place)
            Shape::Other => CoreTy::Int { size: k.size(id).max(1), signed: false },
        }
    }
}

/// The local types of every program's `CoreRef`s, visited in expression order so the
/// object is the same from one run to the next.
pub(super) fn build(k: &KernelTypes, progs: &[ProgInfo]) -> CoreTypes {
    let mut types = CoreTypes::default();
    for prog in progs {
        let mut refs: Vec<_> = prog.core.iter().collect();
        refs.sort_by_key(|(id, _)| **id);
        for (_, r) in refs {
            match r {
                CoreRef::Member { record, path } => {
                    let mut at = Some(*record);
                    for name in path {
                        let Some(id) = at else { break };
                        at = types.add_member(k, id, name);
                    }
                }
                CoreRef::Stride { record } | CoreRef::Size { record } => {
                    types.ensure(k, *record);
                }
                CoreRef::TaskField { task, link, field } => {
                    types.add_member(k, *task, link);
                    types.add_member(k, *task, field);
                }
            }
        }
    }
    types
}

/// The BTF struct of a tracepoint's record: `trace_event_raw_EVENT`, or for an event defined
/// from a class (`DEFINE_EVENT`), the `trace_event_raw_CLASS` whose members after the common
/// header are the format's fields. `None` where the kernel has none (syscall events share
/// `trace_event_raw_sys_enter`, whose arguments are an array: their record keeps the
/// format's offsets, a stable layout).
pub(super) fn tracepoint_struct(k: &KernelTypes, format: &Format) -> Option<u32> {
    let wanted: Vec<String> = format.fields.iter().map(field_member).collect();
    let fits = |id: u32| {
        let names = k.member_names(id);
        names.first().map(String::as_str) == Some("ent") && names[1..].iter().filter(|n| *n != "__data").eq(wanted.iter())
    };
    if let Some(id) = k.find_tagged("struct", &format!("trace_event_raw_{}", format.event)).filter(|&id| fits(id)) {
        return Some(id);
    }
    k.tagged_types()
        .into_iter()
        .filter(|(name, _)| name.starts_with("struct trace_event_raw_"))
        .map(|(_, id)| id)
        .find(|&id| fits(id))
}

/// The name of a format's field in the BTF struct: `__data_loc_NAME` for a `__data_loc` one.
pub(super) fn field_member(field: &crate::kernel::tracefs::Field) -> String {
    match field.kind {
        FieldKind::DataLocString => format!("__data_loc_{}", field.name),
        _ if field.decl.contains("__data_loc") => format!("__data_loc_{}", field.name),
        _ => field.name.clone(),
    }
}
