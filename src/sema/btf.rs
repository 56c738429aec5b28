//! Kernel types from the kernel's BTF (/sys/kernel/btf/vmlinux), read through libbpf-rs and
//! loaded only when a script uses a kernel type. Sema works with plain type ids and the
//! `Shape` of each; codegen never sees BTF, only the offsets and sizes sema recorded.

use libbpf_rs::btf::types::{Array, Composite, Enum, Func, FuncProto, Int, IntEncoding, MemberAttr, Ptr, Typedef};
use libbpf_rs::btf::{Btf, BtfKind, BtfType, HasSize, ReferencesType, TypeId};

/// The prefix of the typedef BTF has for each raw tracepoint.
const RAW_TP_PREFIX: &str = "btf_trace_";

/// The names `keep` accepts, sorted, each once.
fn sorted_names<'a>(names: impl Iterator<Item = &'a std::ffi::OsStr>, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = names.filter_map(|n| n.to_str()).filter(|n| keep(n)).map(str::to_string).collect();
    out.sort();
    out.dedup();
    out
}

pub struct KernelTypes {
    btf: Btf<'static>,
    /// Every enumerator's value, gathered on first use.
    enums: std::cell::OnceCell<std::collections::HashMap<String, i64>>,
}

/// What a BTF type is, once typedefs and qualifiers are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Int { size: u32, signed: bool, is_char: bool },
    /// A pointer; `to` is the pointee's id, `None` for `void *`.
    Ptr { to: Option<u32> },
    /// A struct or union.
    Record { id: u32, size: u32 },
    Array { elem: u32, len: u32 },
    Other,
}

/// A member found in a struct or union (through anonymous members too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub offset_bits: u32,
    /// For a bitfield, its width in bits.
    pub bitfield: Option<u8>,
    pub ty: u32,
}

impl KernelTypes {
    pub fn load() -> Result<KernelTypes, String> {
        Btf::from_vmlinux()
            .map(|btf| KernelTypes { btf, enums: Default::default() })
            .map_err(|e| format!("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): {e}"))
    }

    fn ty(&self, id: u32) -> Option<BtfType<'_>> {
        self.btf.type_by_id::<BtfType>(TypeId::from(id)).map(|t| t.skip_mods_and_typedefs())
    }

    /// The id of `struct NAME`, `union NAME` or `enum NAME`.
    pub fn find_tagged(&self, tag: &str, name: &str) -> Option<u32> {
        let want = match tag {
            "struct" => BtfKind::Struct,
            "union" => BtfKind::Union,
            _ => BtfKind::Enum,
        };
        // Most names are unique; when a name is shared (a typedef and a struct), look on.
        let first = self.btf.type_by_name::<BtfType>(name)?;
        if first.kind() == want {
            return Some(first.type_id().into());
        }
        self.btf
            .type_by_kind::<BtfType>()
            .find(|t| t.kind() == want && t.name().and_then(|n| n.to_str()) == Some(name))
            .map(|t| t.type_id().into())
    }

    /// A BTF integer type (not `char`) of `size` bytes and this signedness, to type array
    /// elements that come from elsewhere (tracepoint formats). The kernel's base integer types
    /// come first in vmlinux BTF.
    pub fn int_type(&self, size: u32, signed: bool) -> Option<u32> {
        (1..4096).find(|&id| matches!(self.shape(id), Shape::Int { size: s, signed: g, is_char: false } if s == size && g == signed))
    }

    pub fn shape(&self, id: u32) -> Shape {
        let Some(t) = self.ty(id) else { return Shape::Other };
        let tid: u32 = t.type_id().into();
        if let Ok(i) = Int::try_from(t) {
            let is_char = matches!(i.encoding, IntEncoding::Char) || t.name().and_then(|n| n.to_str()) == Some("char");
            return Shape::Int { size: i.size() as u32, signed: matches!(i.encoding, IntEncoding::Signed), is_char };
        }
        if let Ok(e) = Enum::try_from(t) {
            return Shape::Int { size: e.size() as u32, signed: e.is_signed(), is_char: false };
        }
        if let Ok(p) = Ptr::try_from(t) {
            let to: u32 = p.referenced_type_id().into();
            return Shape::Ptr { to: (to != 0).then_some(to) };
        }
        if let Ok(c) = Composite::try_from(t) {
            return Shape::Record { id: tid, size: self.size_of(&c) };
        }
        if let Ok(a) = Array::try_from(t) {
            return Shape::Array { elem: a.ty().into(), len: a.capacity() as u32 };
        }
        Shape::Other
    }

    fn size_of(&self, c: &Composite) -> u32 {
        // SAFETY-free: structs and unions carry their size.
        match c.is_struct {
            true => libbpf_rs::btf::types::Struct::try_from(**c).map(|s| s.size() as u32).unwrap_or(0),
            false => libbpf_rs::btf::types::Union::try_from(**c).map(|u| u.size() as u32).unwrap_or(0),
        }
    }

    /// Bytes of a value of type `id`.
    pub fn size(&self, id: u32) -> u32 {
        match self.shape(id) {
            Shape::Int { size, .. } => size,
            Shape::Ptr { .. } => 8,
            Shape::Record { size, .. } => size,
            Shape::Array { elem, len } => self.size(elem) * len,
            Shape::Other => 0,
        }
    }

    /// A kernel function's parameters (name, type id) and return type id, from its BTF FUNC.
    pub fn function(&self, name: &str) -> Option<(Vec<(String, u32)>, u32)> {
        let func = self.btf.type_by_name::<Func>(name)?;
        let proto = FuncProto::try_from(func.referenced_type()).ok()?;
        let params = proto
            .iter()
            .map(|p| (p.name.and_then(|n| n.to_str()).unwrap_or("").to_string(), u32::from(p.ty)))
            .collect();
        Some((params, proto.referenced_type_id().into()))
    }

    /// The names of the kernel functions BTF describes that `matches` accepts.
    pub fn functions_matching(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        sorted_names(self.btf.type_by_kind::<Func>().filter_map(|f| f.name()), |n| matches(n))
    }

    /// The raw tracepoints the kernel defines (one `btf_trace_NAME` typedef each) whose NAME
    /// `matches` accepts.
    pub fn raw_tracepoints_matching(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        let names = self.btf.type_by_kind::<Typedef>().filter_map(|t| t.name());
        let names: Vec<String> = sorted_names(names, |n| n.starts_with(RAW_TP_PREFIX));
        names.into_iter().map(|n| n[RAW_TP_PREFIX.len()..].to_string()).filter(|n| matches(n)).collect()
    }

    /// Raw tracepoint `name`'s arguments, named and typed, from the `__probestub_NAME`
    /// function the kernel (6.4 and later) defines for each tracepoint, without its first
    /// parameter (the tracepoint's private data); and its (void) return type.
    pub fn raw_tracepoint_params(&self, name: &str) -> Option<(Vec<(String, u32)>, u32)> {
        let (mut params, ret) = self.function(&format!("__probestub_{name}"))?;
        (!params.is_empty()).then(|| params.remove(0))?;
        Some((params, ret))
    }

    /// How many arguments raw tracepoint `name` passes: its `btf_trace_NAME` typedef is a
    /// pointer to a function whose first parameter is the tracepoint's private data.
    pub fn raw_tracepoint_args(&self, name: &str) -> Option<usize> {
        let t = self.btf.type_by_name::<Typedef>(&format!("{RAW_TP_PREFIX}{name}"))?;
        let ptr = Ptr::try_from(t.referenced_type()).ok()?;
        let proto = FuncProto::try_from(ptr.referenced_type()).ok()?;
        Some(proto.len().saturating_sub(1))
    }

    /// The value of an enumerator such as `TCP_FIN_WAIT1`, from any kernel enum.
    pub fn enum_value(&self, name: &str) -> Option<i64> {
        if self.enums.get().is_none() {
            let mut all = std::collections::HashMap::new();
            for e in self.btf.type_by_kind::<Enum>() {
                for m in e.iter() {
                    if let Some(n) = m.name.and_then(|n| n.to_str()) {
                        all.entry(n.to_string()).or_insert(m.value);
                    }
                }
            }
            let _ = self.enums.set(all);
        }
        self.enums.get()?.get(name).copied()
    }

    /// If type `id` is an enum (through typedefs and qualifiers), its name, size, signedness
    /// and enumerators (each value cut to the enum's size), for printing values by name.
    pub fn enum_def(&self, id: u32) -> Option<crate::plan::EnumDef> {
        let e = Enum::try_from(self.ty(id)?).ok()?;
        let size = e.size() as u32;
        let mask = if size >= 8 { u64::MAX } else { (1u64 << (8 * size)) - 1 };
        let values = e
            .iter()
            .filter_map(|m| Some(((m.value as u64) & mask, m.name?.to_str()?.to_string())))
            .collect();
        let name = e.name().and_then(|n| n.to_str()).unwrap_or("(anonymous)").to_string();
        Some(crate::plan::EnumDef { name, size, signed: e.is_signed(), values })
    }

    /// The member `name` of record `id`, searching anonymous struct and union members.
    pub fn member(&self, id: u32, name: &str) -> Option<Member> {
        let c = Composite::try_from(self.ty(id)?).ok()?;
        for m in c.iter() {
            let (offset_bits, bitfield) = match m.attr {
                MemberAttr::Normal { offset } => (offset, None),
                MemberAttr::BitField { size, offset } => (offset, Some(size)),
            };
            let ty: u32 = m.ty.into();
            match m.name.and_then(|n| n.to_str()) {
                Some(n) if n == name => return Some(Member { offset_bits, bitfield, ty }),
                Some(n) if !n.is_empty() => {}
                _ => {
                    if let Some(inner) = self.member(ty, name) {
                        return Some(Member { offset_bits: offset_bits + inner.offset_bits, ..inner });
                    }
                }
            }
        }
        None
    }

    /// The names of record `id`'s members, anonymous members' flattened in.
    pub fn member_names(&self, id: u32) -> Vec<String> {
        let Some(c) = self.ty(id).and_then(|t| Composite::try_from(t).ok()) else { return vec![] };
        let mut out = Vec::new();
        for m in c.iter() {
            match m.name.and_then(|n| n.to_str()) {
                Some(n) if !n.is_empty() => out.push(n.to_string()),
                _ => out.extend(self.member_names(m.ty.into())),
            }
        }
        out
    }

    /// How the type is written in C, for messages: `struct sock *`, `unsigned int`.
    pub fn name(&self, id: u32) -> String {
        let Some(t) = self.ty(id) else { return "void".into() };
        let named = |prefix: &str| format!("{prefix}{}", t.name().and_then(|n| n.to_str()).unwrap_or("(anonymous)"));
        match t.kind() {
            BtfKind::Struct => named("struct "),
            BtfKind::Union => named("union "),
            BtfKind::Enum | BtfKind::Enum64 => named("enum "),
            BtfKind::Ptr => match self.shape(id) {
                Shape::Ptr { to: Some(to) } => format!("{} *", self.name(to)),
                _ => "void *".into(),
            },
            BtfKind::Array => match self.shape(id) {
                Shape::Array { elem, len } => format!("{}[{len}]", self.name(elem)),
                _ => "array".into(),
            },
            _ => named(""),
        }
    }
}
