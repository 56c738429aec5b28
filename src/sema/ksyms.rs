//! Kernel symbols a program names by BTF, as C's `__ksym` externs: per-CPU variables
//! (`percpu_kaddr()`) and kfuncs (`comm(pid)`'s `bpf_task_from_pid` and `bpf_task_release`).
//! For each, the shape of its type that libbpf compares with the kernel's when it resolves
//! the extern at load (`bpf_core_types_are_compat`: kinds, recursively through pointers,
//! arrays and function prototypes; a struct matches any struct). Codegen describes these
//! shapes in the object's debug info (`codegen/ksyms.rs`).

use crate::kernel::btf::{KernelTypes, Shape};

/// A type as far as libbpf compares an extern's type with the kernel's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KsymTy {
    Void,
    Int { bytes: u32, signed: bool },
    Enum { bytes: u32 },
    Ptr(Box<KsymTy>),
    /// A struct or union, by name; its members are not compared.
    Record { name: String, union: bool, bytes: u32 },
    Array { elem: Box<KsymTy>, len: u32 },
}

/// An extern kernel symbol of the object, in its `.ksyms` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ksym {
    /// A variable (`extern const struct rq runqueues __ksym;`).
    Var { name: String, ty: KsymTy },
    /// A kfunc (`extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;`).
    Func { name: String, ret: KsymTy, params: Vec<(String, KsymTy)> },
}

impl Ksym {
    pub fn name(&self) -> &str {
        match self {
            Ksym::Var { name, .. } | Ksym::Func { name, .. } => name,
        }
    }
}

/// Kernel variable `name`, if the kernel's BTF has it.
pub fn variable(k: &KernelTypes, name: &str) -> Option<Ksym> {
    let id = k.variable(name)?;
    Some(Ksym::Var { name: name.to_string(), ty: shape_of(k, id, 0) })
}

/// Kernel function `name`, if the kernel's BTF has it.
pub fn function(k: &KernelTypes, name: &str) -> Option<Ksym> {
    let (params, ret) = k.function(name)?;
    let params = params.into_iter().map(|(n, id)| (n, shape_of(k, id, 0))).collect();
    Some(Ksym::Func { name: name.to_string(), ret: shape_of(k, ret, 0), params })
}

/// The shape of kernel type `id` (typedefs and qualifiers skipped, as libbpf skips them).
fn shape_of(k: &KernelTypes, id: u32, depth: u32) -> KsymTy {
    if depth > 8 {
        return KsymTy::Void;
    }
    match k.shape(id) {
        Shape::Int { size, .. } if k.is_enum(id) => KsymTy::Enum { bytes: size },
        Shape::Int { size, signed, .. } => KsymTy::Int { bytes: size, signed },
        Shape::Ptr { to: None } => KsymTy::Ptr(Box::new(KsymTy::Void)),
        Shape::Ptr { to: Some(to) } => KsymTy::Ptr(Box::new(shape_of(k, to, depth + 1))),
        Shape::Record { id, size } => {
            let (name, union) = k.record_name(id).unwrap_or_default();
            KsymTy::Record { name, union, bytes: size }
        }
        Shape::Array { elem, len } => KsymTy::Array { elem: Box::new(shape_of(k, elem, depth + 1)), len },
        Shape::Other => KsymTy::Void,
    }
}
