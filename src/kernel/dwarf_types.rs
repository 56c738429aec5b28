//! A user binary's DWARF types as BTF over the kernel's, so that sema reads a uprobe's
//! `args.p->name` as it reads a kernel struct's member: each type a parameter reaches (structs
//! and unions with their members' DWARF offsets and bitfields, pointers, arrays, typedefs,
//! qualifiers, enums, base types) is written once per binary as split BTF with libbpf's BTF
//! writer and merged into one BTF (as a script's types are, `kernel::script_types`). These
//! types are found by id only: a cast's `struct NAME` still names the kernel's.

use super::btf::{KernelTypes, SplitBtf};
use super::dwarf::{type_of, Debug, TypeRef, Unit};
use super::script_types::{c_string, check};
use gimli::{AttributeValue, UnitOffset};
use libbpf_rs::libbpf_sys;
use std::collections::HashMap;
use std::rc::Rc;

/// The BTF ids a binary's DWARF types were given (ids stay valid in every merge after).
pub type Known = HashMap<TypeRef, u32>;

/// A type as the BTF writer adds it; references are BTF ids (0: `void`).
enum Node {
    Int { name: String, size: u32, encoding: u32 },
    Float { name: String, size: u32 },
    Ptr(u32),
    /// A struct or union; a type BTF cannot say (a complex number) is an empty one of its size.
    Record { name: Option<String>, union: bool, size: u32, members: Vec<Member> },
    /// A struct or union declared but not defined here.
    Fwd { name: String, union: bool },
    /// An array; `index` is the id of the `unsigned int` arrays are indexed by.
    Array { index: u32, elem: u32, len: u32 },
    Typedef { name: String, to: u32 },
    Const(u32),
    Volatile(u32),
    Restrict(u32),
    Enum { name: Option<String>, size: u32, signed: bool, values: Vec<(String, i64)> },
    /// A function type (what a function pointer points to), without its parameters.
    Function,
}

struct Member {
    name: String,
    ty: u32,
    bit_offset: u32,
    /// A bitfield's width, 0 for other members.
    bits: u32,
}

/// Reads the DWARF types, giving each its BTF id, from `first` on.
struct Reader<'d> {
    debug: &'d Debug,
    known: Known,
    first: u32,
    nodes: Vec<Node>,
    units: HashMap<gimli::DebugInfoOffset<usize>, Rc<Unit>>,
    /// The `unsigned int` that indexes arrays, once made.
    index: Option<u32>,
}

impl KernelTypes {
    /// These types with the DWARF types `roots` of `debug` (and every type they reach) added,
    /// each once per binary (`known`, updated); and each root's BTF id (0 for `void`). No new
    /// types (all known already): `None` and the ids.
    pub fn with_dwarf_types(&self, debug: &Debug, roots: &[Option<TypeRef>], known: &mut Known) -> Result<(Option<KernelTypes>, Vec<u32>), String> {
        let base = self.btf_object();
        // SAFETY: `base` is the live BTF this KernelTypes owns.
        let first = unsafe { libbpf_sys::btf__type_cnt(base) };
        let mut r = Reader { debug, known: known.clone(), first, nodes: Vec::new(), units: HashMap::new(), index: None };
        let ids = roots.iter().map(|root| root.map_or(Ok(0), |t| r.id_of(t))).collect::<Result<Vec<u32>, String>>()?;
        if r.nodes.is_empty() {
            return Ok((None, ids));
        }
        // SAFETY: `base` outlives the split BTF, which is freed (SplitBtf's drop) before it.
        let split = SplitBtf::new_empty(base).ok_or("cannot make BTF for the binary's types")?;
        for (i, node) in r.nodes.iter().enumerate() {
            write(split.ptr(), node, first + i as u32)?;
        }
        let merged = self.merged_with(&split, "the binary's types", true)?;
        *known = r.known;
        Ok((Some(merged), ids))
    }
}

impl Reader<'_> {
    /// The BTF id of DWARF type `t`, reading it (and what it reaches) the first time.
    fn id_of(&mut self, t: TypeRef) -> Result<u32, String> {
        if let Some(&id) = self.known.get(&t) {
            return Ok(id);
        }
        // The id is given before the type is read, so that a struct can point to itself.
        let id = self.push(Node::Function);
        self.known.insert(t, id);
        let node = self.node(t)?;
        self.nodes[(id - self.first) as usize] = node;
        Ok(id)
    }

    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        self.first + self.nodes.len() as u32 - 1
    }

    fn unit(&mut self, offset: gimli::DebugInfoOffset<usize>) -> Result<Rc<Unit>, String> {
        if let Some(u) = self.units.get(&offset) {
            return Ok(u.clone());
        }
        let unit = Rc::new(self.debug.unit_at(offset).ok_or("cannot read a DWARF unit")?);
        self.units.insert(offset, unit.clone());
        Ok(unit)
    }

    /// DWARF type `t` as a BTF node.
    fn node(&mut self, t: TypeRef) -> Result<Node, String> {
        let unit = self.unit(t.unit)?;
        let entry = unit.entry(t.offset).map_err(|e| format!("cannot read a DWARF type: {e}"))?;
        let name = self.debug.name(&unit, &entry).filter(|n| !n.is_empty());
        let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0) as u32;
        let inner = |r: &mut Self| type_of(&entry).map_or(Ok(0), |offset| r.id_of(TypeRef { unit: t.unit, offset }));
        Ok(match entry.tag() {
            gimli::DW_TAG_base_type => base_type(name.unwrap_or_else(|| "int".into()), size, &entry),
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type | gimli::DW_TAG_rvalue_reference_type => Node::Ptr(inner(self)?),
            gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
                let union = entry.tag() == gimli::DW_TAG_union_type;
                match (flag(&entry, gimli::DW_AT_declaration), name) {
                    (true, Some(name)) => Node::Fwd { name, union },
                    (_, name) => Node::Record { name, union, size, members: self.members(t, &unit)? },
                }
            }
            gimli::DW_TAG_enumeration_type => self.enumeration(t, &unit, name, size.max(1))?,
            gimli::DW_TAG_array_type => {
                let elem = inner(self)?;
                self.array(t, &unit, elem)?
            }
            gimli::DW_TAG_typedef => match name {
                Some(name) => Node::Typedef { name, to: inner(self)? },
                None => Node::Const(inner(self)?),
            },
            gimli::DW_TAG_const_type => Node::Const(inner(self)?),
            gimli::DW_TAG_volatile_type | gimli::DW_TAG_atomic_type => Node::Volatile(inner(self)?),
            gimli::DW_TAG_restrict_type => Node::Restrict(inner(self)?),
            gimli::DW_TAG_subroutine_type => Node::Function,
            _ => Node::Record { name, union: false, size, members: vec![] },
        })
    }

    /// The children of the entry at `t` that have tag `tag`, by offset.
    fn children(unit: &Unit, t: TypeRef, tag: gimli::DwTag) -> Result<Vec<UnitOffset>, String> {
        let read = |e: gimli::Error| format!("cannot read a DWARF type: {e}");
        let mut tree = unit.entries_tree(Some(t.offset)).map_err(read)?;
        let mut children = tree.root().map_err(read)?.children();
        let mut out = Vec::new();
        while let Some(child) = children.next().map_err(read)? {
            if child.entry().tag() == tag {
                out.push(child.entry().offset());
            }
        }
        Ok(out)
    }

    /// A struct's or union's members, at their DWARF offsets.
    fn members(&mut self, t: TypeRef, unit: &Unit) -> Result<Vec<Member>, String> {
        let mut members = Vec::new();
        for offset in Self::children(unit, t, gimli::DW_TAG_member)? {
            let entry = unit.entry(offset).map_err(|e| format!("cannot read a DWARF member: {e}"))?;
            // (a C++ static member has no place in the record)
            if flag(&entry, gimli::DW_AT_external) || flag(&entry, gimli::DW_AT_declaration) {
                continue;
            }
            let ty = type_of(&entry).map_or(Ok(0), |offset| self.id_of(TypeRef { unit: t.unit, offset }))?;
            let bits = udata(&entry, gimli::DW_AT_bit_size).unwrap_or(0) as u32;
            let bit_offset = match udata(&entry, gimli::DW_AT_data_bit_offset) {
                Some(at) => at as u32,
                None => {
                    let byte = member_location(&entry, unit).unwrap_or(0) as u32;
                    // DWARF 2/3 bitfields: DW_AT_bit_offset counts from the storage unit's most
                    // significant bit (a big-endian view); on little-endian x86-64 the field's
                    // first bit is the storage size less that offset and the width.
                    match (bits, udata(&entry, gimli::DW_AT_bit_offset)) {
                        (1.., Some(from_top)) => {
                            let storage = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(4) as u32 * 8;
                            byte * 8 + storage.saturating_sub(from_top as u32 + bits)
                        }
                        _ => byte * 8,
                    }
                }
            };
            let name = self.debug.name(unit, &entry).unwrap_or_default();
            members.push(Member { name, ty, bit_offset, bits });
        }
        Ok(members)
    }

    fn enumeration(&mut self, t: TypeRef, unit: &Unit, name: Option<String>, size: u32) -> Result<Node, String> {
        let mut values = Vec::new();
        for offset in Self::children(unit, t, gimli::DW_TAG_enumerator)? {
            let entry = unit.entry(offset).map_err(|e| format!("cannot read a DWARF enumerator: {e}"))?;
            let value = match entry.attr_value(gimli::DW_AT_const_value).ok().flatten() {
                Some(AttributeValue::Sdata(v)) => v,
                Some(v) => v.udata_value().unwrap_or(0) as i64,
                None => 0,
            };
            values.push((self.debug.name(unit, &entry).unwrap_or_default(), value));
        }
        let signed = values.iter().any(|(_, v)| *v < 0);
        Ok(Node::Enum { name, size, signed, values })
    }

    /// An array of `elem` with the lengths of the entry's subranges (a C `T a[2][3]` has two:
    /// an array of 2 arrays of 3); a length DWARF does not give (`T a[]`) is 0.
    fn array(&mut self, t: TypeRef, unit: &Unit, elem: u32) -> Result<Node, String> {
        let mut lens = Vec::new();
        for offset in Self::children(unit, t, gimli::DW_TAG_subrange_type)? {
            let entry = unit.entry(offset).map_err(|e| format!("cannot read a DWARF array: {e}"))?;
            let len = match (udata(&entry, gimli::DW_AT_count), udata(&entry, gimli::DW_AT_upper_bound)) {
                (Some(n), _) => n,
                (None, Some(last)) => last + 1,
                (None, None) => 0,
            };
            lens.push(len.min(u64::from(u32::MAX)) as u32);
        }
        let index = match self.index {
            Some(id) => id,
            None => {
                let id = self.push(Node::Int { name: "unsigned int".into(), size: 4, encoding: 0 });
                *self.index.insert(id)
            }
        };
        let outer = lens.first().copied().unwrap_or(0);
        let mut elem = elem;
        for &len in lens.iter().skip(1).rev() {
            elem = self.push(Node::Array { index, elem, len });
        }
        Ok(Node::Array { index, elem, len: outer })
    }
}

/// A base type: an integer (`char`s signed by DWARF's word; unsigned chars as BTF chars, so
/// that their arrays read as strings, as in bpftrace), a float, or an empty record of its size.
fn base_type(name: String, size: u32, entry: &gimli::DebuggingInformationEntry<super::dwarf::R>) -> Node {
    let encoding = match entry.attr_value(gimli::DW_AT_encoding).ok().flatten() {
        Some(AttributeValue::Encoding(e)) => e,
        _ => gimli::DW_ATE_signed,
    };
    let int = |encoding| Node::Int { name: name.clone(), size, encoding };
    match encoding {
        _ if !matches!(size, 1 | 2 | 4 | 8 | 16) => Node::Record { name: Some(name.clone()), union: false, size, members: vec![] },
        gimli::DW_ATE_float => Node::Float { name: name.clone(), size },
        gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => int(libbpf_sys::BTF_INT_SIGNED),
        gimli::DW_ATE_unsigned_char => int(libbpf_sys::BTF_INT_CHAR),
        gimli::DW_ATE_boolean => int(libbpf_sys::BTF_INT_BOOL),
        gimli::DW_ATE_unsigned => int(0),
        _ => Node::Record { name: Some(name.clone()), union: false, size, members: vec![] },
    }
}

fn udata(entry: &gimli::DebuggingInformationEntry<super::dwarf::R>, at: gimli::DwAt) -> Option<u64> {
    entry.attr_value(at).ok().flatten()?.udata_value()
}

fn flag(entry: &gimli::DebuggingInformationEntry<super::dwarf::R>, at: gimli::DwAt) -> bool {
    matches!(entry.attr_value(at).ok().flatten(), Some(AttributeValue::Flag(true)))
}

/// A member's byte offset: a constant, or (DWARF 2) an expression `DW_OP_plus_uconst N`.
fn member_location(entry: &gimli::DebuggingInformationEntry<super::dwarf::R>, unit: &Unit) -> Option<u64> {
    match entry.attr_value(gimli::DW_AT_data_member_location).ok().flatten()? {
        AttributeValue::Exprloc(expr) => match expr.operations(unit.encoding()).next().ok()?? {
            gimli::Operation::PlusConstant { value } => Some(value),
            _ => None,
        },
        other => other.udata_value(),
    }
}

/// Adds `node` to `btf` (split BTF over the kernel's) as type `id`.
fn write(btf: *mut libbpf_sys::btf, node: &Node, id: u32) -> Result<(), String> {
    let named = |name: &Option<String>| name.as_deref().map(c_string).transpose();
    let ptr = |name: &Option<std::ffi::CString>| name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
    // SAFETY (every call below): `btf` is a live, writable BTF; names are NUL-terminated or
    // null where libbpf allows it (an anonymous record or enum); ids may point forward
    // (libbpf checks only their range).
    let rc = match node {
        Node::Int { name, size, encoding } => unsafe { libbpf_sys::btf__add_int(btf, c_string(name)?.as_ptr(), *size as u64, *encoding as i32) },
        Node::Float { name, size } => unsafe { libbpf_sys::btf__add_float(btf, c_string(name)?.as_ptr(), *size as u64) },
        Node::Ptr(to) => unsafe { libbpf_sys::btf__add_ptr(btf, *to as i32) },
        Node::Record { name, union, size, members } => {
            let name = named(name)?;
            let rc = unsafe { if *union { libbpf_sys::btf__add_union(btf, ptr(&name), *size) } else { libbpf_sys::btf__add_struct(btf, ptr(&name), *size) } };
            check(rc, id)?;
            for m in members {
                let name = named(&Some(m.name.clone()).filter(|n| !n.is_empty()))?;
                // SAFETY: as above; the record just added is `btf`'s last type.
                check(unsafe { libbpf_sys::btf__add_field(btf, ptr(&name), m.ty as i32, m.bit_offset, m.bits) }, 0)?;
            }
            return Ok(());
        }
        Node::Fwd { name, union } => {
            let kind = if *union { libbpf_sys::BTF_FWD_UNION } else { libbpf_sys::BTF_FWD_STRUCT };
            unsafe { libbpf_sys::btf__add_fwd(btf, c_string(name)?.as_ptr(), kind) }
        }
        Node::Array { index, elem, len } => unsafe { libbpf_sys::btf__add_array(btf, *index as i32, *elem as i32, *len) },
        Node::Typedef { name, to } => unsafe { libbpf_sys::btf__add_typedef(btf, c_string(name)?.as_ptr(), *to as i32) },
        Node::Const(to) => unsafe { libbpf_sys::btf__add_const(btf, *to as i32) },
        Node::Volatile(to) => unsafe { libbpf_sys::btf__add_volatile(btf, *to as i32) },
        Node::Restrict(to) => unsafe { libbpf_sys::btf__add_restrict(btf, *to as i32) },
        Node::Enum { name, size, signed, values } => {
            // (an enum of 8 bytes is an ENUM64, which sema does not read)
            let name = named(name)?;
            let wide = *size > 4;
            let rc = unsafe { if wide { libbpf_sys::btf__add_enum64(btf, ptr(&name), *size, *signed) } else { libbpf_sys::btf__add_enum(btf, ptr(&name), *size) } };
            check(rc, id)?;
            for (v, value) in values {
                let v = c_string(v)?;
                // SAFETY: as above; the enum just added is `btf`'s last type.
                let rc = unsafe { if wide { libbpf_sys::btf__add_enum64_value(btf, v.as_ptr(), *value as u64) } else { libbpf_sys::btf__add_enum_value(btf, v.as_ptr(), *value) } };
                check(rc, 0)?;
            }
            return Ok(());
        }
        Node::Function => unsafe { libbpf_sys::btf__add_func_proto(btf, 0) },
    };
    check(rc, id)
}
