//! Uprobes on a shared library stored in a ZIP archive (an Android APK's
//! `lib/ABI/libfoo.so`), named `ARCHIVE!/ENTRY` as bpftrace 0.26's docs show. A script case
//! cannot do this: the archive must exist before rtrace starts and is written here, in Rust,
//! as `zipalign -p` lays an APK out (the library stored uncompressed, its data at a
//! page-aligned offset, padded with the local header's extra field), beside an entry
//! compressed with deflate, for the error. `tests/apk/apk_run.c` maps the library's pages from
//! the archive (PROT_READ|PROT_EXEC, no loader) and calls its functions: the uprobes fire
//! because the kernel places them in the archive's inode. Expectations are reasoned from what
//! apk_run calls (`apk_add(i, 10 * i)` and `apk_mul(i, 100)` for i = 1..N). The probes keep
//! to `-c`'s process (`/pid == cpid/`): the tests run at once, and on this kernel a uprobe
//! attached for `-c`'s pid also fires in other processes running the same code (bpftrace 0.17
//! too: `uprobe:libc:exit` with `-c "/bin/sleep 3"` prints other processes' exits). bpftrace hands
//! such paths to libbpf, whose error texts rtrace does not copy. Skipped, with the reason
//! printed, without root, `cc` or tracefs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const LIB: &str = "lib/x86_64/libapk.so";
const PAGE: usize = 4096;

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !Path::new("/sys/kernel/tracing/events").exists() && !Path::new("/sys/kernel/debug/tracing/events").exists() {
        return Some("needs tracefs".into());
    }
    fixture().as_ref().err().cloned()
}

/// The fixture and the library's `ARCHIVE!/ENTRY` path, or `None` (the reason printed) when
/// the test is skipped.
fn setup() -> Option<(&'static Fixture, String)> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return None;
    }
    let f = fixture().as_ref().ok()?;
    Some((f, format!("{}!/{LIB}", f.archive)))
}

/// What the tests run: the archive (and where the library's data starts in it), apk_run, and
/// a file that is no archive.
struct Fixture {
    dir: PathBuf,
    archive: String,
    data_offset: usize,
    lib_size: usize,
    runner: String,
}

fn fixture() -> &'static Result<Fixture, String> {
    static BUILT: OnceLock<Result<Fixture, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("apk");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apk");
        let (lib, runner) = (dir.join("libapk.so"), dir.join("apk_run"));
        cc(&["-O1", "-g", "-shared", "-fPIC"], &src.join("libapk.c"), &lib)?;
        cc(&["-O1"], &src.join("apk_run.c"), &runner)?;
        let bytes = std::fs::read(&lib).map_err(|e| e.to_string())?;
        let members = [
            Member { name: "AndroidManifest.xml", data: b"<manifest/>\n", deflate: false },
            Member { name: LIB, data: &bytes, deflate: false },
            Member { name: "lib/x86_64/libpacked.so", data: &bytes, deflate: true },
        ];
        let (zip, offsets) = write_zip(&members);
        let archive = dir.join("app.apk");
        std::fs::write(&archive, zip).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("notes.txt"), "not an archive\n").map_err(|e| e.to_string())?;
        let (archive, runner) = (archive.display().to_string(), runner.display().to_string());
        Ok(Fixture { dir, archive, data_offset: offsets[1], lib_size: bytes.len(), runner })
    })
}

fn cc(flags: &[&str], source: &Path, out: &Path) -> Result<(), String> {
    let o = Command::new("cc").args(flags).arg("-o").arg(out).arg(source).output();
    match o {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("cannot build {}: {}", source.display(), String::from_utf8_lossy(&o.stderr))),
        Err(e) => Err(format!("needs cc ({e})")),
    }
}

/// Runs rtrace with `args` (under `timeout`), returning its status, stdout and stderr.
fn rtrace(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new("timeout").arg("60").arg(RTRACE).args(args).env("NO_COLOR", "1").output().expect("rtrace runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

/// `apk_run` calling the library `n` times, as rtrace's `-c` command.
fn run_command(f: &Fixture, n: u32) -> String {
    format!("{} {} {} {} {n}", f.runner, f.archive, f.data_offset, f.lib_size)
}

/// The uprobe and uretprobe fire once per call, with the arguments apk_run passes
/// (`apk_add(i, 10 * i)`, returning 11 * i) and under the probe's full name.
#[test]
fn uprobe_and_uretprobe_in_an_archive() {
    let Some((f, target)) = setup() else { return };
    let script = format!(
        r#"uprobe:"{target}":apk_add /pid == cpid/ {{ printf("%s %d %d\n", probe, arg0, arg1); }}
        uretprobe:"{target}":apk_add /pid == cpid/ {{ printf("ret %d\n", retval); }}"#
    );
    let (status, out, err) = rtrace(&["-e", &script, "-c", &run_command(f, 3)]);
    assert_eq!(status, Some(0), "{err}");
    let ours: Vec<&str> = out.lines().filter(|l| l.starts_with("uprobe:") || l.starts_with("ret ")).collect();
    let name = format!("uprobe:{target}:apk_add");
    let expected = [format!("{name} 1 10"), "ret 11".into(), format!("{name} 2 20"), "ret 22".into(), format!("{name} 3 30"), "ret 33".into()];
    assert_eq!(ours, expected, "stdout:\n{out}\nstderr:\n{err}");
    // apk_run's own output: the calls really ran, from the archive's pages.
    assert!(out.lines().any(|l| l == "33 300"), "{out}");
}

/// A wildcard matches both functions of the entry; `args` come from the entry's DWARF.
#[test]
fn wildcard_and_args_in_an_archive() {
    let Some((f, target)) = setup() else { return };
    let script = format!(
        r#"uprobe:"{target}":apk_* /pid == cpid/ {{ @calls[probe] = count(); }}
        uprobe:"{target}":apk_mul /pid == cpid/ {{ @b = sum(args.b); @a = sum(args.a); }}"#
    );
    let (status, out, err) = rtrace(&["-e", &script, "-c", &run_command(f, 4)]);
    assert_eq!(status, Some(0), "{err}");
    // apk_mul(i, 100) for i = 1..4: b sums to 400, a to 1 + 2 + 3 + 4 = 10.
    for line in [
        format!("@calls[uprobe:{target}:apk_add]: 4"),
        format!("@calls[uprobe:{target}:apk_mul]: 4"),
        "@a: 10".to_string(),
        "@b: 400".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "no `{line}` in stdout:\n{out}\nstderr:\n{err}");
    }
}

/// Addresses inside the library are symbolised from the entry (blazesym's `apk` feature reads
/// the process's mapping of the archive), while the process is alive: apk_run sleeps a
/// second after its call. The uprobe is at the function's first byte: `apk_add+0`.
#[test]
fn symbols_of_frames_in_an_archive() {
    let Some((f, target)) = setup() else { return };
    let script = format!(r#"uprobe:"{target}":apk_add /pid == cpid/ {{ printf("%s|%s", usym(reg("ip")), ustack(perf, 1)); }}"#);
    let (status, out, err) = rtrace(&["-e", &script, "-c", &format!("{} 1", run_command(f, 1))]);
    assert_eq!(status, Some(0), "{err}");
    // `ustack(perf)` starts with a newline; its frame is the next line, `\tADDRESS NAME+OFF (MODULE)`.
    let mut lines = out.lines().skip_while(|l| *l != "apk_add|");
    let frame = lines.nth(1).unwrap_or_else(|| panic!("stdout:\n{out}\nstderr:\n{err}"));
    let (addr, rest) = frame.trim().split_once(' ').unwrap_or_default();
    assert!(u64::from_str_radix(addr, 16).is_ok(), "{frame}");
    assert_eq!(rest, format!("apk_add+0 ({target})"), "{out}");
}

/// A source line (libapk.c:12, apk_mul's `return a * b;`) is found in the entry's DWARF line
/// table: it runs once per apk_mul call, with `a` = 1, 2 in the first argument register.
#[test]
fn source_line_in_an_archive() {
    let Some((f, target)) = setup() else { return };
    let script = format!(r#"uprobe:{target}@libapk.c:12 /pid == cpid/ {{ printf("line %d %d\n", arg0, arg1); }}"#);
    let (status, out, err) = rtrace(&["-e", &script, "-c", &run_command(f, 2)]);
    assert_eq!(status, Some(0), "{err}");
    let ours: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(ours, ["line 1 100", "line 2 100"], "stdout:\n{out}\nstderr:\n{err}");
}

/// `-l` lists the entry's functions under the archive path.
#[test]
fn listing_an_archive_entry() {
    let Some((_, target)) = setup() else { return };
    let (status, out, err) = rtrace(&["-l", &format!("uprobe:{target}:apk_*")]);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, format!("uprobe:{target}:apk_add\nuprobe:{target}:apk_mul\n"));
}

/// What is wrong with the target is said, with exit status 1: an entry the archive lacks, a
/// compressed entry, a file that is no ZIP archive, a function the entry lacks.
#[test]
fn errors_for_archive_targets() {
    let Some((f, _)) = setup() else { return };
    let notes = f.dir.join("notes.txt").display().to_string();
    let entry = |name: &str| format!("{}!/{name}", f.archive);
    // (target, function, the reason rtrace cannot read the target's symbols, or `None`).
    let cases = [
        (entry("lib/x86_64/libnone.so"), "apk_add", Some("the archive has no entry `lib/x86_64/libnone.so`")),
        (entry("lib/x86_64/libpacked.so"), "apk_add", Some("entry `lib/x86_64/libpacked.so` is compressed (deflate); a uprobe needs it stored uncompressed (`zip -0`, `zipalign -p`), as a process maps it from the archive")),
        (format!("{notes}!/{LIB}"), "apk_add", Some("not a ZIP archive: it has no end of central directory record")),
        (entry("AndroidManifest.xml"), "apk_add", Some("entry `AndroidManifest.xml` is not an ELF file")),
        (entry(LIB), "apk_sub", None),
    ];
    for (target, func, reason) in cases {
        let message = match reason {
            Some(reason) => format!("cannot read the symbols of `{target}`: {reason}"),
            None => format!("no function matches `{func}` in `{target}`"),
        };
        let script = format!(r#"uprobe:"{target}":{func} {{ }}"#);
        let (status, _, err) = rtrace(&["-e", &script]);
        assert_eq!(status, Some(1), "{script}: {err}");
        assert_eq!(err.lines().next(), Some(format!("error: {message}").as_str()), "{script}:\n{err}");
    }
}

/// A member of the archive: stored, or compressed with deflate (in stored deflate blocks,
/// which is valid deflate and needs no compressor).
struct Member<'a> {
    name: &'a str,
    data: &'a [u8],
    deflate: bool,
}

/// A ZIP archive of `members`, and where each member's data starts. Stored members' data
/// starts at a page boundary, as `zipalign -p` places an APK's libraries: the local header's
/// extra field is padded (with zipalign's extra block, id 0xd935).
fn write_zip(members: &[Member]) -> (Vec<u8>, Vec<usize>) {
    let (mut out, mut central, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
    for m in members {
        let data = if m.deflate { deflate_stored(m.data) } else { m.data.to_vec() };
        let local = out.len();
        let mut extra = Vec::new();
        if !m.deflate {
            let unpadded = local + 30 + m.name.len() + 6;
            let pad = (PAGE - unpadded % PAGE) % PAGE;
            extra.extend(le(0xd935, 2));
            extra.extend(le(2 + pad as u32, 2));
            extra.extend(le(PAGE as u32, 2));
            extra.extend(vec![0; pad]);
        }
        let method = if m.deflate { 8 } else { 0 };
        // Version needed, flags, method, time, date (1980-01-01), CRC-32, sizes, name length.
        let mut common = Vec::new();
        for (value, len) in [(20, 2), (0, 2), (method, 2), (0, 2), (0x21, 2), (crc32(m.data), 4)] {
            common.extend(le(value, len));
        }
        common.extend(le(data.len() as u32, 4));
        common.extend(le(m.data.len() as u32, 4));
        common.extend(le(m.name.len() as u32, 2));
        out.extend(le(0x0403_4b50, 4));
        out.extend(&common);
        out.extend(le(extra.len() as u32, 2));
        out.extend(m.name.as_bytes());
        out.extend(&extra);
        offsets.push(out.len());
        out.extend(&data);
        central.extend(le(0x0201_4b50, 4));
        central.extend(le(0x031e, 2)); // made by: Unix, 3.0
        central.extend(&common);
        // Extra and comment lengths, disk, internal and external attributes, local offset.
        for (value, len) in [(0, 2), (0, 2), (0, 2), (0, 2), (0o100644 << 16, 4), (local as u32, 4)] {
            central.extend(le(value, len));
        }
        central.extend(m.name.as_bytes());
    }
    let (dir_offset, dir_size, count) = (out.len() as u32, central.len() as u32, members.len() as u32);
    out.extend(central);
    out.extend(le(0x0605_4b50, 4));
    for (value, len) in [(0, 2), (0, 2), (count, 2), (count, 2), (dir_size, 4), (dir_offset, 4), (0, 2)] {
        out.extend(le(value, len));
    }
    (out, offsets)
}

fn le(value: u32, len: usize) -> Vec<u8> {
    value.to_le_bytes()[..len].to_vec()
}

/// `data` as deflate's stored blocks (BTYPE 00): each a header byte, LEN, NLEN and the bytes.
fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        out.extend(le(chunk.len() as u32, 2));
        out.extend(le(!(chunk.len() as u32) & 0xffff, 2));
        out.extend(*chunk);
    }
    out
}

/// ZIP's CRC-32 (reflected, polynomial 0xedb88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { crc >> 1 ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
