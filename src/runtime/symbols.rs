//! Kernel addresses to symbol names, through blazesym (reading /proc/kallsyms once, lazily,
//! the first time an address needs a name).

use blazesym::symbolize::source::{Kernel, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::MaybeDefault;
use std::collections::HashMap;

#[derive(Default)]
pub struct Symbols {
    symbolizer: Option<Symbolizer>,
    cache: HashMap<u64, String>,
}

impl Symbols {
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
