//! `import "x.bpf.c";` (bpftrace 0.26, docs/language.md "Imports"): BPF C compiled by clang
//! (`clang-19 -target bpfel -O2 -g -emit-llvm`, one run per file) to LLVM bitcode, which
//! codegen links into the script's module (`codegen::link_c`), its functions made internal
//! and always inlined. The functions' C signatures, for sema, come from the BTF that LLVM's
//! BPF back end writes for the compiled C alone (emitted here, in process): each parameter's
//! and the return's kind (an integer of a size and sign, a pointer, void) and C text.

use crate::diag::Diagnostic;
use crate::kernel::btf::{KernelTypes, Shape};
use crate::parser::ast::CSource;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use inkwell::targets::FileType;
use std::process::{Command, Stdio};

/// The environment variable naming the C compiler to run instead of `clang-19`.
pub const CLANG_ENV: &str = "RTRACE_CLANG";
const CLANG: &str = "clang-19";

/// What a C value is, for the script.
#[derive(Debug, Clone, PartialEq)]
pub enum CKind {
    Void,
    Int { bytes: u32, signed: bool },
    /// A pointer; what it points to when that is an integer or a named struct or union.
    Ptr { to: Option<CPointee> },
    /// Anything else (a struct passed by value, a float): not callable from a script.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CPointee {
    Int { bytes: u32, signed: bool },
    /// `struct NAME` (`union`: `tag` is "union"), found by name in the script's types.
    Record { tag: &'static str, name: String },
}

/// A C type: its kind and its text (`unsigned int`, `struct point *`).
#[derive(Debug, Clone, PartialEq)]
pub struct CType {
    pub kind: CKind,
    pub text: String,
}

/// A function an imported `.bpf.c` file defines (not `static`).
#[derive(Debug, Clone, PartialEq)]
pub struct CFunction {
    pub name: String,
    pub params: Vec<(String, CType)>,
    pub ret: CType,
}

impl CFunction {
    /// Its C declaration, `int __add_one(int val)`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|(n, t)| declare(&t.text, n)).collect();
        let params = if params.is_empty() { "void".to_string() } else { params.join(", ") };
        format!("{}({params})", declare(&self.ret.text, &self.name))
    }
}

/// `TYPE NAME`, without a space after a `*`.
fn declare(ty: &str, name: &str) -> String {
    match ty.ends_with('*') {
        true => format!("{ty}{name}"),
        false => format!("{ty} {name}"),
    }
}

/// The compiled C of a script: one bitcode module per file, and the functions they define.
#[derive(Debug, Clone, Default)]
pub struct CCode {
    pub bitcode: Vec<Vec<u8>>,
    pub functions: Vec<CFunction>,
    /// clang's warnings, one diagnostic per file that had some.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles every imported `.bpf.c` file; the errors are one per file that failed.
pub fn compile(sources: &[CSource]) -> Result<CCode, Vec<Diagnostic>> {
    let mut code = CCode::default();
    let mut errors = Vec::new();
    for source in sources {
        match build(source, &mut code.warnings).and_then(|bc| signatures(&bc).map(|f| (bc, f)).map_err(|e| bad_object(source, &e))) {
            Ok((bitcode, functions)) => {
                for f in functions {
                    if code.functions.iter().any(|g| g.name == f.name) {
                        errors.push(
                            Diagnostic::error(format!("function `{}` is defined by two imported C files", f.name))
                                .at(source.span, "the second one"),
                        );
                    }
                    code.functions.push(f);
                }
                code.bitcode.push(bitcode);
            }
            Err(d) => errors.push(d),
        }
    }
    match errors.is_empty() {
        true => Ok(code),
        false => Err(errors),
    }
}

fn bad_object(source: &CSource, e: &str) -> Diagnostic {
    Diagnostic::error(format!("cannot read the functions of `{}`: {e}", source.path)).at(source.span, "imported here")
}

/// `source` compiled to LLVM bitcode by clang.
fn build(source: &CSource, warnings: &mut Vec<Diagnostic>) -> Result<Vec<u8>, Diagnostic> {
    let clang = std::env::var(CLANG_ENV).unwrap_or_else(|_| CLANG.to_string());
    let args = ["-target", "bpfel", "-O2", "-g", "-c", "-emit-llvm", "-fno-color-diagnostics", "-o", "-"];
    let run = Command::new(&clang).args(args).arg(&source.path).stdin(Stdio::null()).output();
    let path = &source.path;
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Diagnostic::error(format!("cannot compile `{path}`: `{clang}` is not installed"))
                .at(source.span, "a BPF C file")
                .help("install Debian's package clang-19 (or name a clang in RTRACE_CLANG)"));
        }
        Err(e) => return Err(Diagnostic::error(format!("cannot run `{clang}` on `{path}`: {e}")).at(source.span, "a BPF C file")),
    };
    let said = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    if !out.status.success() || out.stdout.is_empty() {
        return Err(Diagnostic::error(format!("`{path}` does not compile"))
            .at(source.span, "imported here")
            .note(format!("{clang} says:\n{said}")));
    }
    if !said.is_empty() {
        warnings.push(Diagnostic::warning(format!("`{path}` compiled with warnings")).at(source.span, "imported here").note(said));
    }
    Ok(out.stdout)
}

/// The functions (not `static`) a bitcode module defines, with their C signatures.
fn signatures(bitcode: &[u8]) -> Result<Vec<CFunction>, String> {
    let ctx = Context::create();
    let module = parse(&ctx, bitcode)?;
    let names: Vec<String> = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0 && f.get_linkage() == Linkage::External)
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let tm = crate::codegen::target_machine().map_err(|e| e.to_string())?;
    let object = tm.write_to_memory_buffer(&module, FileType::Object).map_err(|e| e.to_string())?;
    let types = KernelTypes::from_object(object.as_slice())?;
    let mut decls = types.c_decls().ok_or("cannot print its types")?;
    let mut ctype = |id: u32| CType { kind: kind(&types, id), text: if id == 0 { "void".to_string() } else { decls.decl(id) } };
    let mut out = Vec::new();
    for name in names {
        let (params, ret) = types.function(&name).ok_or_else(|| format!("no BTF for function `{name}`"))?;
        let params = params.into_iter().map(|(n, id)| (n, ctype(id))).collect();
        out.push(CFunction { name, params, ret: ctype(ret) });
    }
    Ok(out)
}

/// A bitcode module read into `ctx`.
pub fn parse<'ctx>(ctx: &'ctx Context, bitcode: &[u8]) -> Result<Module<'ctx>, String> {
    let buffer = MemoryBuffer::create_from_memory_range_copy(bitcode, "c");
    Module::parse_bitcode_from_buffer(&buffer, ctx).map_err(|e| e.to_string())
}

fn kind(types: &KernelTypes, id: u32) -> CKind {
    if id == 0 {
        return CKind::Void;
    }
    match types.shape(id) {
        Shape::Int { size, signed, .. } => CKind::Int { bytes: size, signed },
        Shape::Ptr { to: None } => CKind::Ptr { to: None },
        Shape::Ptr { to: Some(to) } => CKind::Ptr {
            to: match types.shape(to) {
                Shape::Int { size, signed, .. } => Some(CPointee::Int { bytes: size, signed }),
                Shape::Record { id, .. } => types.record_name(id).filter(|(n, _)| !n.is_empty()).map(|(name, union)| CPointee::Record {
                    tag: if union { "union" } else { "struct" },
                    name,
                }),
                _ => None,
            },
        },
        _ => CKind::Other,
    }
}
