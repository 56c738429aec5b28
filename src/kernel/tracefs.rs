//! tracefs: where it is, mounting it when it is missing (and remembering that rtrace did, so
//! that what rtrace mounted can be unmounted), which tracepoints exist, and the layout of a
//! tracepoint's record from its `format` file.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where rtrace mounts tracefs when it is not mounted.
pub const MOUNT_POINT: &str = "/sys/kernel/tracing";

const CANDIDATES: [&str; 2] = [MOUNT_POINT, "/sys/kernel/debug/tracing"];

/// Where rtrace mounted tracefs itself, if it did.
static MOUNTED_BY_RTRACE: OnceLock<PathBuf> = OnceLock::new();

/// Where tracefs is mounted: the first usual mount point that has `events/`.
pub fn find() -> Option<PathBuf> {
    CANDIDATES.iter().map(Path::new).find(|p| p.join("events").is_dir()).map(Path::to_path_buf)
}

/// Mounts tracefs at `MOUNT_POINT` when no usual mount point has it (as root; otherwise
/// nothing happens), and remembers that rtrace mounted it (`mounted_by_rtrace`). Where it is
/// still missing, whatever needs it says so.
pub fn mount_if_missing() {
    if find().is_some() {
        return;
    }
    let target = Path::new(MOUNT_POINT);
    if mount_tracefs(target) {
        let _ = MOUNTED_BY_RTRACE.set(target.to_path_buf());
    }
}

/// Where tracefs is mounted according to /proc/self/mounts, readable or not (a user who is not
/// root may not be able to look inside).
pub fn mounted_at() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, at, fstype) = (fields.next()?, fields.next()?, fields.next()?);
        (fstype == "tracefs").then(|| at.to_string())
    })
}

/// Unmounts tracefs if rtrace mounted it in this run (lazily: a probe still closing in the
/// background keeps what it uses).
pub fn unmount_if_mounted_by_rtrace() {
    let Some(path) = mounted_by_rtrace() else { return };
    let Ok(dst) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return };
    // SAFETY: umount2 reads a NUL-terminated path that outlives the call.
    unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) };
}

/// Where rtrace mounted tracefs in this run (`mount_if_missing`), if it did.
pub fn mounted_by_rtrace() -> Option<&'static Path> {
    MOUNTED_BY_RTRACE.get().map(PathBuf::as_path)
}

fn mount_tracefs(target: &Path) -> bool {
    use std::ffi::CString;
    let (Ok(src), Ok(dst), Ok(fstype)) =
        (CString::new("tracefs"), CString::new(target.as_os_str().as_encoded_bytes()), CString::new("tracefs"))
    else {
        return false;
    };
    // SAFETY: all three arguments are valid NUL-terminated strings that outlive the call, and
    // a null `data` pointer is allowed by mount(2).
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    rc == 0
}

/// The tracepoint categories (subsystems) under `events/`.
pub fn categories(root: &Path) -> Vec<String> {
    list_dirs(&root.join("events"))
}

/// The events of one category.
pub fn events(root: &Path, category: &str) -> Vec<String> {
    list_dirs(&root.join("events").join(category))
}

fn list_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One field of a tracepoint record.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// The C declaration as the format file gives it, e.g. `const char * filename`.
    pub decl: String,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Int,
    /// A pointer; `user` when it points into user memory (syscall arguments).
    Ptr { user: bool, to_char: bool },
    /// `char name[N]`, inline in the record.
    CharArray,
    /// `__data_loc char[] name`: a u32 whose low half is the offset of the string in the
    /// record and whose high half is its length.
    DataLocString,
    /// An array of `len` integers of `elem_size` bytes, inline in the record
    /// (`unsigned long args[6]`, `__u8 saddr[4]`).
    IntArray { elem_size: usize, len: usize },
    /// Anything else (other arrays, other `__data_loc` data): not readable yet.
    Other,
}

/// The fields of a tracepoint's record: the event's own (`args.NAME`), and the `common_` ones
/// every record starts with (only `print(args)` shows them).
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pub category: String,
    pub event: String,
    /// The event's id (the format's `ID:` line), which perf_event_open takes; 0 if missing.
    pub id: u64,
    pub fields: Vec<Field>,
    /// The `common_` fields, in the format's order.
    pub common: Vec<Field>,
}

impl Format {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Reads `events/CAT/EVENT/format`; `None` when the tracepoint does not exist.
pub fn format(root: &Path, category: &str, event: &str) -> Option<Format> {
    use std::io::Read;
    // tracefs says the file is empty, so `read_to_string` would stat it, then read from 32
    // bytes up, doubling: one read into room for any format (they are 0.5–3 KiB) instead.
    let mut file = fs::File::open(format_path(root, category, event)).ok()?;
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
    }
    Some(parse_format(category, event, std::str::from_utf8(&buf[..len]).ok()?))
}

/// Whether tracepoint `category:event` exists.
pub fn exists(root: &Path, category: &str, event: &str) -> bool {
    format_path(root, category, event).is_file()
}

fn format_path(root: &Path, category: &str, event: &str) -> std::path::PathBuf {
    root.join("events").join(category).join(event).join("format")
}

/// Parses a format file's text.
pub fn parse_format(category: &str, event: &str, text: &str) -> Format {
    let user_pointers = category == "syscalls";
    let id = text.lines().find_map(|l| l.strip_prefix("ID:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let (mut fields, mut common) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("field:") else { continue };
        let mut decl = "";
        let (mut offset, mut size, mut signed) = (0, 0, false);
        for (i, part) in rest.split(';').enumerate() {
            let part = part.trim();
            if i == 0 {
                decl = part;
            } else if let Some(v) = part.strip_prefix("offset:") {
                offset = v.parse().unwrap_or(0);
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.parse().unwrap_or(0);
            } else if let Some(v) = part.strip_prefix("signed:") {
                signed = v == "1";
            }
        }
        let (name, array) = split_name(decl);
        if name.is_empty() {
            continue;
        }
        let kind = if decl.starts_with("__data_loc") {
            if decl.contains("char[]") {
                FieldKind::DataLocString
            } else {
                FieldKind::Other
            }
        } else if array {
            let len = decl.rsplit('[').next().and_then(|n| n.trim_end_matches(']').parse::<usize>().ok()).unwrap_or(0);
            if decl.contains("char ") && !decl.contains('*') {
                FieldKind::CharArray
            } else if !decl.contains('*') && len > 0 && matches!(size / len, 1 | 2 | 4 | 8) && size % len == 0 {
                FieldKind::IntArray { elem_size: size / len, len }
            } else {
                FieldKind::Other
            }
        } else if decl.contains('*') {
            FieldKind::Ptr { user: user_pointers, to_char: decl.contains("char") }
        } else if matches!(size, 1 | 2 | 4 | 8) {
            FieldKind::Int
        } else {
            FieldKind::Other
        };
        let field = Field { name: name.to_string(), decl: decl.to_string(), offset, size, signed, kind };
        match name.starts_with("common_") {
            true => common.push(field),
            false => fields.push(field),
        }
    }
    Format { category: category.to_string(), event: event.to_string(), id, fields, common }
}

/// The declared name of a C declaration, and whether it is an array.
fn split_name(decl: &str) -> (&str, bool) {
    let last = decl.rsplit(|c: char| c.is_whitespace() || c == '*').next().unwrap_or("");
    match last.find('[') {
        Some(i) => (&last[..i], true),
        None => (last, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat
ID: 633
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:48;\tsize:4;\tsigned:0;
";

    #[test]
    fn parses_fields() {
        let f = parse_format("syscalls", "sys_enter_openat", OPENAT);
        let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["__syscall_nr", "dfd", "filename", "comm", "name"]);
        assert_eq!(f.field("filename").unwrap().kind, FieldKind::Ptr { user: true, to_char: true });
        assert_eq!(f.field("filename").unwrap().offset, 24);
        assert_eq!(f.field("__syscall_nr").unwrap().signed, true);
        assert_eq!(f.field("comm").unwrap().kind, FieldKind::CharArray);
        assert_eq!(f.field("name").unwrap().kind, FieldKind::DataLocString);
        let common: Vec<_> = f.common.iter().map(|f| (f.name.as_str(), f.size, f.kind)).collect();
        assert_eq!(common, [("common_type", 2, FieldKind::Int)]);
    }
}
