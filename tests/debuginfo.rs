//! `--debuginfo DIR[:DIR]` and separate debug files (bpftrace 0.26's man page: "Debug files in
//! these paths are matched by build ID when available; prefix a path with `+` to enable CRC32
//! validation"; by default `.debug` beside the binary and `/usr/lib/debug`). A program built
//! with `-g` has its DWARF moved to a separate file, as distributions ship it, and rtrace must
//! find it to list (`-lv`) and read (`args`) the function's parameters: `int a`, `long int b`,
//! `struct point* p` (gcc's DWARF names, as `-lv` prints them for unstripped binaries). A file
//! that is not the binary's (another build ID; a CRC that differs, under `+`) is skipped.
//! Expectations reasoned from the program (tests/debuginfo/split.c). Skipped, with the reason
//! printed, without `cc`, `objcopy` or `strip`.

use std::path::{Path, PathBuf};
use std::process::Command;

const RTRACE: &str = env!("CARGO_BIN_EXE_rtrace");
const PARAMS: &str = "    int a\n    long int b\n    struct point* p\n";

fn tools_missing() -> Option<&'static str> {
    ["cc", "objcopy", "strip"].into_iter().find(|t| Command::new(t).arg("--version").output().map(|o| !o.status.success()).unwrap_or(true))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command starts");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Builds `split.c` into `dir/bin/split` (with `extra` compiler flags) with its DWARF moved to
/// `dir/DEBUG` (a path relative to `dir`), linked by name; returns the binary's path.
fn split_build(dir: &Path, debug: &str, extra: &[&str]) -> PathBuf {
    let bin = dir.join("bin/split");
    let debug = dir.join(debug);
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::create_dir_all(debug.parent().unwrap()).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/debuginfo/split.c");
    run(Command::new("cc").args(["-g", "-O1"]).args(extra).arg("-o").arg(&bin).arg(&source));
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&bin).arg(&debug));
    run(Command::new("strip").arg("--strip-debug").arg(&bin));
    run(Command::new("objcopy").arg(format!("--add-gnu-debuglink={}", debug.display())).arg(&bin));
    bin
}

/// A fresh directory for one test, removed when the test ends.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("rtrace-debuginfo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// `rtrace ARGS -lv uprobe:BIN:split_add`'s stdout.
fn list(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(RTRACE).args(args).arg("-lv").arg(format!("uprobe:{}:split_add", bin.display())).output().expect("rtrace runs");
    assert!(out.status.success(), "rtrace failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listed(bin: &Path, params: bool) -> String {
    format!("uprobe:{}:split_add\n{}", bin.display(), if params { PARAMS } else { "" })
}

macro_rules! needs_tools {
    () => {
        if let Some(tool) = tools_missing() {
            println!("skipped: needs {tool}");
            return;
        }
    };
}

#[test]
fn found_through_debuginfo_dirs() {
    needs_tools!();
    let dir = scratch("dirs");
    let bin = split_build(&dir, "syms/split.debug", &[]);
    assert_eq!(list(&bin, &[]), listed(&bin, false), "the debug file is in no usual place");
    let syms = dir.join("syms");
    assert_eq!(list(&bin, &["--debuginfo", syms.to_str().unwrap()]), listed(&bin, true), "absolute DIR");
    assert_eq!(list(&bin, &["--debuginfo", "../syms"]), listed(&bin, true), "DIR relative to the binary's directory");
    assert_eq!(list(&bin, &["--debuginfo", "/nonexistent:../syms"]), listed(&bin, true), "DIR:DIR");
    assert_eq!(list(&bin, &["--debuginfo", "/nonexistent", "--debuginfo", "+../syms"]), listed(&bin, true), "repeated, + with the right CRC");
}

#[test]
fn found_in_usual_places() {
    needs_tools!();
    let dir = scratch("usual");
    let bin = split_build(&dir, "bin/.debug/split.debug", &[]);
    assert_eq!(list(&bin, &[]), listed(&bin, true), "`.debug/` beside the binary, by link name");
}

#[test]
fn found_by_build_id() {
    needs_tools!();
    let dir = scratch("build-id");
    let bin = split_build(&dir, "syms/split.debug", &["-Wl,--build-id=sha1"]);
    // The file moved to where the build ID names it, under another name than the link's.
    let note = Command::new("readelf").arg("-n").arg(&bin).output().expect("readelf runs");
    let text = String::from_utf8_lossy(&note.stdout);
    let id = text.lines().find_map(|l| l.trim().strip_prefix("Build ID: ")).expect("a build ID").trim().to_string();
    let place = dir.join("ids/.build-id").join(&id[..2]).join(format!("{}.debug", &id[2..]));
    std::fs::create_dir_all(place.parent().unwrap()).unwrap();
    std::fs::rename(dir.join("syms/split.debug"), &place).unwrap();
    assert_eq!(list(&bin, &["--debuginfo", "../ids"]), listed(&bin, true));
}

#[test]
fn another_builds_file_is_skipped() {
    needs_tools!();
    // Two builds with build IDs: the second's debug file, under the first's link name, is not
    // the first's.
    let (one, two) = (scratch("other-1"), scratch("other-2"));
    let bin = split_build(&one, "syms/split.debug", &["-Wl,--build-id=sha1"]);
    split_build(&two, "syms/split.debug", &["-Wl,--build-id=sha1", "-DOTHER"]);
    std::fs::copy(two.join("syms/split.debug"), one.join("syms/split.debug")).unwrap();
    assert_eq!(list(&bin, &["--debuginfo", "../syms"]), listed(&bin, false), "another build ID");
    // Without build IDs only the name links them: taken as is, refused by `+`'s CRC check.
    let (one, two) = (scratch("crc-1"), scratch("crc-2"));
    let bin = split_build(&one, "syms/split.debug", &["-Wl,--build-id=none"]);
    split_build(&two, "syms/split.debug", &["-Wl,--build-id=none", "-DOTHER"]);
    std::fs::copy(two.join("syms/split.debug"), one.join("syms/split.debug")).unwrap();
    assert_eq!(list(&bin, &["--debuginfo", "+../syms"]), listed(&bin, false), "+ and a CRC that differs");
    assert_eq!(list(&bin, &["--debuginfo", "../syms"]), listed(&bin, true), "no build ID, no CRC check");
}

/// The parameters read at run time too: `args.a`, `args.b` and `args.p->y` of the stripped
/// binary, from its separate DWARF (`split_add(1, 2, {1, 40})`: argc is 1).
#[test]
fn args_read_from_separate_dwarf() {
    needs_tools!();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return;
    }
    let dir = scratch("args");
    let bin = split_build(&dir, "syms/split.debug", &[]);
    let script = format!("uprobe:{}:split_add {{ printf(\"%d %d %d\\n\", args.a, args.b, args.p->y); }}", bin.display());
    let out = Command::new(RTRACE)
        .args(["-q", "--debuginfo", "../syms", "-c"])
        .arg(&bin)
        .arg("-e")
        .arg(&script)
        .output()
        .expect("rtrace runs");
    assert!(out.status.success(), "rtrace failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 2 40\n");
}
