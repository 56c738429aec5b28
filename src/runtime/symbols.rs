//! Kernel addresses to symbol names, through blazesym (reading /proc/kallsyms once, lazily,
//! the first time an address needs a name).

use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::MaybeDefault;
use std::collections::HashMap;

#[derive(Default)]
pub struct Symbols {
    symbolizer: Option<Symbolizer>,
    cache: HashMap<u64, String>,
    /// The stack-trace map `kstack` ids point into.
    pub kstacks: Option<libbpf_rs::MapHandle>,
    /// The plan's probe names, which `probe` values index.
    pub probe_names: Vec<String>,
}

impl Symbols {
    /// A `kstack` as bpftrace prints it: a newline, then one `    name+offset` line per
    /// frame, innermost first.
    pub fn kstack(&mut self, id: u64) -> String {
        let mut out = String::from("\n");
        let frames = self.kstacks.as_ref().and_then(|m| {
            use libbpf_rs::MapCore;
            m.lookup(&(id as u32).to_le_bytes(), libbpf_rs::MapFlags::ANY).ok().flatten()
        });
        for chunk in frames.unwrap_or_default().chunks_exact(8) {
            let addr = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if addr == 0 {
                break;
            }
            out.push_str("    ");
            out.push_str(&self.kernel_frame(addr));
            out.push('\n');
        }
        out
    }

    /// `name+offset` of a kernel address.
    fn kernel_frame(&mut self, addr: u64) -> String {
        let symbolizer = self.symbolizer.get_or_insert_with(Symbolizer::new);
        let source = Source::Kernel(Kernel { vmlinux: MaybeDefault::None, debug_syms: false, ..Kernel::default() });
        match symbolizer.symbolize(&source, Input::AbsAddr(&[addr][..])) {
            Ok(found) => match found.first() {
                Some(Symbolized::Sym(sym)) => format!("{}+{}", sym.name, sym.offset),
                _ => format!("0x{addr:x}"),
            },
            Err(_) => format!("0x{addr:x}"),
        }
    }

    /// The name of the function containing `addr` in process `pid`, or the address in hex
    /// (the process may have exited by the time the event is printed).
    pub fn user(&mut self, pid: u64, addr: u64) -> String {
        let symbolizer = self.symbolizer.get_or_insert_with(Symbolizer::new);
        let source = Source::Process(Process::new((pid as u32).into()));
        match symbolizer.symbolize(&source, Input::AbsAddr(&[addr][..])) {
            Ok(found) => match found.first() {
                Some(Symbolized::Sym(sym)) => sym.name.to_string(),
                _ => format!("0x{addr:x}"),
            },
            Err(_) => format!("0x{addr:x}"),
        }
    }

    /// The name of probe `id`.
    pub fn probe(&self, id: u64) -> String {
        self.probe_names.get(id as usize).cloned().unwrap_or_default()
    }

    /// The name of the kernel function containing `addr`, or the address in hex.
    pub fn kernel(&mut self, addr: u64) -> String {
        if let Some(name) = self.cache.get(&addr) {
            return name.clone();
        }
        let symbolizer = self.symbolizer.get_or_insert_with(Symbolizer::new);
        let source = Source::Kernel(Kernel {
            vmlinux: MaybeDefault::None,
            debug_syms: false,
            ..Kernel::default()
        });
        let name = match symbolizer.symbolize(&source, Input::AbsAddr(&[addr][..])) {
            Ok(found) => match found.first() {
                Some(Symbolized::Sym(sym)) => sym.name.to_string(),
                _ => format!("0x{addr:x}"),
            },
            Err(_) => format!("0x{addr:x}"),
        };
        self.cache.insert(addr, name.clone());
        name
    }
}
