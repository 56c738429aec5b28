//! Addresses to symbol names, through blazesym: kernel addresses from /proc/kallsyms (read
//! once, lazily, the first time an address needs a name), user addresses through the
//! process's memory map (/proc/PID/maps), so only while the process lives. Without the
//! `symbols` feature (the stub of a built tool whose script prints no symbol) every address
//! prints as a number.

use crate::plan::{StackMode, StackSpec};
#[cfg(feature = "symbols")]
use blazesym::symbolize::{
    source::{Kernel, Process},
    Input, Symbolized, Symbolizer,
};
use std::collections::HashMap;

/// Where an address is looked up: the kernel, or a process's memory.
#[cfg_attr(not(feature = "symbols"), allow(dead_code))]
enum Source {
    Kernel,
    Process(u32),
}

/// How deep a stack's frames are indented in bpftrace's layout: as a map key, and elsewhere
/// (a printf argument, a map value).
pub const KEY_INDENT: usize = 4;
pub const VALUE_INDENT: usize = 8;

/// A symbol found for an address: the function, the offset into it, and the file it is in.
#[cfg_attr(not(feature = "symbols"), allow(dead_code))]
struct Found {
    name: String,
    offset: usize,
    module: Option<String>,
}

impl Found {
    /// `name+offset`, as stacks print frames.
    fn frame(&self) -> String {
        format!("{}+{}", self.name, self.offset)
    }
}

pub struct Symbols {
    #[cfg(feature = "symbols")]
    symbolizer: Option<Symbolizer>,
    cache: HashMap<u64, String>,
    /// The maps stack ids point into, by name (`Plan::stack_maps`).
    stacks: HashMap<String, libbpf_rs::MapHandle>,
}

impl Symbols {
    pub fn new(stacks: HashMap<String, libbpf_rs::MapHandle>) -> Symbols {
        Symbols {
            #[cfg(feature = "symbols")]
            symbolizer: None,
            cache: HashMap::new(),
            stacks,
        }
    }

    /// Stack `id` (for a user stack, of process `pid`) as bpftrace prints it: a newline, then
    /// a line per frame, innermost first — `name+offset` indented by `indent` spaces, or in
    /// perf's mode `\tADDR name+offset` (user frames add ` (FILE)`). A frame without a name
    /// (e.g. its process has exited) is its address.
    pub fn stack(&mut self, spec: StackSpec, id: u64, pid: u64, indent: usize) -> String {
        let frames = self.stacks.get(&spec.map_name()).and_then(|m| {
            use libbpf_rs::MapCore;
            m.lookup(&(id as u32).to_le_bytes(), libbpf_rs::MapFlags::ANY).ok().flatten()
        });
        let addrs: Vec<u64> = frames
            .unwrap_or_default()
            .chunks_exact(8)
            .map(|frame| u64::from_le_bytes(frame.try_into().unwrap_or_default()))
            .take_while(|&a| a != 0)
            .collect();
        if spec.mode == StackMode::Raw {
            return addrs.iter().fold(String::from("\n"), |out, a| out + &format!("{a:x}\n"));
        }
        let source = if spec.user { Source::Process(pid as u32) } else { Source::Kernel };
        let found = self.symbolize(&source, &addrs);
        let mut out = String::from("\n");
        for (addr, found) in addrs.iter().zip(found) {
            let line = match (spec.mode == StackMode::Perf, found) {
                (false, Some(f)) => format!("{:indent$}{}", "", f.frame()),
                (false, None) => format!("{:indent$}0x{addr:x}", ""),
                (true, Some(f)) => match (&f.module, spec.user) {
                    (Some(m), true) => format!("\t{addr:x} {} ({m})", f.frame()),
                    _ => format!("\t{addr:x} {}", f.frame()),
                },
                (true, None) if spec.user => format!("\t{addr:x} 0x{addr:x} ([unknown])"),
                (true, None) => format!("\t{addr:x} 0x{addr:x}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// What blazesym finds at each of `addrs` (`None` where nothing, or for all of them when
    /// the source cannot be read).
    #[cfg(feature = "symbols")]
    fn symbolize(&mut self, source: &Source, addrs: &[u64]) -> Vec<Option<Found>> {
        use blazesym::symbolize::source::Source as Blaze;
        let source = match source {
            Source::Kernel => Blaze::Kernel(Kernel { vmlinux: blazesym::MaybeDefault::None, debug_syms: false, ..Kernel::default() }),
            Source::Process(pid) => Blaze::Process(Process::new((*pid).into())),
        };
        let symbolizer = self.symbolizer.get_or_insert_with(Symbolizer::new);
        let Ok(found) = symbolizer.symbolize(&source, Input::AbsAddr(addrs)) else {
            return addrs.iter().map(|_| None).collect();
        };
        found
            .into_iter()
            .map(|s| match s {
                Symbolized::Sym(sym) => Some(Found {
                    name: sym.name.to_string(),
                    offset: sym.offset,
                    module: sym.module.map(|m| m.to_string_lossy().into_owned()),
                }),
                _ => None,
            })
            .collect()
    }

    /// Without blazesym nothing is found: every address prints as a number.
    #[cfg(not(feature = "symbols"))]
    fn symbolize(&mut self, _source: &Source, addrs: &[u64]) -> Vec<Option<Found>> {
        addrs.iter().map(|_| None).collect()
    }

    /// The name of the function containing `addr` in process `pid`, or the address in hex
    /// (the process may have exited by the time the event is printed).
    pub fn user(&mut self, pid: u64, addr: u64) -> String {
        function_name(self.symbolize(&Source::Process(pid as u32), &[addr]).pop().flatten(), addr)
    }

    /// The name of the kernel function containing `addr`, or the address in hex.
    pub fn kernel(&mut self, addr: u64) -> String {
        if let Some(name) = self.cache.get(&addr) {
            return name.clone();
        }
        let name = function_name(self.symbolize(&Source::Kernel, &[addr]).pop().flatten(), addr);
        self.cache.insert(addr, name.clone());
        name
    }
}

/// A symbol's function name (without its offset), or the address in hex.
fn function_name(found: Option<Found>, addr: u64) -> String {
    found.map_or_else(|| format!("0x{addr:x}"), |f| f.name)
}
