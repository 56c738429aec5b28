//! A script's own C types (`kernel::cdecl`) added to the kernel's: each struct and union laid
//! out as C lays it out on x86-64 (alignment, bitfields in their storage units, `packed`,
//! `aligned(N)`), then written as split BTF over the kernel's types with libbpf's BTF writer
//! and merged into one BTF (as a module's types are, `btf::merge_split_btf`). Sema then finds
//! `struct S` of a script as it finds a kernel struct; the script's names come first.

use super::btf::{KernelTypes, Shape, SplitBtf};
use super::cdecl::{CType, Def, Defs, Record, Tag};
use libbpf_rs::libbpf_sys;
use std::collections::HashMap;
use std::ffi::CString;

/// Size and alignment in bytes.
#[derive(Clone, Copy)]
struct Layout {
    size: u32,
    align: u32,
}

/// A member's place: its bit offset, and its width when it is a bitfield.
type Placed = Vec<(u32, Option<u32>)>;

/// A type that only the BTF writer needs (integers, pointers, arrays), made once each.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Derived {
    Int { name: String, size: u32, encoding: u32 },
    Ptr(u32),
    Array { elem: u32, len: u32 },
}

struct Writer<'k> {
    kernel: &'k KernelTypes,
    defs: &'k Defs,
    /// The id the next type added gets.
    first: u32,
    /// Named types' ids: records (in `defs.records` order), then enums, then typedefs.
    records: Vec<u32>,
    tagged: HashMap<(&'static str, String), u32>,
    typedefs: HashMap<String, (u32, CType)>,
    /// Derived types in the order their ids were given, from `derived_first`.
    derived: Vec<Derived>,
    derived_ids: HashMap<Derived, u32>,
    derived_first: u32,
    layouts: Vec<(Layout, Placed)>,
}

impl KernelTypes {
    /// These types, with a script's definitions added after them.
    pub fn with_script_types(&self, defs: &Defs) -> Result<KernelTypes, String> {
        let base = self.btf_object();
        // SAFETY: `base` is the live BTF this KernelTypes owns.
        let first = unsafe { libbpf_sys::btf__type_cnt(base) };
        let enums = defs.defs.iter().filter(|d| matches!(d, Def::Enum(_))).count() as u32;
        let typedefs = defs.defs.iter().filter(|d| matches!(d, Def::Typedef { .. })).count() as u32;
        let named = defs.records.len() as u32 + enums + typedefs;
        let mut w = Writer {
            kernel: self,
            defs,
            first,
            records: (0..defs.records.len() as u32).map(|i| first + i).collect(),
            tagged: HashMap::new(),
            typedefs: HashMap::new(),
            derived: Vec::new(),
            derived_ids: HashMap::new(),
            derived_first: first + named,
            layouts: Vec::new(),
        };
        w.name_types(enums);
        for i in 0..defs.records.len() {
            let layout = w.record_layout(&defs.records[i])?;
            w.layouts.push(layout);
        }
        // SAFETY: `base` outlives the split BTF, which is freed (SplitBtf's drop) before it.
        let split = SplitBtf::new_empty(base).ok_or("cannot make BTF for the script's types")?;
        w.write(split.ptr())?;
        self.merged_with(&split, "the script's types", false)
    }
}

impl<'k> Writer<'k> {
    /// Gives each named type its id: records, then enums, then typedefs, in order.
    fn name_types(&mut self, enums: u32) {
        for (i, r) in self.defs.records.iter().enumerate() {
            if let Some(name) = &r.name {
                let tag = if r.union { "union" } else { "struct" };
                self.tagged.insert((tag, name.clone()), self.records[i]);
            }
        }
        let mut next = self.first + self.defs.records.len() as u32;
        let mut next_typedef = next + enums;
        for d in &self.defs.defs {
            match d {
                Def::Enum(e) => {
                    self.tagged.insert(("enum", e.name.clone()), next);
                    next += 1;
                }
                Def::Typedef { name, ty } => {
                    self.typedefs.insert(name.clone(), (next_typedef, ty.clone()));
                    next_typedef += 1;
                }
                Def::Record(_) => {}
            }
        }
    }

    /// A type's size and alignment.
    fn layout(&self, ty: &CType) -> Result<Layout, String> {
        Ok(match ty {
            CType::Int { size, .. } => Layout { size: *size, align: *size },
            CType::Void => return Err("a member cannot be `void`".into()),
            CType::Ptr(_) => Layout { size: 8, align: 8 },
            CType::Array(elem, len) => {
                let e = self.layout(elem)?;
                Layout { size: e.size * len, align: e.align }
            }
            CType::Anonymous(i) => self.layouts.get(*i).ok_or("an anonymous member before its definition")?.0,
            CType::Tagged { tag: Tag::Enum, name } if self.tagged.contains_key(&("enum", name.clone())) => Layout { size: 4, align: 4 },
            CType::Tagged { tag, name } => match self.tagged.get(&(tag.word(), name.clone())) {
                Some(&id) => {
                    let i = (id - self.first) as usize;
                    self.layouts.get(i).ok_or_else(|| format!("`{} {name}` is used before its definition is complete", tag.word()))?.0
                }
                None => self.kernel_layout(self.kernel.find_tagged(tag.word(), name).ok_or_else(|| format!("unknown type `{} {name}`", tag.word()))?)?,
            },
            CType::Named(name) => match self.typedefs.get(name) {
                Some((_, ty)) => self.layout(ty)?,
                None => self.kernel_layout(self.kernel.find_typedef(name).ok_or_else(|| format!("unknown type `{name}`"))?)?,
            },
        })
    }

    /// A kernel type's size and alignment (its largest scalar's, at most 8).
    fn kernel_layout(&self, id: u32) -> Result<Layout, String> {
        Ok(Layout { size: self.kernel.size(id), align: self.kernel_align(id) })
    }

    fn kernel_align(&self, id: u32) -> u32 {
        match self.kernel.shape(id) {
            Shape::Int { size, .. } => size.clamp(1, 8),
            Shape::Ptr { .. } => 8,
            Shape::Array { elem, .. } => self.kernel_align(elem),
            Shape::Record { id, .. } => {
                let names = self.kernel.member_names(id);
                names.iter().filter_map(|n| self.kernel.member(id, n)).map(|m| self.kernel_align(m.ty)).max().unwrap_or(1)
            }
            Shape::Other => 1,
        }
    }

    /// A record's layout and each member's place, as GCC lays it out on x86-64.
    fn record_layout(&self, r: &Record) -> Result<(Layout, Placed), String> {
        let (mut bits, mut size_bits, mut align) = (0u32, 0u32, 1u32);
        let mut placed = Vec::new();
        for f in &r.fields {
            let l = self.layout(&f.ty).map_err(|e| format!("{e} (member `{}`)", f.name))?;
            let a = if r.packed { 1 } else { l.align.max(1) };
            if f.bits == Some(0) {
                // A zero-width bitfield: the next one starts a new storage unit.
                if !r.union {
                    bits = bits.next_multiple_of(l.size * 8);
                }
                continue;
            }
            let at = match f.bits {
                Some(width) if !matches!(f.ty, CType::Int { .. } | CType::Named(_) | CType::Tagged { tag: Tag::Enum, .. }) || width > l.size * 8 => {
                    return Err(format!("bitfield `{}` is wider than its type, or not an integer", f.name));
                }
                _ if r.union => 0,
                Some(width) => {
                    let unit = l.size * 8;
                    if !r.packed && bits % unit + width > unit {
                        bits = bits.next_multiple_of(unit);
                    }
                    bits
                }
                None => bits.next_multiple_of(a * 8),
            };
            let width = f.bits.unwrap_or(l.size * 8);
            if !r.union {
                bits = at + width;
            }
            size_bits = size_bits.max(at + width);
            align = align.max(a);
            placed.push((at, f.bits));
        }
        let align = align.max(r.align.unwrap_or(1));
        Ok((Layout { size: size_bits.div_ceil(8).next_multiple_of(align), align }, placed))
    }

    /// The BTF id of a type, giving derived types their ids on first use.
    fn type_id(&mut self, ty: &CType) -> Result<u32, String> {
        let derived = match ty {
            CType::Void => return Ok(0),
            CType::Int { size, signed, name } => {
                let encoding = match name.as_str() {
                    "_Bool" => libbpf_sys::BTF_INT_BOOL,
                    // (C's `char` is signed on x86-64; `char` by name is what makes it text)
                    _ if *signed => libbpf_sys::BTF_INT_SIGNED,
                    _ => 0,
                };
                Derived::Int { name: name.clone(), size: *size, encoding }
            }
            CType::Ptr(to) => Derived::Ptr(self.type_id(to)?),
            CType::Array(elem, len) => Derived::Array { elem: self.type_id(elem)?, len: *len },
            CType::Anonymous(i) => return Ok(self.records[*i]),
            CType::Tagged { tag, name } => {
                return match self.tagged.get(&(tag.word(), name.clone())) {
                    Some(&id) => Ok(id),
                    None => self.kernel.find_tagged(tag.word(), name).ok_or_else(|| format!("unknown type `{} {name}`", tag.word())),
                };
            }
            CType::Named(name) => {
                return match self.typedefs.get(name) {
                    Some((id, _)) => Ok(*id),
                    None => self.kernel.find_typedef(name).ok_or_else(|| format!("unknown type `{name}`")),
                };
            }
        };
        if let Some(&id) = self.derived_ids.get(&derived) {
            return Ok(id);
        }
        let id = self.derived_first + self.derived.len() as u32;
        self.derived.push(derived.clone());
        self.derived_ids.insert(derived, id);
        Ok(id)
    }

    /// Adds every type to `btf` (split BTF over the kernel's), in the order of the ids given.
    fn write(&mut self, btf: *mut libbpf_sys::btf) -> Result<(), String> {
        let defs = self.defs;
        for (i, r) in defs.records.iter().enumerate() {
            let mut members = Vec::new();
            let placed = self.layouts[i].1.clone();
            for (f, (at, bits)) in r.fields.iter().filter(|f| f.bits != Some(0)).zip(placed) {
                members.push((f.name.clone(), self.type_id(&f.ty)?, at, bits.unwrap_or(0)));
            }
            let name = r.name.as_deref().map(c_string).transpose()?;
            let name_ptr = name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
            let size = self.layouts[i].0.size;
            // SAFETY: `btf` is a live, writable BTF; the name is NUL-terminated.
            let id = unsafe { if r.union { libbpf_sys::btf__add_union(btf, name_ptr, size) } else { libbpf_sys::btf__add_struct(btf, name_ptr, size) } };
            check(id, self.records[i])?;
            for (name, ty, at, bits) in members {
                let name = c_string(&name)?;
                // SAFETY: the record just added is `btf`'s last type, which fields go into.
                let rc = unsafe { libbpf_sys::btf__add_field(btf, if name.is_empty() { std::ptr::null() } else { name.as_ptr() }, ty as i32, at, bits) };
                check(rc, 0)?;
            }
        }
        let mut next = self.first + defs.records.len() as u32;
        for d in &defs.defs {
            let Def::Enum(e) = d else { continue };
            let name = c_string(&e.name)?;
            // SAFETY: as above.
            check(unsafe { libbpf_sys::btf__add_enum(btf, name.as_ptr(), 4) }, next)?;
            for (v, value) in &e.values {
                let v = c_string(v)?;
                // SAFETY: the enum just added is `btf`'s last type.
                check(unsafe { libbpf_sys::btf__add_enum_value(btf, v.as_ptr(), *value) }, 0)?;
            }
            next += 1;
        }
        for d in &defs.defs {
            let Def::Typedef { name, ty } = d else { continue };
            let to = self.type_id(ty)?;
            let name = c_string(name)?;
            // SAFETY: as above.
            check(unsafe { libbpf_sys::btf__add_typedef(btf, name.as_ptr(), to as i32) }, next)?;
            next += 1;
        }
        // Derived types may give further ids while being written (an array of pointers).
        let mut i = 0;
        while i < self.derived.len() {
            let id = self.derived_first + i as u32;
            let rc = match self.derived[i].clone() {
                Derived::Int { name, size, encoding } => {
                    let name = c_string(&name)?;
                    // SAFETY: as above.
                    unsafe { libbpf_sys::btf__add_int(btf, name.as_ptr(), size as u64, encoding as i32) }
                }
                // SAFETY: as above; ids may point forward (libbpf checks only their range).
                Derived::Ptr(to) => unsafe { libbpf_sys::btf__add_ptr(btf, to as i32) },
                Derived::Array { elem, len } => {
                    let index = self.type_id(&CType::Int { size: 4, signed: false, name: "unsigned int".into() })?;
                    // SAFETY: as above.
                    unsafe { libbpf_sys::btf__add_array(btf, index as i32, elem as i32, len) }
                }
            };
            check(rc, id)?;
            i += 1;
        }
        Ok(())
    }
}

pub(super) fn c_string(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("`{s}` holds a NUL byte"))
}

/// libbpf's result `rc` must be `want` (the id the type was given, or 0).
pub(super) fn check(rc: i32, want: u32) -> Result<(), String> {
    if rc < 0 {
        return Err(format!("libbpf refused a type: {}", std::io::Error::from_raw_os_error(-rc)));
    }
    if rc as u32 != want {
        return Err(format!("internal error: a script type got id {rc}, not {want}"));
    }
    Ok(())
}
