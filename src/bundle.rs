//! A built tool's payload (`rtrace build`, docs/build.md): the BPF object, the plan and what
//! the tool's command line needs, kept in an ELF section of the runtime executable
//! (`rtrace-run`) so that `strip` and `objcopy` carry it along. This module owns the format
//! (writing it, finding it in a file); the compiler writes it, the stub reads it.
//!
//! The section holds `MAGIC`, then `Manifest` in postcard's compact binary form (its length
//! first, as a little-endian u64), then the object (its length first, the same way). Not
//! JSON: the stub would carry serde_json's deserializer for every plan type (docs/build.md).

use crate::plan::Plan;
use serde::{Deserialize, Serialize};

/// The section a built tool keeps its payload in (not loaded into memory when run; read from
/// the file).
pub const SECTION: &str = ".rtrace.tool";
/// The payload's first bytes; the digit is the format's version.
pub const MAGIC: &[u8; 8] = b"RTRACE2\0";

/// What a built tool knows besides its BPF object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The tool's name (its file's name at build time), for `--help` and messages.
    pub name: String,
    /// The script's first comment lines, as the tool's `--help` description.
    pub about: String,
    /// The parameters the tool takes: the positional ones (`$1` …) in order, then the named
    /// ones (`Param::long`).
    pub params: Vec<Param>,
    /// The kernel the object was compiled on: its release and version (`uname -r`, `-v`).
    pub kernel: KernelId,
    /// Whether every kernel type access carries a CO-RE relocation (libbpf moves it to the
    /// running kernel's layout), so the tool runs on other kernels than `kernel`.
    pub co_re: bool,
    /// `rtrace build --hist-style bcc`: the tool prints `hist()` maps in BCC's layout.
    #[serde(default)]
    pub bcc_hists: bool,
    pub plan: Plan,
}

/// One positional parameter of a script (`$N`), as a comment line declares it (`// $N -F
/// NAME: help [default: V]`, docs/build.md): given in its place, or by a flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Its number: `$1` is 1.
    pub number: u32,
    /// Its value's name in `--help` (`ARG1` unless the script names it); empty for a switch.
    pub name: String,
    /// Its description in `--help`.
    pub help: String,
    /// `-F`: given by this flag rather than in its place; without a value name, a switch
    /// (`$N` is 1 when given).
    #[serde(default)]
    pub flag: Option<char>,
    /// Its value when not given (else 0).
    #[serde(default)]
    pub default: Option<String>,
    /// A named parameter (`getopt("NAME", …)`): given as `--NAME=VALUE`, or as `--NAME` when it
    /// is a boolean (`name` empty); `number` is then its place among the named ones, from 1.
    #[serde(default)]
    pub long: Option<String>,
    /// The script reads it as a string (`str($N)`, a string `getopt()`): the tool takes any
    /// text for it, kept in the string globals map (`plan::STR_GLOBALS_MAP`).
    #[serde(default)]
    pub string: bool,
}

impl Param {
    /// Whether it is a flag without a value (a boolean named parameter may take one).
    pub fn is_switch(&self) -> bool {
        (self.flag.is_some() || self.long.is_some()) && self.name.is_empty()
    }

    /// Its entry in the globals map (`plan::GLOBAL_ARGC`, `plan::GLOBAL_NAMED`).
    pub fn slot(&self) -> u32 {
        match self.long {
            Some(_) => crate::plan::GLOBAL_NAMED + self.number - 1,
            None => crate::plan::GLOBAL_ARGC + self.number,
        }
    }
}

/// The parameter a script's comment line declares: `$N [-F] [NAME]: help [default: V]`.
pub fn param_line(comment: &str) -> Option<Param> {
    let rest = comment.strip_prefix('$')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let number = rest[..digits].parse().ok()?;
    let (head, help) = rest[digits..].split_once(':')?;
    let mut words = head.split_whitespace();
    let mut name = words.next().unwrap_or("");
    let mut flag = None;
    if let Some(f) = name.strip_prefix('-') {
        let mut chars = f.chars();
        flag = Some(chars.next().filter(|c| c.is_ascii_alphanumeric() && chars.next().is_none())?);
        name = words.next().unwrap_or("");
    }
    if words.next().is_some() {
        return None;
    }
    let help = help.trim();
    let (help, default) = match help.strip_suffix(']').and_then(|h| h.rsplit_once("[default:")) {
        Some((h, d)) => (h.trim(), Some(d.trim().to_string())),
        None => (help, None),
    };
    let name = if name.is_empty() && flag.is_none() { format!("ARG{number}") } else { name.to_string() };
    Some(Param { number, name, help: help.to_string(), flag, default, long: None, string: false })
}

/// The parameters declared in `source`'s comment lines (`//`, `#` but not `#!`/`#include`).
pub fn declared_params(source: &str) -> Vec<Param> {
    comments(source).filter_map(param_line).collect()
}

/// The text of a script's comment lines.
pub fn comments(source: &str) -> impl Iterator<Item = &str> {
    source.lines().filter_map(|l| {
        let l = l.trim();
        let text = l.strip_prefix("//").or_else(|| l.strip_prefix('#').filter(|_| !l.starts_with("#!") && !l.starts_with("#include")))?;
        Some(text.trim())
    })
}

/// Command-line words `args` as positional parameters (`$1` is the first), with `declared`'s
/// flags put in their places and defaults filled in: how `rtrace SCRIPT ARGS` reads the
/// arguments a script declares.
pub fn place_params(declared: &[Param], args: &[String]) -> Result<Vec<String>, String> {
    let mut placed: Vec<Option<String>> = Vec::new();
    let put = |placed: &mut Vec<Option<String>>, number: u32, value: String| {
        let i = number as usize - 1;
        if placed.len() <= i {
            placed.resize(i + 1, None);
        }
        placed[i] = Some(value);
    };
    let mut positional = declared.iter().filter(|p| p.flag.is_none()).map(|p| p.number).collect::<Vec<_>>().into_iter();
    let mut next_free = 1;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let by_flag = word.strip_prefix('-').and_then(|f| declared.iter().find(|p| p.flag.is_some_and(|c| f == c.to_string())));
        match by_flag {
            Some(p) if p.is_switch() => put(&mut placed, p.number, "1".into()),
            Some(p) => {
                let value = words.next().ok_or_else(|| format!("-{} needs a value ({})", p.flag.unwrap_or('?'), p.name))?;
                put(&mut placed, p.number, value.clone());
            }
            None if word.starts_with('-') && word.len() == 2 && !declared.is_empty() && word[1..].parse::<i64>().is_err() => {
                return Err(format!("the script declares no flag `{word}`"));
            }
            None => {
                let number = positional.next().unwrap_or(next_free);
                next_free = number + 1;
                put(&mut placed, number, word.clone());
            }
        }
    }
    for p in declared {
        if let (Some(default), None) = (&p.default, placed.get(p.number as usize - 1).cloned().flatten()) {
            put(&mut placed, p.number, default.clone());
        }
    }
    Ok(placed.into_iter().map(Option::unwrap_or_default).collect())
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
    let plan = postcard::to_stdvec(manifest).expect("a manifest is always serializable");
    let mut out = Vec::with_capacity(MAGIC.len() + 16 + plan.len() + object.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(plan.len() as u64).to_le_bytes());
    out.extend_from_slice(&plan);
    out.extend_from_slice(&(object.len() as u64).to_le_bytes());
    out.extend_from_slice(object);
    out
}

/// The manifest and object in a section's bytes.
pub fn decode(bytes: &[u8]) -> Result<(Manifest, Vec<u8>), String> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or("not an rtrace tool payload (or another version's)")?;
    let (plan, rest) = take_sized(rest).ok_or("the payload is cut short")?;
    let (object, _) = take_sized(rest).ok_or("the payload is cut short")?;
    let manifest = postcard::from_bytes(plan).map_err(|e| format!("the payload's plan is damaged: {e}"))?;
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
            params: vec![Param { number: 1, name: "PID".into(), help: "a pid".into(), flag: None, default: None, long: None, string: false }],
            kernel: KernelId { release: "6.1".into(), version: "#1".into() },
            co_re: false,
            bcc_hists: false,
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

    #[test]
    fn declared_params_and_their_places() {
        let source = "// tool: does things\n// $1 -t TID: only thread TID\n// $2 -x: failed only\n// $3 SECS: how long [default: 5]\n// $ 4 nothing\n";
        let declared = declared_params(source);
        assert_eq!(declared.len(), 3);
        assert_eq!(declared[0], Param { number: 1, name: "TID".into(), help: "only thread TID".into(), flag: Some('t'), default: None, long: None, string: false });
        assert!(declared[1].is_switch());
        assert_eq!(declared[2].default.as_deref(), Some("5"));
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(place_params(&declared, &words(&["-x", "9", "-t", "7"])).unwrap(), words(&["7", "1", "9"]));
        assert_eq!(place_params(&declared, &[]).unwrap(), words(&["", "", "5"]));
        assert_eq!(place_params(&declared, &words(&["-y"])).unwrap_err(), "the script declares no flag `-y`");
        assert_eq!(place_params(&[], &words(&["a", "-1"])).unwrap(), words(&["a", "-1"]));
    }
}
