//! A built tool's payload (`rtrace build`, docs/build.md): the BPF object, the plan and what
//! the tool's command line needs, kept in an ELF section of the runtime executable
//! (`rtrace-run`) so that `strip` and `objcopy` carry it along. This module owns the format
//! (writing it, finding it in a file); the compiler writes it, the stub reads it.
//!
//! The section holds `MAGIC`, then the JSON of `Manifest` (its length first, as a
//! little-endian u64), then the object (its length first, the same way).

use crate::plan::Plan;
use serde::{Deserialize, Serialize};

/// The section a built tool keeps its payload in (not loaded into memory when run; read from
/// the file).
pub const SECTION: &str = ".rtrace.tool";
/// The payload's first bytes; the digit is the format's version.
pub const MAGIC: &[u8; 8] = b"RTRACE1\0";

/// What a built tool knows besides its BPF object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The tool's name (its file's name at build time), for `--help` and messages.
    pub name: String,
    /// The script's first comment lines, as the tool's `--help` description.
    pub about: String,
    /// The positional parameters the tool takes (`$1` …), in order.
    pub params: Vec<Param>,
    /// The kernel the object was compiled on: its release and version (`uname -r`, `-v`).
    pub kernel: KernelId,
    /// Whether every kernel type access carries a CO-RE relocation (libbpf moves it to the
    /// running kernel's layout), so the tool runs on other kernels than `kernel`.
    pub co_re: bool,
    pub plan: Plan,
}

/// One positional parameter of a built tool (`$N`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Param {
    /// Its number: `$1` is 1.
    pub number: u32,
    /// Its name in `--help` (`ARG1` unless the script names it).
    pub name: String,
    /// Its description in `--help`.
    pub help: String,
}

/// A kernel's identity: two kernels with the same one have the same types and layouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelId {
    pub release: String,
    pub version: String,
}

impl KernelId {
    /// The running kernel's (uname(2)).
    pub fn running() -> KernelId {
        // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
        let uts = unsafe {
            let mut uts: libc::utsname = std::mem::zeroed();
            libc::uname(&mut uts);
            uts
        };
        let text = |field: &[libc::c_char]| {
            let bytes: Vec<u8> = field.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        KernelId { release: text(&uts.release), version: text(&uts.version) }
    }
}

/// The section's bytes for `manifest` and `object`.
pub fn encode(manifest: &Manifest, object: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(manifest).expect("a manifest is always serializable");
    let mut out = Vec::with_capacity(MAGIC.len() + 16 + json.len() + object.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(object.len() as u64).to_le_bytes());
    out.extend_from_slice(object);
    out
}

/// The manifest and object in a section's bytes.
pub fn decode(bytes: &[u8]) -> Result<(Manifest, Vec<u8>), String> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or("not an rtrace tool payload (or another version's)")?;
    let (json, rest) = take_sized(rest).ok_or("the payload is cut short")?;
    let (object, _) = take_sized(rest).ok_or("the payload is cut short")?;
    let manifest = serde_json::from_slice(json).map_err(|e| format!("the payload's plan is damaged: {e}"))?;
    Ok((manifest, object.to_vec()))
}

/// A length-prefixed part of `bytes`, and what follows it.
fn take_sized(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let body = bytes.get(8..8usize.checked_add(len)?)?;
    Some((body, &bytes[8 + len..]))
}

/// The payload section of ELF file `data`, if it has one.
pub fn find(data: &[u8]) -> Result<Option<&[u8]>, String> {
    use object::read::elf::ElfFile64;
    use object::{Object, ObjectSection};
    let file = ElfFile64::<object::LittleEndian>::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    match file.section_by_name(SECTION) {
        Some(section) => section.data().map(Some).map_err(|e| format!("cannot read section {SECTION}: {e}")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let manifest = Manifest {
            name: "t".into(),
            about: "about".into(),
            params: vec![Param { number: 1, name: "PID".into(), help: "a pid".into() }],
            kernel: KernelId { release: "6.1".into(), version: "#1".into() },
            co_re: false,
            plan: Plan::default(),
        };
        let bytes = encode(&manifest, b"\x7fELF object");
        let (back, object) = decode(&bytes).unwrap();
        assert_eq!(object, b"\x7fELF object");
        assert_eq!(back.params[0].name, "PID");
        assert_eq!(back.kernel, manifest.kernel);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"RTRACE0\0").is_err());
    }
}
