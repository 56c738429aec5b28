//! Separate debug information files: where the DWARF of a binary whose own was stripped
//! lives, found by its build ID (`DIR/.build-id/ab/cdef….debug`) or its `.gnu_debuglink`
//! name, in the directories of `--debuginfo DIR[:DIR]` (bpftrace's flag; relative to the
//! binary's directory, `+DIR` to check the link's CRC32 too) and then in the usual places:
//! the binary's directory, its `.debug/`, and `/usr/lib/debug`. A file whose build ID is not
//! the binary's, or whose CRC does not match where it is checked, is skipped.

use object::Object;
use std::path::{Path, PathBuf};

/// `--debuginfo`'s directories, as given (`+` prefix kept).
static DIRS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Searches the directories of `--debuginfo` first, for the rest of the run; each value may
/// hold several separated by `:`. A second call changes nothing.
pub fn search_first(values: &[String]) {
    let dirs = values.iter().flat_map(|v| v.split(':')).filter(|d| !d.is_empty()).map(str::to_string).collect();
    let _ = DIRS.set(dirs);
}

/// What a separate debug file must match.
struct Wanted {
    build_id: Option<Vec<u8>>,
    /// The `.gnu_debuglink` name and CRC32.
    link: Option<(String, u32)>,
}

/// The contents of the separate debug file of `binary` (`file` is its ELF), if one is found
/// (read once: the bytes checked are the bytes returned).
pub fn find(binary: &Path, file: &object::File) -> Option<Vec<u8>> {
    let wanted = Wanted {
        build_id: file.build_id().ok().flatten().filter(|id| id.len() > 1).map(<[u8]>::to_vec),
        link: file.gnu_debuglink().ok().flatten().map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc)),
    };
    if wanted.build_id.is_none() && wanted.link.is_none() {
        return None;
    }
    let binary = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    let home = binary.parent().unwrap_or(Path::new("/")).to_path_buf();
    let given = DIRS.get().map(Vec::as_slice).unwrap_or_default().iter().map(|d| match d.strip_prefix('+') {
        Some(d) => (home.join(d), true),
        None => (home.join(d), false),
    });
    let usual = [(home.clone(), false), (home.join(".debug"), false), (PathBuf::from("/usr/lib/debug"), false)];
    given.chain(usual).find_map(|(dir, crc)| {
        candidates(&dir, &home, &wanted).into_iter().filter(|c| *c != binary).find_map(|c| read_matching(&c, &wanted, crc))
    })
}

/// Where in `dir` the debug file may be: by build ID, by link name, and (under
/// `/usr/lib/debug`) by link name under the binary's own directory.
fn candidates(dir: &Path, home: &Path, wanted: &Wanted) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(id) = &wanted.build_id {
        let rest: String = id[1..].iter().map(|b| format!("{b:02x}")).collect();
        out.push(dir.join(".build-id").join(format!("{:02x}", id[0])).join(format!("{rest}.debug")));
    }
    if let Some((name, _)) = &wanted.link {
        out.push(dir.join(name));
        if dir == Path::new("/usr/lib/debug") {
            out.push(dir.join(home.strip_prefix("/").unwrap_or(home)).join(name));
        }
    }
    out
}

/// `candidate`'s contents, if it is the debug file wanted: it has DWARF, its build ID is the
/// binary's (when the binary has one), and with `crc` its CRC32 is the link's.
fn read_matching(candidate: &Path, wanted: &Wanted, crc: bool) -> Option<Vec<u8>> {
    let bytes = std::fs::read(candidate).ok()?;
    if crc && wanted.link.as_ref().is_some_and(|(_, sum)| crc32fast::hash(&bytes) != *sum) {
        return None;
    }
    let file = object::File::parse(&*bytes).ok()?;
    object::Object::section_by_name(&file, ".debug_info")?;
    let same_build = match &wanted.build_id {
        Some(id) => file.build_id().ok().flatten() == Some(id.as_slice()),
        None => true,
    };
    same_build.then_some(bytes)
}
