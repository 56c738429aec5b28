//! User-space binaries for uprobes: finding a library by its short name (`libc`), and the
//! functions an ELF file defines, with their addresses, sizes and file offsets (through
//! blazesym's inspector). A library stored in a ZIP archive (`ARCHIVE!/ENTRY`, `zip.rs`) is
//! read from the entry's bytes, its file offsets made the archive's.

use blazesym::inspect::source::{Elf, Source};
use blazesym::inspect::Inspector;
use blazesym::SymType;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

use super::zip;

const LIBRARY_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
];

/// The file a uprobe target names: a path as given, or a library's short name (`libc`,
/// `libc.so.6`) searched in the usual library directories, or a program on `$PATH`.
pub fn resolve(target: &str) -> Option<PathBuf> {
    if zip::split(target).is_some() {
        return Some(PathBuf::from(target));
    }
    if target.contains('/') {
        let p = Path::new(target);
        return p.is_file().then(|| p.to_path_buf());
    }
    let stem = if target.starts_with("lib") { target.to_string() } else { format!("lib{target}") };
    for dir in LIBRARY_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        // `libc.so` is often a linker script; the ELF file is `libc.so.6`.
        let found = names
            .iter()
            .filter(|n| **n == stem || n.starts_with(&format!("{stem}.so")))
            .map(|n| Path::new(dir).join(n))
            .find(|p| is_elf(p));
        if found.is_some() {
            return found;
        }
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(target))
        .find(|p| p.is_file())
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

/// The functions `path` defines (name → file offset), from its symbol tables.
pub fn functions(path: &Path) -> Result<BTreeMap<String, u64>, String> {
    Ok(by_name(&function_symbols(path)?))
}

/// Function symbols by name (name → file offset), the first of each name.
pub fn by_name<'a>(symbols: impl IntoIterator<Item = &'a Function>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in symbols {
        out.entry(f.name.clone()).or_insert(f.file_offset);
    }
    out
}

/// A function symbol of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// Its virtual address as linked.
    pub addr: u64,
    /// Its size in bytes (0 where the symbol table gives none).
    pub size: u64,
    pub file_offset: u64,
}

/// Every function symbol of `path` that has an address and a file offset, in symbol-table
/// order.
pub fn function_symbols(path: &Path) -> Result<Vec<Function>, String> {
    let (found, base) = with_elf(path, |path| -> Result<Vec<Function>, String> {
        let inspector = Inspector::new();
        let src = Source::Elf(Elf { debug_syms: false, ..Elf::new(path) });
        let mut out = Vec::new();
        inspector
            .for_each(&src, |sym| {
                if let (SymType::Function, Some(file_offset), true) = (sym.sym_type, sym.file_offset, sym.addr != 0) {
                    let (name, addr, size) = (sym.name.to_string(), sym.addr, sym.size.unwrap_or(0) as u64);
                    out.push(Function { name, addr, size, file_offset });
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| e.to_string())?;
        Ok(out)
    })?;
    let mut out = found?;
    out.iter_mut().for_each(|f| f.file_offset += base);
    Ok(out)
}

/// The address a symbol (function or variable) has in `path`'s symbol tables: its virtual
/// address as linked, which is where it is at run time only in a non-PIE program.
pub fn symbol_address(path: &Path, name: &str) -> Option<u64> {
    let (found, _) = with_elf(path, |path| {
        let inspector = Inspector::new();
        let src = Source::Elf(Elf { debug_syms: false, ..Elf::new(path) });
        let found = inspector.lookup(&src, &[name]).ok()?;
        found.first()?.iter().map(|sym| sym.addr).find(|&a| a != 0)
    })
    .ok()?;
    found
}

/// Runs `inspect` on the ELF file `path` names, with the offset of that file in the file a
/// uprobe is attached to: `path` itself at 0, or for `ARCHIVE!/ENTRY` the entry's bytes (copied
/// to a memory file: blazesym reads ELF files by path) at the entry's data offset.
fn with_elf<T>(path: &Path, inspect: impl FnOnce(&Path) -> T) -> Result<(T, u64), String> {
    let Some(entry) = path.to_str().and_then(zip::entry_bytes) else {
        return Ok((inspect(path), 0));
    };
    let (entry, bytes) = entry?;
    if !bytes.starts_with(b"\x7fELF") {
        let name = path.to_str().and_then(zip::split).map_or("", |(_, name)| name);
        return Err(format!("entry `{name}` is not an ELF file"));
    }
    let file = memory_file(&bytes)?;
    let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    Ok((inspect(&fd_path), entry.data_offset))
}

/// An anonymous in-memory file holding `bytes`, closed when dropped.
fn memory_file(bytes: &[u8]) -> Result<std::fs::File, String> {
    use std::io::Write;
    // SAFETY: the name is a NUL-terminated literal; the call has no other inputs.
    let fd = unsafe { libc::memfd_create(c"rtrace-zip-entry".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("cannot make a memory file: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes).map_err(|e| e.to_string())?;
    Ok(file)
}
