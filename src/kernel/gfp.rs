//! GFP flags by name, for printf's `%gr` (bpftrace 0.26's docs/stdlib.md: "similar to Linux
//! kernel's `%pGg` format"): a value's flags as `GFP_KERNEL|__GFP_ZERO`, the combined masks
//! first, in bpftrace 0.26's order and with its names (src/util/gfp_flags.cpp, itself in the
//! order of the kernel's `__def_gfpflag_names`), bits no name covers in hex. The bits' numbers
//! change between kernels (a config may leave bits out, and later bits move down), so they
//! are the running kernel's `___GFP_*_BIT` enumerators, from its BTF (Linux 6.8 and later);
//! a kernel whose BTF has none gets bpftrace 0.26's numbers (gfp_types.h with every bit).

use std::sync::OnceLock;

/// The single bits, in bpftrace 0.26's enum order: a bit's place here is its number there.
const BITS: [&str; 27] = [
    "DMA", "HIGHMEM", "DMA32", "MOVABLE", "RECLAIMABLE", "HIGH", "IO", "FS", "ZERO", "UNUSED",
    "DIRECT_RECLAIM", "KSWAPD_RECLAIM", "WRITE", "NOWARN", "RETRY_MAYFAIL", "NOFAIL", "NORETRY",
    "MEMALLOC", "COMP", "NOMEMALLOC", "HARDWALL", "THISNODE", "ACCOUNT", "ZEROTAGS", "SKIP_ZERO",
    "SKIP_KASAN", "NO_OBJ_EXT",
];

/// The names `%gr` prints and the bits each covers, in the order they are matched.
const NAMES: [(&str, &[&str]); 35] = [
    ("GFP_TRANSHUGE", &["DIRECT_RECLAIM", "IO", "FS", "HARDWALL", "HIGHMEM", "MOVABLE", "SKIP_KASAN", "COMP", "NOMEMALLOC", "NOWARN"]),
    ("GFP_TRANSHUGE_LIGHT", &["IO", "FS", "HARDWALL", "HIGHMEM", "MOVABLE", "SKIP_KASAN", "COMP", "NOMEMALLOC", "NOWARN"]),
    ("GFP_HIGHUSER_MOVABLE", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS", "HARDWALL", "HIGHMEM", "MOVABLE", "SKIP_KASAN"]),
    ("GFP_HIGHUSER", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS", "HARDWALL", "HIGHMEM"]),
    ("GFP_USER", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS", "HARDWALL"]),
    ("GFP_KERNEL_ACCOUNT", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS", "ACCOUNT"]),
    ("GFP_KERNEL", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS"]),
    ("GFP_NOFS", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO"]),
    ("GFP_ATOMIC", &["HIGH", "KSWAPD_RECLAIM"]),
    ("GFP_NOIO", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM"]),
    ("GFP_NOWAIT", &["KSWAPD_RECLAIM", "NOWARN"]),
    ("GFP_DMA", &["DMA"]),
    ("__GFP_HIGHMEM", &["HIGHMEM"]),
    ("GFP_DMA32", &["DMA32"]),
    ("__GFP_HIGH", &["HIGH"]),
    ("__GFP_IO", &["IO"]),
    ("__GFP_FS", &["FS"]),
    ("__GFP_ZERO", &["ZERO"]),
    ("__GFP_DIRECT_RECLAIM", &["DIRECT_RECLAIM"]),
    ("__GFP_KSWAPD_RECLAIM", &["KSWAPD_RECLAIM"]),
    ("__GFP_WRITE", &["WRITE"]),
    ("__GFP_NOWARN", &["NOWARN"]),
    ("__GFP_RETRY_MAYFAIL", &["RETRY_MAYFAIL"]),
    ("__GFP_NOFAIL", &["NOFAIL"]),
    ("__GFP_NORETRY", &["NORETRY"]),
    ("__GFP_MEMALLOC", &["MEMALLOC"]),
    ("__GFP_COMP", &["COMP"]),
    ("__GFP_NOMEMALLOC", &["NOMEMALLOC"]),
    ("__GFP_HARDWALL", &["HARDWALL"]),
    ("__GFP_THISNODE", &["THISNODE"]),
    ("__GFP_ACCOUNT", &["ACCOUNT"]),
    ("__GFP_ZEROTAGS", &["ZEROTAGS"]),
    ("__GFP_SKIP_ZERO", &["SKIP_ZERO"]),
    ("__GFP_SKIP_KASAN", &["SKIP_KASAN"]),
    ("__GFP_NO_OBJ_EXT", &["NO_OBJ_EXT"]),
];

/// Each name's mask on this kernel (names whose bits it lacks left out), made once.
fn table() -> &'static [(u64, &'static str)] {
    static TABLE: OnceLock<Vec<(u64, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| masks(&kernel_bits().unwrap_or_else(|| (0..BITS.len() as u32).map(Some).collect())))
}

/// The running kernel's number of each of `BITS` (`None`: it has no such bit), or `None`
/// when its BTF has no `___GFP_*_BIT` enumerators.
fn kernel_bits() -> Option<Vec<Option<u32>>> {
    let types = super::btf::KernelTypes::load().ok()?;
    let bits: Vec<Option<u32>> =
        BITS.iter().map(|b| types.enum_value(&format!("___GFP_{b}_BIT")).and_then(|v| u32::try_from(v).ok())).collect();
    bits.iter().any(Option::is_some).then_some(bits)
}

/// The masks of `NAMES` from each bit's number (`bits[i]` for `BITS[i]`); a name with a bit
/// the kernel lacks is left out, but for the masks that only allow it (SKIP_KASAN in the
/// movable ones).
fn masks(bits: &[Option<u32>]) -> Vec<(u64, &'static str)> {
    let bit = |name: &str| BITS.iter().position(|b| *b == name).and_then(|i| bits.get(i).copied().flatten());
    NAMES
        .iter()
        .filter_map(|(name, parts)| {
            let mut mask = 0u64;
            for part in *parts {
                match bit(part) {
                    Some(n) if n < 64 => mask |= 1 << n,
                    _ if *part == "SKIP_KASAN" && parts.len() > 1 => {}
                    _ => return None,
                }
            }
            Some((mask, *name))
        })
        .collect()
}

/// `flags` as `%gr` prints it: `0` for none; the names whose every bit is set, each taking
/// its bits, joined by `|`; what is left in hex.
pub fn format(flags: u64) -> String {
    format_with(table(), flags)
}

fn format_with(table: &[(u64, &str)], flags: u64) -> String {
    if flags == 0 {
        return "0".into();
    }
    let mut left = flags;
    let mut parts = Vec::new();
    for (mask, name) in table {
        if left & mask == *mask {
            parts.push(name.to_string());
            left &= !mask;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpftrace_026_numbers() {
        let table = masks(&(0..BITS.len() as u32).map(Some).collect::<Vec<_>>());
        assert_eq!(format_with(&table, 0xcc0), "GFP_KERNEL");
        assert_eq!(format_with(&table, 0x822), "GFP_ATOMIC|__GFP_HIGHMEM");
        assert_eq!(format_with(&table, 0x4c0 | 0x100), "__GFP_IO|__GFP_FS|__GFP_ZERO|__GFP_DIRECT_RECLAIM");
        assert_eq!(format_with(&table, 0x200 | 1 << 40), "0x10000000200");
        assert_eq!(format_with(&table, 0), "0");
        // GFP_TRANSHUGE_LIGHT has no reclaim bit; the movable masks include SKIP_KASAN.
        assert_eq!(format_with(&table, 0x21c20ca), "GFP_TRANSHUGE_LIGHT");
        assert_eq!(format_with(&table, 1 << 26), "__GFP_NO_OBJ_EXT");
    }

    #[test]
    fn a_kernel_without_the_kasan_bits() {
        // Linux 6.18 without CONFIG_KASAN_HW_TAGS: no SKIP_ZERO or SKIP_KASAN, NO_OBJ_EXT is 24.
        let mut bits: Vec<Option<u32>> = (0..24).map(Some).collect();
        bits.extend([None, None, Some(24)]);
        let table = masks(&bits);
        assert_eq!(format_with(&table, 0x1c20ca), "GFP_TRANSHUGE_LIGHT");
        assert_eq!(format_with(&table, 1 << 24), "__GFP_NO_OBJ_EXT");
        assert_eq!(format_with(&table, 1 << 25), "0x2000000");
    }
}
