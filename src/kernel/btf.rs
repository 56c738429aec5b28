//! Kernel types from the kernel's BTF (/sys/kernel/btf/vmlinux), read through libbpf-rs and
//! loaded only when a script uses a kernel type. Sema works with plain type ids and the
//! `Shape` of each; codegen never sees BTF, only the offsets and sizes sema recorded.

use libbpf_rs::btf::types::{Array, Composite, Enum, Func, FuncProto, Int, IntEncoding, MemberAttr, Ptr, Typedef, Var};
use libbpf_rs::btf::{Btf, BtfKind, BtfType, HasSize, ReferencesType, TypeId};
use libbpf_rs::libbpf_sys;
use libbpf_rs::AsRawLibbpf;

/// The prefix of the typedef BTF has for each raw tracepoint.
const RAW_TP_PREFIX: &str = "btf_trace_";

/// Split BTF over a base (vmlinux's): a module's as libbpf parsed it, or a script's types
/// (`script_types`); freed on drop (before the base, which it refers to).
pub(super) struct SplitBtf(std::ptr::NonNull<libbpf_sys::btf>);

impl SplitBtf {
    /// An empty split BTF over `base`, to add types to.
    #[cfg(feature = "compiler")]
    pub(super) fn new_empty(base: *mut libbpf_sys::btf) -> Option<SplitBtf> {
        // SAFETY: `base` is a live BTF object, which the caller keeps alive longer than this.
        SplitBtf::from_libbpf(unsafe { libbpf_sys::btf__new_empty_split(base) })
    }

    /// libbpf's result: a BTF object, or NULL or an error encoded in the pointer.
    fn from_libbpf(ptr: *mut libbpf_sys::btf) -> Option<SplitBtf> {
        // SAFETY: libbpf_get_error only inspects the pointer value.
        let failed = ptr.is_null() || unsafe { libbpf_sys::libbpf_get_error(ptr as *const _) } != 0;
        std::ptr::NonNull::new(ptr).filter(|_| !failed).map(SplitBtf)
    }

    #[cfg(feature = "compiler")]
    pub(super) fn ptr(&self) -> *mut libbpf_sys::btf {
        self.0.as_ptr()
    }

    /// Parses `path` (a module's BTF) as split BTF over `base`.
    fn parse(path: &std::path::Path, base: &Btf) -> std::io::Result<SplitBtf> {
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: `path` is NUL-terminated and `base` a live BTF object; libbpf copies what it
        // needs from the file and keeps a pointer to `base`, which outlives the result.
        let ptr = unsafe { libbpf_sys::btf__parse_split(path.as_ptr(), base.as_libbpf_object().as_ptr()) };
        SplitBtf::from_libbpf(ptr).ok_or_else(std::io::Error::last_os_error)
    }
}

impl Drop for SplitBtf {
    fn drop(&mut self) {
        // SAFETY: the pointer came from btf__parse_split and is freed once, here.
        unsafe { libbpf_sys::btf__free(self.0.as_ptr()) };
    }
}

/// The raw bytes libbpf holds for the BTF object `btf`, which `owner` owns (for split BTF,
/// its own part only): its first four bytes (magic, version, flags), its type section and its
/// string section.
fn raw_sections<'a, T>(btf: *const libbpf_sys::btf, _owner: &'a T) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
    let mut size = 0u32;
    // SAFETY: `btf` is the live BTF object `owner` owns; libbpf keeps its raw data with it.
    let data = unsafe { libbpf_sys::btf__raw_data(btf, &mut size) };
    if data.is_null() {
        return None;
    }
    // SAFETY: libbpf's raw data is `size` bytes long and lives while `owner` does.
    let raw: &'a [u8] = unsafe { std::slice::from_raw_parts(data.cast(), size as usize) };
    let header_len = std::mem::size_of::<libbpf_sys::btf_header>();
    // SAFETY: `raw` starts with a `struct btf_header` (libbpf wrote it), read unaligned.
    let h: libbpf_sys::btf_header = unsafe { std::ptr::read_unaligned(raw.get(..header_len)?.as_ptr().cast()) };
    let section = |off: u32, len: u32| raw.get(h.hdr_len as usize + off as usize..)?.get(..len as usize);
    Some((&raw[..4], section(h.type_off, h.type_len)?, section(h.str_off, h.str_len)?))
}

/// vmlinux's BTF `base` and a module's split BTF over it as one BTF: vmlinux's types followed
/// by the module's, and vmlinux's strings followed by the module's, which keeps every id and
/// string offset (libbpf-rs can open no split BTF, and libbpf cannot flatten one). And the id
/// of the module's first type.
fn merge_split_btf(base: &Btf, split: &SplitBtf) -> Option<(Vec<u8>, u32)> {
    let (magic, base_types, base_strs) = raw_sections(base.as_libbpf_object().as_ptr(), base)?;
    let (_, split_types, split_strs) = raw_sections(split.0.as_ptr(), split)?;
    let type_len = base_types.len() + split_types.len();
    let str_len = base_strs.len() + split_strs.len();
    let header_len = std::mem::size_of::<libbpf_sys::btf_header>();
    let mut out = Vec::with_capacity(header_len + type_len + str_len);
    out.extend_from_slice(magic);
    for v in [header_len, 0, type_len, type_len, str_len] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    for part in [base_types, split_types, base_strs, split_strs] {
        out.extend_from_slice(part);
    }
    // btf__type_cnt: the base's last id plus one.
    Some((out, base.len() as u32))
}


/// Opens BTF held in memory: libbpf parses files, so the bytes go through a memfd, which
/// disappears with it.
fn open_bytes(bytes: &[u8]) -> std::io::Result<Btf<'static>> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"rtrace-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned by nothing else.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    std::io::Write::write_all(&mut file, bytes)?;
    Btf::from_path(format!("/proc/self/fd/{fd}")).map_err(std::io::Error::other)
}
/// The names `keep` accepts, sorted, each once.
fn sorted_names<'a>(names: impl Iterator<Item = &'a std::ffi::OsStr>, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = names.filter_map(|n| n.to_str()).filter(|n| keep(n)).map(str::to_string).collect();
    out.sort();
    out.dedup();
    out
}

pub struct KernelTypes {
    btf: Btf<'static>,
    /// The module whose types were added to vmlinux's (`load_module`).
    pub module: Option<String>,
    /// The id of the module's first type (past vmlinux's last).
    module_start: u32,
    /// The id of the script's first type (`with_script_types`), past the kernel's.
    script_start: u32,
    /// The id of the first type read from a user binary's DWARF (`with_dwarf_types`), past
    /// the script's: found by id only, never by name.
    user_start: u32,
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

/// The environment variable that names a BTF file to compile against instead of the running
/// kernel's types.
pub const BTF_ENV: &str = "RTRACE_BTF";

impl KernelTypes {
    /// The running kernel's types; or, where `RTRACE_BTF` names a file (raw BTF, or an ELF
    /// file with a `.BTF` section), that file's: with `--co-re`, compiling against another
    /// kernel's types, whose accesses libbpf moves to this kernel's at load (docs/co-re.md).
    pub fn load() -> Result<KernelTypes, String> {
        let loaded = match std::env::var_os(BTF_ENV) {
            Some(path) => Btf::from_path(&path).map_err(|e| format!("cannot read BTF from {} ({BTF_ENV}): {e}", path.to_string_lossy())),
            None => Btf::from_vmlinux().map_err(|e| format!("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): {e}")),
        };
        loaded.map(|btf| KernelTypes { btf, module: None, module_start: u32::MAX, script_start: u32::MAX, user_start: u32::MAX, enums: Default::default() })
    }

    /// vmlinux's types and module `name`'s (/sys/kernel/btf/NAME), as one BTF. A module's BTF
    /// is split BTF: its type ids continue after vmlinux's and its string offsets after
    /// vmlinux's strings. libbpf reads it (`btf__parse_split`); libbpf-rs can open only whole
    /// BTF, so vmlinux's types followed by the module's, and vmlinux's strings followed by the
    /// module's, become one BTF with every id and offset unchanged (`merge_split_btf`).
    pub fn load_module(name: &str) -> Result<KernelTypes, String> {
        let path = std::path::Path::new("/sys/kernel/btf").join(name);
        let unreadable = |e: &dyn std::fmt::Display| format!("cannot read module `{name}`'s BTF (/sys/kernel/btf/{name}): {e}");
        if !path.exists() {
            return Err(format!("module `{name}` is not loaded, or has no BTF (no /sys/kernel/btf/{name})"));
        }
        let base = Btf::from_vmlinux().map_err(|e| format!("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): {e}"))?;
        let split = SplitBtf::parse(&path, &base).map_err(|e| unreadable(&e))?;
        let (merged, module_start) = merge_split_btf(&base, &split).ok_or_else(|| unreadable(&"not BTF"))?;
        let btf = open_bytes(&merged).map_err(|e| unreadable(&e))?;
        Ok(KernelTypes { btf, module: Some(name.to_string()), module_start, script_start: u32::MAX, user_start: u32::MAX, enums: Default::default() })
    }

    /// These types and split BTF `split` over them as one (`what` names it in errors): a
    /// script's types, or (`user`) a user binary's.
    #[cfg(feature = "compiler")]
    pub(super) fn merged_with(&self, split: &SplitBtf, what: &str, user: bool) -> Result<KernelTypes, String> {
        let (merged, start) = merge_split_btf(&self.btf, split).ok_or_else(|| format!("cannot make BTF for {what}"))?;
        let btf = open_bytes(&merged).map_err(|e| format!("cannot read BTF for {what}: {e}"))?;
        let (module, module_start) = (self.module.clone(), self.module_start);
        let script_start = self.script_start.min(start);
        let user_start = if user { self.user_start.min(start) } else { self.user_start };
        Ok(KernelTypes { btf, module, module_start, script_start, user_start, enums: Default::default() })
    }

    /// libbpf's object for these types.
    #[cfg(feature = "compiler")]
    pub(super) fn btf_object(&self) -> *mut libbpf_sys::btf {
        self.btf.as_libbpf_object().as_ptr()
    }

    /// Whether type `id` is one of the script's own or a user binary's (which have no CO-RE
    /// relocation: the kernel does not know them).
    pub fn is_script_type(&self, id: u32) -> bool {
        id >= self.script_start
    }

    fn ty(&self, id: u32) -> Option<BtfType<'_>> {
        self.btf.type_by_id::<BtfType>(TypeId::from(id)).map(|t| t.skip_mods_and_typedefs())
    }

    /// The id of the type `id` names once its modifiers (`const`, `volatile`, type tags) and
    /// typedefs are skipped: two ids name the same type when their `resolved` ids are equal.
    pub fn resolved(&self, id: u32) -> u32 {
        self.ty(id).map_or(id, |t| t.type_id().into())
    }

    /// The id of `struct NAME`, `union NAME` or `enum NAME`.
    pub fn find_tagged(&self, tag: &str, name: &str) -> Option<u32> {
        let want = match tag {
            "struct" => BtfKind::Struct,
            "union" => BtfKind::Union,
            _ => BtfKind::Enum,
        };
        self.find_kind(want, name)
    }

    /// The id of `typedef … NAME`.
    pub fn find_typedef(&self, name: &str) -> Option<u32> {
        self.find_kind(BtfKind::Typedef, name)
    }

    fn find_kind(&self, want: BtfKind, name: &str) -> Option<u32> {
        // A script's types come first: its `struct S` hides the kernel's.
        if self.script_start != u32::MAX {
            let found = (self.script_start..self.user_start)
                .map_while(|id| self.btf.type_by_id::<BtfType>(TypeId::from(id)))
                .find(|t| t.kind() == want && t.name().and_then(|n| n.to_str()) == Some(name));
            if let Some(t) = found {
                return Some(t.type_id().into());
            }
        }
        // Most names are unique; when a name is shared (a typedef and a struct), look on.
        let first = self.btf.type_by_name::<BtfType>(c_name(name)?)?;
        if first.kind() == want && u32::from(first.type_id()) < self.user_start {
            return Some(first.type_id().into());
        }
        self.btf
            .type_by_kind::<BtfType>()
            .find(|t| t.kind() == want && t.name().and_then(|n| n.to_str()) == Some(name))
            .map(|t| t.type_id().into())
            .filter(|&id: &u32| id < self.user_start)
    }

    /// Every typedef's name, for suggestions.
    pub fn typedef_names(&self) -> Vec<String> {
        self.btf
            .type_by_kind::<BtfType>()
            .filter(|t| t.kind() == BtfKind::Typedef)
            .filter_map(|t| t.name().and_then(|n| n.to_str()).map(str::to_string))
            .collect()
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
        self.function_at(self.btf.type_by_name::<Func>(c_name(name)?)?.type_id().into())
    }

    /// The id of kernel function `name`'s BTF FUNC.
    pub fn function_id(&self, name: &str) -> Option<u32> {
        Some(self.btf.type_by_name::<Func>(c_name(name)?)?.type_id().into())
    }

    /// The type id of kernel variable `name` (a BTF VAR: vmlinux's BTF holds the per-CPU
    /// variables).
    pub fn variable(&self, name: &str) -> Option<u32> {
        Some(self.btf.type_by_name::<Var>(c_name(name)?)?.referenced_type_id().into())
    }

    /// Like [`KernelTypes::function`], for the BTF FUNC with id `id`.
    pub fn function_at(&self, id: u32) -> Option<(Vec<(String, u32)>, u32)> {
        let func = Func::try_from(self.btf.type_by_id::<BtfType>(TypeId::from(id))?).ok()?;
        let proto = FuncProto::try_from(func.referenced_type()).ok()?;
        let params = proto
            .iter()
            .map(|p| (p.name.and_then(|n| n.to_str()).unwrap_or("").to_string(), u32::from(p.ty)))
            .collect();
        Some((params, proto.referenced_type_id().into()))
    }

    /// Every kernel function BTF describes, by name, with its FUNC's id (the first, for a
    /// name BTF has twice).
    pub fn function_ids(&self) -> std::collections::BTreeMap<String, u32> {
        let mut out = std::collections::BTreeMap::new();
        for f in self.btf.type_by_kind::<Func>() {
            if let Some(name) = f.name().and_then(|n| n.to_str()) {
                out.entry(name.to_string()).or_insert_with(|| u32::from(f.type_id()));
            }
        }
        out
    }

    /// Whether function `name` is the module's (`load_module`), not vmlinux's: the module's
    /// types have ids past vmlinux's, so its functions come after every vmlinux function.
    pub fn function_is_in_module(&self, name: &str) -> bool {
        self.module.is_some()
            && self.btf.type_by_kind::<Func>().any(|f| u32::from(f.type_id()) >= self.module_start && f.name().is_some_and(|n| n.to_str() == Some(name)))
    }

    /// The names of the kernel functions BTF describes that `matches` accepts.
    pub fn functions_matching(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        sorted_names(self.btf.type_by_kind::<Func>().filter_map(|f| f.name()), |n| matches(n))
    }

    /// The BPF iterators BTF names, sorted: each `struct bpf_iter__NAME` (the context an
    /// iterator program gets; not the verifier's `…__safe_trusted` variants) with a function
    /// `bpf_iter_NAME`. (`struct bpf_iter_task`, an open-coded iterator's state, shares the
    /// function's name: functions are looked for among FUNCs only.)
    pub fn iterators(&self) -> Vec<String> {
        let functions = self.functions_matching(|n| n.starts_with("bpf_iter_"));
        let mut names: Vec<String> = self
            .tagged_types()
            .into_iter()
            .filter_map(|(tagged, _)| tagged.strip_prefix("struct bpf_iter__").map(str::to_string))
            .filter(|n| !n.ends_with("__safe_trusted") && functions.iter().any(|f| f.strip_prefix("bpf_iter_") == Some(n)))
            .collect();
        names.sort();
        names.dedup();
        names
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
        let t = self.btf.type_by_name::<Typedef>(&format!("{RAW_TP_PREFIX}{}", c_name(name)?))?;
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

    /// Record `id`'s members as a copy of its bytes is printed (bpftrace 0.26's record
    /// output): char arrays as strings, named enums by name, pointers in hex, embedded records
    /// and arrays element by element; an anonymous member's fields are flattened in at their
    /// offsets. A member of a type that has no value (a function) is left out.
    pub fn struct_def(&self, id: u32) -> crate::plan::StructDef {
        let mut fields = Vec::new();
        self.gather_fields(id, 0, &mut fields);
        crate::plan::StructDef { fields }
    }

    fn gather_fields(&self, id: u32, base_bits: u32, out: &mut Vec<crate::plan::StructField>) {
        let Some(c) = self.ty(id).and_then(|t| Composite::try_from(t).ok()) else { return };
        for m in c.iter() {
            let (offset, bits) = match m.attr {
                MemberAttr::Normal { offset } => (offset, None),
                MemberAttr::BitField { size, offset } => (offset, Some(size)),
            };
            let ty: u32 = m.ty.into();
            match m.name.and_then(|n| n.to_str()).filter(|n| !n.is_empty()) {
                Some(name) => {
                    if let Some(kind) = self.field_kind(ty, bits) {
                        out.push(crate::plan::StructField { name: name.to_string(), offset_bits: base_bits + offset, kind });
                    }
                }
                None => self.gather_fields(ty, base_bits + offset, out),
            }
        }
    }

    fn field_kind(&self, ty: u32, bits: Option<u8>) -> Option<crate::plan::FieldKind> {
        use crate::plan::FieldKind;
        Some(match self.shape(ty) {
            Shape::Int { size, signed, .. } => match self.enum_def(ty) {
                Some(e) if bits.is_none() && e.name != "(anonymous)" => FieldKind::Enum(e),
                _ => FieldKind::Int { size, signed, bits },
            },
            Shape::Ptr { .. } => FieldKind::Ptr,
            Shape::Record { id, .. } => FieldKind::Record(self.struct_def(id)),
            Shape::Array { elem, len } => match self.shape(elem) {
                Shape::Int { size: 1, .. } if self.enum_def(elem).is_none() => FieldKind::Chars { len },
                _ => FieldKind::Array { elem: Box::new(self.field_kind(elem, None)?), stride: self.size(elem), len },
            },
            Shape::Other => return None,
        })
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

/// libbpf's C printer for BTF (`btf_dump`), which bpftrace's listings print with: type
/// definitions for `-lv 'struct X'`, declarations for `-lv` of a function's parameters.
impl KernelTypes {
    /// Runs `f` with a fresh `btf_dump` writing into a string, and returns the string.
    fn c_dump(&self, f: impl FnOnce(*mut libbpf_sys::btf_dump)) -> Option<String> {
        let mut out = String::new();
        let btf = self.btf.as_libbpf_object().as_ptr();
        // SAFETY: `btf` is the live libbpf object `self.btf` owns; `out` outlives the dump,
        // which is freed before it is read; the callback only appends to it.
        unsafe {
            let dump = libbpf_sys::btf_dump__new(btf, Some(dump_printf), (&mut out as *mut String).cast(), std::ptr::null());
            if dump.is_null() || libbpf_sys::libbpf_get_error(dump as *const _) != 0 {
                return None;
            }
            f(dump);
            libbpf_sys::btf_dump__free(dump);
        }
        Some(out)
    }

    /// The C definitions of the structs, unions and enums `ids` as libbpf writes them (tabs,
    /// `long: 64;` padding), each from its `struct X {` line to its `};` line, with those of
    /// the named types they use that `keep` accepts (by `struct X`), in the order libbpf
    /// emits them. One dump writes each type once, as bpftrace's listing does.
    pub fn c_definitions(&self, ids: &[u32], keep: impl Fn(&str) -> bool) -> Vec<String> {
        // SAFETY: `dump` is valid for the closure's duration; libbpf checks each id.
        let text = self
            .c_dump(|dump| unsafe {
                for &id in ids {
                    libbpf_sys::btf_dump__dump_type(dump, id);
                }
            })
            .unwrap_or_default();
        let mut defs = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(def) = current.as_mut() {
                def.push_str(line);
                def.push('\n');
                if line == "};" {
                    defs.extend(current.take());
                }
            } else if let Some(head) = line.strip_suffix(" {") {
                let named = head.split_once(' ').is_some_and(|(tag, name)| {
                    matches!(tag, "struct" | "union" | "enum") && !name.is_empty() && !name.contains(' ')
                });
                if named && keep(head) {
                    current = Some(format!("{line}\n"));
                }
            }
        }
        defs
    }

    /// A printer of C declarations (see [`CDecls::decl`]), one `btf_dump` for all of them.
    pub fn c_decls(&self) -> Option<CDecls<'_>> {
        let mut out = Box::new(String::new());
        let btf = self.btf.as_libbpf_object().as_ptr();
        // SAFETY: `btf` is the live libbpf object `self.btf` owns, which the returned value
        // borrows; `out` is boxed, so the pointer the callback gets stays valid while the
        // dump lives (CDecls frees the dump before the box).
        let dump = unsafe {
            libbpf_sys::btf_dump__new(btf, Some(dump_printf), (&mut *out as *mut String).cast(), std::ptr::null())
        };
        // SAFETY: libbpf_get_error only inspects the pointer value.
        if dump.is_null() || unsafe { libbpf_sys::libbpf_get_error(dump as *const _) } != 0 {
            return None;
        }
        Some(CDecls { dump, out, _types: std::marker::PhantomData })
    }

    /// Every named struct, union and enum, as (`struct NAME`, id), in id order.
    pub fn tagged_types(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for id in 1.. {
            let Some(t) = self.btf.type_by_id::<BtfType>(TypeId::from(id)) else { break };
            let tag = match t.kind() {
                BtfKind::Struct => "struct",
                BtfKind::Union => "union",
                BtfKind::Enum | BtfKind::Enum64 => "enum",
                _ => continue,
            };
            match t.name().and_then(|n| n.to_str()) {
                Some(n) if !n.is_empty() => out.push((format!("{tag} {n}"), id)),
                _ => {}
            }
        }
        out
    }

    /// A struct or union's own name (empty when anonymous) and whether it is a union, for
    /// the local types of CO-RE relocations (typedefs and qualifiers skipped).
    pub fn record_name(&self, id: u32) -> Option<(String, bool)> {
        let c = Composite::try_from(self.ty(id)?).ok()?;
        Some((c.name().and_then(|n| n.to_str()).unwrap_or_default().to_string(), !c.is_struct))
    }

    /// Whether BTF type `id` is an enum (after typedefs and qualifiers).
    pub fn is_enum(&self, id: u32) -> bool {
        self.ty(id).is_some_and(|t| matches!(t.kind(), BtfKind::Enum | BtfKind::Enum64))
    }

    /// Whether BTF type `id` is a floating-point type (such parameters are not `argN`).
    pub fn is_float(&self, id: u32) -> bool {
        self.btf.type_by_id::<BtfType>(TypeId::from(id)).is_some_and(|t| t.kind() == BtfKind::Float)
    }
}

/// C declarations of BTF types, as libbpf's `btf_dump` writes them.
pub struct CDecls<'a> {
    dump: *mut libbpf_sys::btf_dump,
    out: Box<String>,
    _types: std::marker::PhantomData<&'a KernelTypes>,
}

impl CDecls<'_> {
    /// Type `id` as a C declaration without a name (`struct file *`, `int (*)(void *)`).
    pub fn decl(&mut self, id: u32) -> String {
        self.out.clear();
        let opts = libbpf_sys::btf_dump_emit_type_decl_opts {
            sz: std::mem::size_of::<libbpf_sys::btf_dump_emit_type_decl_opts>() as _,
            field_name: c"".as_ptr(),
            ..Default::default()
        };
        // SAFETY: `self.dump` is live until drop; `opts` outlives the call; libbpf checks `id`.
        unsafe { libbpf_sys::btf_dump__emit_type_decl(self.dump, id, &opts) };
        std::mem::take(&mut *self.out)
    }
}

impl Drop for CDecls<'_> {
    fn drop(&mut self) {
        // SAFETY: the dump was created by btf_dump__new and is freed once, here.
        unsafe { libbpf_sys::btf_dump__free(self.dump) };
    }
}

extern "C" {
    fn vasprintf(out: *mut *mut std::os::raw::c_char, fmt: *const std::os::raw::c_char, ap: *mut libbpf_sys::__va_list_tag) -> std::os::raw::c_int;
}

/// `btf_dump`'s printf: formats one piece and appends it to the `String` at `ctx`.
unsafe extern "C" fn dump_printf(ctx: *mut std::ffi::c_void, fmt: *const std::os::raw::c_char, args: *mut libbpf_sys::__va_list_tag) {
    let mut s: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: libbpf passes a valid format and its arguments; `ctx` is the `String` c_dump
    // gave btf_dump__new, alive while the dump is; vasprintf's buffer is freed after copying.
    unsafe {
        if vasprintf(&mut s, fmt, args) < 0 || s.is_null() {
            return;
        }
        let out = &mut *(ctx as *mut String);
        out.push_str(&std::ffi::CStr::from_ptr(s).to_string_lossy());
        libc::free(s.cast());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_vmlinux_ids() {
        let (Ok(raw), Ok(base)) = (std::fs::read("/sys/kernel/btf/vmlinux"), Btf::from_vmlinux()) else {
            eprintln!("skipped: no readable /sys/kernel/btf/vmlinux");
            return;
        };
        let last = base.type_by_kind::<BtfType>().map(|t| u32::from(t.type_id())).max().unwrap_or(0);
        // An empty split BTF: the header alone.
        let dir = std::env::temp_dir().join(format!("rtrace-btf-test-{}", std::process::id()));
        let mut empty = raw[..4].to_vec();
        empty.extend_from_slice(&24u32.to_le_bytes());
        empty.extend_from_slice(&[0; 16]);
        std::fs::write(&dir, &empty).unwrap();
        let split = SplitBtf::parse(&dir, &base);
        let _ = std::fs::remove_file(&dir);
        let (merged, start) = merge_split_btf(&base, &split.unwrap()).unwrap();
        assert_eq!(start, last + 1);
        assert_eq!(merged.len(), raw.len());
    }
}

/// `name`, if BTF can hold it: a name with a NUL byte is in no BTF, and libbpf-rs's lookups
/// panic on one (`CString::new`). Fuzzing found it: `fentry:do_sys_o\0…penat2`.
fn c_name(name: &str) -> Option<&str> {
    (!name.contains('\0')).then_some(name)
}
