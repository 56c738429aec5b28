//! Shared libraries stored inside ZIP archives (Android APKs), named `ARCHIVE!/ENTRY` as
//! bpftrace and libbpf name them: splitting such a path, finding the entry in the archive's
//! central directory, and reading its bytes. A process runs such a library by mapping the
//! archive's pages itself, so the entry must be stored uncompressed; a uprobe on it is placed
//! in the archive's inode at the entry's data offset plus the offset within the library.
//!
//! A small reader rather than the `zip` crate: rtrace needs only the central directory and
//! the local header's length (about a hundred lines, as libbpf's own `zip.c`), and none of the
//! crate's decompression, writing or its dependencies. ZIP64 archives (over 4 GiB or 65535
//! entries) are refused with a clear reason.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The separator between an archive's path and an entry's name.
const SEPARATOR: &str = "!/";
const END_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// The end of central directory record without its comment, and the longest comment.
const END_LEN: usize = 22;
const MAX_COMMENT: usize = 0xffff;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

/// An entry's place in its archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Where the entry's bytes start in the archive file.
    pub data_offset: u64,
    pub size: u64,
}

/// `ARCHIVE!/ENTRY` split into the archive's path and the entry's name, when the path has
/// the separator and the archive is a file (as bpftrace decides that a path is an archive's).
pub fn split(path: &str) -> Option<(&str, &str)> {
    let (archive, entry) = path.split_once(SEPARATOR)?;
    (Path::new(archive).is_file() && !entry.is_empty()).then_some((archive, entry))
}

/// The file a uprobe is attached to: the archive for `ARCHIVE!/ENTRY`, else `path` itself.
pub fn attach_file(path: &str) -> &str {
    split(path).map_or(path, |(archive, _)| archive)
}

/// The entry `name` of the ZIP archive at `archive`, which must be stored uncompressed.
pub fn find(archive: &Path, name: &str) -> Result<Entry, String> {
    let mut file = File::open(archive).map_err(|e| e.to_string())?;
    let (count, dir_offset, dir_size) = end_record(&mut file)?;
    let dir = read_at(&mut file, dir_offset, dir_size as usize).map_err(|_| not_zip("its central directory is cut short"))?;
    let mut at = 0;
    for _ in 0..count {
        let field = |o: usize, n: usize| dir.get(at + o..at + o + n).ok_or_else(|| not_zip("its central directory is cut short"));
        if le(field(0, 4)?) != CENTRAL_SIGNATURE as u64 {
            return Err(not_zip("its central directory is damaged"));
        }
        let (flags, method) = (le(field(8, 2)?), le(field(10, 2)?));
        let (compressed, size) = (le(field(20, 4)?), le(field(24, 4)?));
        let (name_len, extra_len, comment_len) = (le(field(28, 2)?) as usize, le(field(30, 2)?) as usize, le(field(32, 2)?) as usize);
        let local = le(field(42, 4)?);
        if field(CENTRAL_LEN, name_len)? == name.as_bytes() {
            if [compressed, size, local].contains(&0xffff_ffff) {
                return Err(format!("entry `{name}` is in ZIP64 form, which rtrace does not read"));
            }
            if method != 0 || compressed != size {
                return Err(format!(
                    "entry `{name}` is compressed ({}); a uprobe needs it stored uncompressed (`zip -0`, `zipalign -p`), as a process maps it from the archive",
                    method_name(method)
                ));
            }
            if flags & 1 != 0 {
                return Err(format!("entry `{name}` is encrypted"));
            }
            return Ok(Entry { data_offset: data_offset(&mut file, local)?, size });
        }
        at += CENTRAL_LEN + name_len + extra_len + comment_len;
    }
    Err(format!("the archive has no entry `{name}`"))
}

/// The entry that `ARCHIVE!/ENTRY` names and its bytes, or `None` when `path` names no
/// archive entry.
pub fn entry_bytes(path: &str) -> Option<Result<(Entry, Vec<u8>), String>> {
    let (archive, name) = split(path)?;
    let read = || {
        let entry = find(Path::new(archive), name)?;
        let mut file = File::open(archive).map_err(|e| e.to_string())?;
        let bytes = read_at(&mut file, entry.data_offset, entry.size as usize).map_err(|e| e.to_string())?;
        Ok((entry, bytes))
    };
    Some(read())
}

/// The bytes of a binary: the entry's for `ARCHIVE!/ENTRY`, else the whole file's.
pub fn read_binary(path: &Path) -> Result<Vec<u8>, String> {
    match path.to_str().and_then(entry_bytes) {
        Some(entry) => entry.map(|(_, bytes)| bytes),
        None => std::fs::read(path).map_err(|e| e.to_string()),
    }
}

/// The end of central directory record: the number of entries, the directory's offset and
/// size. It is the last thing in the file, before a comment of up to 64 KiB.
fn end_record(file: &mut File) -> Result<(u64, u64, u64), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let tail_len = len.min((END_LEN + MAX_COMMENT) as u64);
    let tail = read_at(file, len - tail_len, tail_len as usize).map_err(|e| e.to_string())?;
    let start = (0..=tail.len().saturating_sub(END_LEN))
        .rev()
        .find(|&i| tail.len() >= END_LEN && le(&tail[i..i + 4]) == END_SIGNATURE as u64)
        .ok_or_else(|| not_zip("it has no end of central directory record"))?;
    let end = &tail[start..start + END_LEN];
    let (count, dir_size, dir_offset) = (le(&end[10..12]), le(&end[12..16]), le(&end[16..20]));
    if count == 0xffff || dir_offset == 0xffff_ffff {
        return Err("the archive is in ZIP64 form, which rtrace does not read".to_string());
    }
    Ok((count, dir_offset, dir_size))
}

/// Where an entry's data starts: after its local header, whose name and extra field may differ
/// from the central directory's (`zipalign` pads the local extra field to align the data).
fn data_offset(file: &mut File, local: u64) -> Result<u64, String> {
    let header = read_at(file, local, LOCAL_LEN).map_err(|_| not_zip("a local header is cut short"))?;
    if le(&header[0..4]) != LOCAL_SIGNATURE as u64 {
        return Err(not_zip("a local header is damaged"));
    }
    Ok(local + LOCAL_LEN as u64 + le(&header[26..28]) + le(&header[28..30]))
}

fn read_at(file: &mut File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// A little-endian number of 2 or 4 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |n, &b| n << 8 | b as u64)
}

fn not_zip(why: &str) -> String {
    format!("not a ZIP archive: {why}")
}

fn method_name(method: u64) -> String {
    match method {
        8 => "deflate".to_string(),
        9 => "deflate64".to_string(),
        12 => "bzip2".to_string(),
        14 => "lzma".to_string(),
        93 => "zstd".to_string(),
        m => format!("method {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian() {
        assert_eq!(le(&[0x50, 0x4b, 0x05, 0x06]), END_SIGNATURE as u64);
        assert_eq!(le(&[0x34, 0x12]), 0x1234);
    }

    #[test]
    fn split_needs_an_existing_archive() {
        assert_eq!(split("/proc/self/exe"), None);
        assert_eq!(split("/nonexistent.apk!/lib/libfoo.so"), None);
        let exe = "/proc/self/status!/lib/libfoo.so";
        assert_eq!(split(exe), Some(("/proc/self/status", "lib/libfoo.so")));
        assert_eq!(attach_file(exe), "/proc/self/status");
        assert_eq!(attach_file("/usr/bin/bash"), "/usr/bin/bash");
    }
}
