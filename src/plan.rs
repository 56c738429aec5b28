//! The plan: the contract between the compiler and the runtime. Plain data only — sema writes
//! it, codegen lays the BPF side out from it, the runtime decodes events and maps with it.
//! Nothing here depends on any other module of rtrace; it is serde data (`Serialize`,
//! `Deserialize`), so a plan can be written out and read back.

use serde::{Deserialize, Serialize};

mod records;
pub use records::*;

/// Everything the runtime needs besides the BPF object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub probes: Vec<ProbeDef>,
    pub maps: Vec<MapDef>,
    pub printfs: Vec<PrintfDef>,
    /// Whether any program reads `elapsed` (the runtime then fills the start time).
    pub uses_elapsed: bool,
    /// strftime formats of `time()` calls.
    pub time_formats: Vec<String>,
    /// strftime formats of `strftime()` values, each once; `Timestamp` kinds index this.
    pub strftime_formats: Vec<String>,
    /// The depths of the stacks programs record (`kstack`, `ustack(N)`): one stack map each,
    /// named by `stack_map`, since the kernel keeps as many frames as a map's value holds.
    pub stack_depths: Vec<u32>,
    /// The depths of the `dw_ustack` stacks programs record: one map of unwound frames each,
    /// named by `dw_stack_map` (the runtime loads the targets' unwind tables when any).
    #[serde(default)]
    pub dw_stack_depths: Vec<u32>,
    /// `-p PID`: probes other than BEGIN, END and interval fire only in this process.
    pub filter_pid: Option<u32>,
    /// Every attach point's full name; `probe` values index this.
    pub probe_names: Vec<String>,
    /// The separators of `join()` calls.
    pub join_separators: Vec<String>,
    /// The files `cat()` calls print.
    pub cat_paths: Vec<String>,
    /// `skboutput()` calls, by the id their records carry (`SKB_OUTPUT_MAP`).
    #[serde(default)]
    pub skb_outputs: Vec<SkbOutputDef>,
    /// Tuple layouts; `Scalar::Tuple` indexes this.
    pub tuples: Vec<TupleDef>,
    /// Kernel enums whose values print by name; `Scalar::Enum` indexes this.
    pub enums: Vec<EnumDef>,
    /// Kernel structs and unions copied by value (`print(*p)`, a map value);
    /// `Scalar::Struct` indexes this.
    #[serde(default)]
    pub structs: Vec<StructDef>,
    /// What follows a struct's char array that fills it with no NUL (config
    /// `str_trunc_trailer`, bpftrace 0.26's; the runtime prints none in 0.17's output).
    #[serde(default)]
    pub str_trunc_trailer: String,
    /// The rows of the parameters map (`PARAMS_MAP`): an attach cookie, and the values of the
    /// literals its program reads from the row (see `sema::share`). Empty: no such map.
    pub params: Vec<(u64, Vec<u64>)>,
    /// Bytes of a string read by `str()` or from a tracepoint's string field, NUL included
    /// (config `max_strlen`).
    pub str_len: u32,
    /// With `-k`: the script's text, where the runtime finds the place of a failed read
    /// (`EventKind::ReadError`).
    #[serde(default)]
    pub source: Option<SourceText>,
    /// `str()` reads one byte more than the `str_len` bytes it keeps (bpftrace 0.26's output,
    /// when `max_strlen` is below 1024): a string that fills them has no NUL and prints with
    /// `str_trunc_trailer`.
    #[serde(default)]
    pub str_extra_byte: bool,
    /// Bytes of the event ring buffer (config `perf_rb_pages`).
    pub ringbuf_bytes: u32,
    /// Whether maps are printed at exit (config `print_maps_on_exit`).
    pub print_maps_on_exit: bool,
    /// Compiled for `rtrace build`: `-p` and the positional parameters are read from the
    /// globals map at run time (`GLOBAL_FILTER_PID`, `GLOBAL_ARGC`), not compiled in.
    #[serde(default)]
    pub runtime_params: bool,
    /// `hist()`/`lhist()` maps also keep the sum of the values they observed, in an entry of
    /// their own at bucket index `HIST_SUM_BUCKET` (`--prometheus`: a histogram's `_sum`).
    pub hist_sums: bool,
}

/// The bucket index at which a histogram keeps the sum of its values (`Plan::hist_sums`); it
/// is past every real bucket, so reading the buckets skips it.
pub const HIST_SUM_BUCKET: u64 = u64::MAX;

impl Plan {
    /// The names of the maps that stack ids index (`stack_map`, `dw_stack_map`).
    pub fn stack_maps(&self) -> Vec<String> {
        let kernel = self.stack_depths.iter().map(|&d| stack_map(d));
        kernel.chain(self.dw_stack_depths.iter().map(|&d| dw_stack_map(d))).collect()
    }

    /// Values per row of the parameters map.
    pub fn param_slots(&self) -> usize {
        self.params.iter().map(|(_, row)| row.len()).max().unwrap_or(0)
    }
}

/// One `skboutput(path, skb, length, offset)` call: the pcap file its packets go to (several
/// calls may share one) and the literal offset of the bytes written, from the start of the
/// bytes sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkbOutputDef {
    pub path: String,
    pub offset: u64,
}

/// A kernel (BTF) enum: its enumerators' values, cut to `size` bytes, and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumDef {
    pub name: String,
    pub size: u32,
    pub signed: bool,
    pub values: Vec<(u64, String)>,
}

impl EnumDef {
    /// The name of value `v` (an 8-byte record field), or its number when no enumerator has
    /// it, as bpftrace prints an unknown value.
    pub fn text(&self, v: u64) -> String {
        let shift = 64 - 8 * self.size.clamp(1, 8);
        let cut = (v << shift) >> shift;
        match self.values.iter().find(|(value, _)| *value == cut) {
            Some((_, name)) => name.clone(),
            None if self.signed => ((((v << shift) as i64) >> shift) as i64).to_string(),
            None => cut.to_string(),
        }
    }
}

/// A kernel struct or union whose bytes are copied (`print(*p)`, a map value), to be printed
/// as bpftrace 0.26 prints a record: its members in order, an anonymous member's flattened in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructDef {
    pub fields: Vec<StructField>,
}

/// One member of a `StructDef`: its name, where it starts (in bits, from the start of the
/// copied bytes) and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructField {
    pub name: String,
    pub offset_bits: u32,
    pub kind: FieldKind,
}

/// What a struct member is, for printing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldKind {
    /// An integer of `size` bytes, or a bitfield `bits` wide.
    Int { size: u32, signed: bool, bits: Option<u8> },
    /// A pointer, printed in hex.
    Ptr,
    /// A char array, printed as a string (with the trailer when it has no NUL).
    Chars { len: u32 },
    /// A named enum, printed as its enumerator's name.
    Enum(EnumDef),
    /// An array of `len` elements, `stride` bytes apart, printed `[1,2,3]`.
    Array { elem: Box<FieldKind>, stride: u32, len: u32 },
    /// An embedded struct or union.
    Record(StructDef),
}

/// A tuple's layout: each element at its offset, every element 8-byte aligned (a string takes
/// its length rounded up to 8), so a multi-part map key has the same layout as the tuple of
/// its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TupleDef {
    pub fields: Vec<ArgField>,
    pub size: usize,
    /// A record's field names, in the order of `fields`; `None` for a tuple.
    pub names: Option<Vec<String>>,
}

/// The stack-trace map that stack ids of `depth` frames index.
pub fn stack_map(depth: u32) -> String {
    format!("rt_stacks_{depth}")
}
/// The hash map that `dw_ustack` ids of `depth` frames index: the frames unwound in BPF
/// (`codegen/dwunwind.rs`), keyed by a hash of them.
pub fn dw_stack_map(depth: u32) -> String {
    format!("rt_dwstacks_{depth}")
}
/// `dw_ustack`'s unwind table (`runtime/unwind.rs` fills it): an array of `DW_ROW_SIZE`-byte
/// rows, `{ u64 pc; i32 cfa_offset; u8 cfa_register; u8 rbp_saved; i16 rbp_offset; }`,
/// sorted by pc within each process, and the hash map of the target processes, pid to
/// `{ u32 first_row; u32 rows; }`.
pub const DW_ROWS_MAP: &str = "rt_dw_rows";
pub const DW_PIDS_MAP: &str = "rt_dw_pids";
pub const DW_ROW_SIZE: u32 = 16;
/// The most target processes `dw_ustack` unwinds.
pub const DW_MAX_PIDS: u32 = 64;
/// A row's CFA register: none (the walk stops), rsp or rbp.
pub const DW_CFA_NONE: u8 = 0;
pub const DW_CFA_RSP: u8 = 1;
pub const DW_CFA_RBP: u8 = 2;
/// Frames kept per stack by default, and at most (the kernel's PERF_MAX_STACK_DEPTH).
pub const STACK_DEPTH: u32 = 127;
/// A per-CPU array of one `STACK_DEPTH` frames' buffer, where `len(kstack)` has
/// `bpf_get_stack` write the frames it counts.
pub const STACK_BUF_MAP: &str = "rt_stack_buf";

/// A recorded stack (`kstack`, `ustack`, with bpftrace's arguments): how deep, and how it is
/// printed. A kernel stack's value is its stack id (8 bytes); a user stack's is
/// `{ u64 stack_id; u64 pid; }`, the process whose memory map names its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StackSpec {
    pub user: bool,
    /// `dw_ustack`: unwound with the targets' `.eh_frame` in BPF, not by the kernel.
    #[serde(default)]
    pub dwarf: bool,
    pub mode: StackMode,
    pub depth: u32,
}

/// How a stack prints (config `stack_mode`, or the call's mode argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackMode {
    /// Indented `symbol+offset` lines.
    Bpftrace,
    /// `\tADDR symbol+offset` lines.
    Perf,
    /// The addresses in hex, one a line, not symbolized.
    Raw,
}

impl StackMode {
    /// The mode named `name` (`bpftrace`, `perf`, `raw`); `build_id` is not one rtrace records.
    pub fn named(name: &str) -> Option<StackMode> {
        Some(match name {
            "bpftrace" => StackMode::Bpftrace,
            "perf" => StackMode::Perf,
            "raw" => StackMode::Raw,
            _ => return None,
        })
    }
}

/// Bytes of a `ustack` value.
pub const USTACK_SIZE: usize = 16;

impl StackSpec {
    pub fn size(&self) -> usize {
        if self.user {
            USTACK_SIZE
        } else {
            8
        }
    }
    /// The map this stack's ids index.
    pub fn map_name(&self) -> String {
        if self.dwarf {
            dw_stack_map(self.depth)
        } else {
            stack_map(self.depth)
        }
    }
    /// The name of the builtin, for messages.
    pub fn name(&self) -> &'static str {
        if self.dwarf {
            "dw_ustack"
        } else if self.user {
            "ustack"
        } else {
            "kstack"
        }
    }
}

/// Names of the maps rtrace itself adds to every object.
pub const EVENTS_MAP: &str = "rt_events";
/// A u64, alone in its writable section `LOST_SECTION` (a `.data` map that libbpf maps into
/// rtrace's memory): the records the ring buffer had no room for, on all CPUs. The runtime
/// reads it from memory after each batch of events: a read through the bpf() system call
/// would itself be an event for a script that traces bpf() (capable.bt), each read making
/// the next.
pub const LOST_GLOBAL: &str = "rt_lost";
pub const LOST_SECTION: &str = ".data.lost";
/// Per user map (at its index in `Plan::maps`), the new entries a full map could not take: a
/// per-CPU array of u64 counters, in every object with user maps.
pub const MAP_FULL_MAP: &str = "rt_map_full";
pub const GLOBALS_MAP: &str = "rt_globals";
/// A u64, alone in its read-only section `NCPUS_SECTION` (a `.rodata` map for libbpf): the
/// number of possible CPUs, which the runtime writes before loading (so a built tool counts
/// the CPUs of the machine it runs on) and the verifier then knows, bounding the loops that
/// read a per-CPU value on every CPU.
pub const NCPUS_GLOBAL: &str = "rt_ncpus";
pub const NCPUS_SECTION: &str = ".rodata.cpus";
/// A built tool's (`Plan::runtime_params`) string parameters (`str($N)`, a string `getopt()`):
/// an array of `GLOBALS` entries of `Plan::str_len` bytes each, at the globals map's indices,
/// NUL-padded; the tool fills them when it starts.
pub const STR_GLOBALS_MAP: &str = "rt_strglobals";
/// Per-CPU scratch space where printf records are built (the BPF stack is only 512 bytes).
pub const SCRATCH_MAP: &str = "rt_scratch";
/// Per-CPU space for string and address variables (on the stack, LLVM splits them into bytes
/// and can spill each byte to its own 8-byte slot).
pub const VARS_MAP: &str = "rt_vars";
/// Per attach cookie, the literals of a program shared by probes that differ only in them.
pub const PARAMS_MAP: &str = "rt_params";
/// The perf event array `skboutput()` writes to through `bpf_skb_output` (one perf buffer per
/// CPU), in objects whose plan has `skb_outputs`. Each sample is `SKB_OUTPUT_HEADER` bytes
/// `{u64 id; u64 boot_ns; u64 length}` (the call's index in `Plan::skb_outputs`, the time
/// since boot, the bytes asked for), then the skb's first `length` bytes and the perf
/// buffer's padding to 8 bytes.
pub const SKB_OUTPUT_MAP: &str = "rt_skb_output";
pub const SKB_OUTPUT_HEADER: usize = 24;
/// Index of the start time (`elapsed`'s origin, CLOCK_MONOTONIC ns) in the globals map.
pub const GLOBAL_START_NS: u32 = 0;
/// Index of the `-c` command's pid (`cpid`) in the globals map.
pub const GLOBAL_CPID: u32 = 1;
/// A built tool's (`Plan::runtime_params`): index of the `-p` pid (0: every process).
pub const GLOBAL_FILTER_PID: u32 = 2;
/// A built tool's: index of `$#`, then of `$1` … `$MAX_RUNTIME_PARAMS`.
pub const GLOBAL_ARGC: u32 = 3;
/// The positional parameters a built tool can take.
pub const MAX_RUNTIME_PARAMS: u32 = 16;
/// A built tool's: index of its first integer or boolean named parameter (`getopt()`), in
/// the order the script first reads them.
pub const GLOBAL_NAMED: u32 = GLOBAL_ARGC + 1 + MAX_RUNTIME_PARAMS;
/// The named parameters a built tool can take.
pub const MAX_RUNTIME_NAMED: u32 = 16;
/// Entries of the globals map.
pub const GLOBALS: u32 = GLOBAL_NAMED + MAX_RUNTIME_NAMED;
/// How many bytes of events the runtime copies out of the ring buffer per batch.
pub const RINGBUF_BYTES: u32 = 1 << 20;

/// One BPF program, from one attach point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeDef {
    /// The symbol (and section-less program name) in the object.
    pub prog_name: String,
    /// The attach point as the user wrote it, for messages.
    pub display: String,
    pub attach: Attach,
    /// The attach cookie: `attach`'s id in `Plan::probe_names`.
    pub cookie: u64,
    /// More attach points this program serves, each with its cookie (a wildcard's matches).
    pub also: Vec<(Attach, u64)>,
    /// The program may attach all its points with one multi-attach link (kprobe_multi;
    /// uprobe_multi, one per binary) instead of one link each, and is compiled for that (a
    /// `.multi` section). Whether it does, the runtime decides, asking the kernel; where it
    /// does not, the program is loaded as a plain kprobe or uprobe.
    pub multi: bool,
}

impl ProbeDef {
    /// Every attach point this program serves, each with its cookie.
    pub fn points(&self) -> impl Iterator<Item = (&Attach, u64)> {
        std::iter::once((&self.attach, self.cookie)).chain(self.also.iter().map(|(a, c)| (a, *c)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Attach {
    Begin,
    End,
    /// `tracepoint:CATEGORY:EVENT`; `id` is the event's id in tracefs (0: look it up when
    /// attaching).
    Tracepoint { category: String, event: String, id: u64 },
    /// `rawtracepoint:NAME`: the tracepoint's arguments, untranslated (`BPF_RAW_TRACEPOINT_OPEN`).
    RawTracepoint { name: String },
    Interval { period_ns: u64 },
    /// `kprobe:FUNC[+OFFSET]` or, with `ret`, `kretprobe:FUNC`.
    Kprobe { func: String, offset: u64, ret: bool },
    /// `uprobe:PATH:FUNC[+OFFSET]` or `uretprobe:PATH:FUNC`; `offset` is the file offset of
    /// the probed instruction, `func` the function that holds it, `label` what the probe's
    /// name shows after the path (bpftrace's: `FUNC`, `FUNC+16`, an address in decimal,
    /// `cpp:MANGLED`).
    Uprobe { path: String, func: String, label: String, offset: u64, ret: bool },
    /// `usdt:PATH:PROVIDER:NAME` at one of its locations: a uprobe at file offset `offset`,
    /// with the file offset of the probe's semaphore (0 for none), which the kernel raises
    /// while the uprobe is attached.
    Usdt { path: String, provider: String, name: String, offset: u64, semaphore: u64 },
    /// `fentry:FUNC` or, with `ret`, `fexit:FUNC` (BTF trampolines).
    /// `func` is `MODULE:FUNC` for a module's function (libbpf finds it in the module's BTF).
    Fentry { func: String, ret: bool },
    /// A perf event sampled on every CPU: `profile:hz:99`, `software:page-faults:100`, …
    Perf { event: PerfEvent, period: u64, frequency: bool },
    /// `test:NAME` (bpftrace 0.26): run once by `--test` through BPF_PROG_TEST_RUN, as a raw
    /// tracepoint program (as BEGIN is); it passes when it returns 0 and neither calls
    /// `exit()` with a status nor `errorf()`.
    Test { name: String },
    /// `bench:NAME` (bpftrace 0.26): run by `--bench` in timed BPF_PROG_TEST_RUN loops, as an
    /// XDP program (the program type whose test runs repeat and are timed by the kernel).
    Bench { name: String },
    /// `self:signal:SIGUSR1` (bpftrace 0.26): run when rtrace receives the signal.
    Signal { name: String },
    /// `watchpoint:ADDRESS:LENGTH:MODE`: a hardware breakpoint (`PERF_TYPE_BREAKPOINT`) on
    /// `len` bytes at `addr` in the traced process (`-p`, `-c`), on every thread it has when
    /// tracing starts and those it starts later, or without one on every CPU (a kernel
    /// address); `bp_type` is `HW_BREAKPOINT_R|W|X` bits.
    Watchpoint { addr: u64, len: u64, bp_type: u32 },
    /// `iter:NAME[:PIN]`: a BPF iterator (`BPF_TRACE_ITER`, kernel function `bpf_iter_NAME`,
    /// context `struct bpf_iter__NAME`). The runtime reads the iterator to its end and prints
    /// what the program wrote (`bpf_seq_printf`), or pins the link at `pin` (a path under
    /// /sys/fs/bpf) and prints where.
    Iter { name: String, pin: Option<String> },
}

/// `perf_event_attr.bp_type` bits of a watchpoint's mode.
pub const HW_BREAKPOINT_R: u32 = 1;
pub const HW_BREAKPOINT_W: u32 = 2;
pub const HW_BREAKPOINT_X: u32 = 4;

/// A perf event (`perf_event_attr`'s `type` and `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerfEvent {
    pub type_: u32,
    pub config: u64,
}

impl PerfEvent {
    /// `PERF_TYPE_HARDWARE` and `PERF_TYPE_SOFTWARE`.
    pub const HARDWARE: u32 = 0;
    pub const SOFTWARE: u32 = 1;
    /// The CPU clock, which `profile` and `interval` sample.
    pub const CPU_CLOCK: PerfEvent = PerfEvent { type_: PerfEvent::SOFTWARE, config: 0 };
}

/// A user map (`@name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapDef {
    /// `@` or `@name`.
    pub name: String,
    /// The map's symbol in the object.
    pub bpf_name: String,
    /// The key's parts, each 8-byte aligned (a string's length is a multiple of 8).
    pub key: Vec<Scalar>,
    /// The field names of a record key (`@m[(a = 1, b = "x")]`), one per `key` part: the
    /// key prints as a record, `@m[{ .a = 1, .b = x }]`. `None`: the parts are the keys.
    pub key_names: Option<Vec<String>>,
    /// What each key part was written as where the map was first assigned, when that was a
    /// builtin (`comm`), a field (`args.fd`: `fd`) or a call without arguments (`kstack()`):
    /// its name, for the exporter's labels. `None`, or fewer entries: nothing to name it by.
    pub key_labels: Vec<Option<String>>,
    pub value: ValueKind,
    pub max_entries: u32,
    /// Declared `lruhash`/`percpulruhash`: the kernel evicts the least recently used entries
    /// when the map is full.
    pub lru: bool,
}

impl MapDef {
    /// Bytes of the user key (without the bucket index histograms append).
    pub fn user_key_size(&self) -> usize {
        self.key.iter().map(Scalar::size).sum::<usize>().max(8)
    }
    /// Bytes of the BPF map's key: histograms append a u64 bucket index, `tseries()` a slot.
    pub fn bpf_key_size(&self) -> usize {
        self.user_key_size() + if self.value.has_slot_key() { 8 } else { 0 }
    }
    /// Whether the map is per-CPU (aggregations), summed in user space.
    pub fn per_cpu(&self) -> bool {
        self.value.is_aggregation()
    }
}

/// An array of integers held as one value (`(uint8[4])x`, `pton("::1")`, `(int8[])"str"`):
/// `len` elements of `elem_bytes` bytes each, element 0 first. At most 8 bytes in all, it
/// lies in the first bytes of an 8-byte slot (the rest zero) and codegen holds it as an
/// integer; a wider one (`in_memory`) takes its bytes rounded up to 8 and codegen keeps it
/// in memory, as a string. Printed `[1,2,3,4]`, as bpftrace prints arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IntArray {
    pub elem_bytes: u8,
    pub signed: bool,
    pub len: u8,
    /// A `bool[N]` (one byte an element): its elements print `true`/`false` in bpftrace
    /// 0.26's output.
    #[serde(default)]
    pub bools: bool,
    /// A MAC address from `macaddr()` (a `uint8[6]`): printed `18:C0:4D:08:2E:BB`, a string
    /// in JSON.
    #[serde(default)]
    pub mac: bool,
}

impl IntArray {
    /// Bytes of the elements.
    pub fn bytes(&self) -> u32 {
        u32::from(self.elem_bytes) * u32::from(self.len)
    }
    /// Whether the array is wider than the 8-byte slot of a narrow one: codegen keeps it in
    /// memory.
    pub fn in_memory(&self) -> bool {
        self.bytes() > 8
    }
    /// Bytes of the value as it is stored (map keys and values, tuple elements, records).
    pub fn size(&self) -> usize {
        (self.bytes() as usize).max(8).next_multiple_of(8)
    }

    /// The elements of a value's bytes (the slot's first `elem_bytes * len`), each widened
    /// to 64 bits by its signedness.
    pub fn elements(&self, bytes: &[u8]) -> Vec<u64> {
        let n = self.elem_bytes as usize;
        (0..self.len as usize)
            .map(|i| {
                let mut raw = [0u8; 8];
                let part = bytes.get(i * n..(i + 1) * n).unwrap_or(&[]);
                raw[..part.len()].copy_from_slice(part);
                let shift = 64 - 8 * n as u32;
                let v = u64::from_le_bytes(raw) << shift;
                if self.signed {
                    ((v as i64) >> shift) as u64
                } else {
                    v >> shift
                }
            })
            .collect()
    }

    /// The `uint8[6]` of a `macaddr()` value.
    pub const MAC: IntArray = IntArray { elem_bytes: 1, signed: false, len: 6, bools: false, mac: true };
}

/// A MAC address's six bytes as text, upper-case hex separated by colons
/// (`18:C0:4D:08:2E:BB`), as bpftrace 0.26 prints `macaddr()` values.
pub fn mac_text(bytes: &[u8]) -> String {
    let mut raw = [0u8; 6];
    let part = &bytes[..bytes.len().min(6)];
    raw[..part.len()].copy_from_slice(part);
    raw.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Bytes of a `usym()` value.
pub const USYM_SIZE: usize = 16;

/// Bytes of an `ntop()` value: `{ u64 family; u8 addr[16]; }`.
pub const INET_SIZE: usize = 24;

/// What a map holds: a plain value, or an aggregation (a per-CPU map, combined in user
/// space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueKind {
    /// A plain value (`@x = 5`, `@x = comm`, `@x = (1, "a")`), stored as its scalar is in a
    /// record. Sema stores no `ProbeName`, `Usym`, `Buf` or `Enum` value.
    Scalar(Scalar),
    Count,
    /// Printed as unsigned when every summed value is unsigned, as in bpftrace.
    Sum { signed: bool },
    Min,
    Max,
    /// `{ sum: i64, count: u64 }`.
    Avg,
    /// `{ sum: i64, count: u64 }`, printed with count, average and total.
    Stats,
    /// log2 histogram, `2^k` linear buckets per power of two (`hist(n, k)`, k in 0..=5):
    /// one u64 counter per (key, bucket).
    Hist { k: u8 },
    Lhist { min: i64, max: i64, step: i64 },
    /// `tseries(n, interval, intervals[, agg])` (bpftrace 0.26): a ring of `intervals` slots per
    /// key, the slot index appended to the key as a histogram's bucket is: slot
    /// `epoch % intervals` holds the interval `epoch = tai_ns / interval_ns`, as
    /// `{ u64 epoch; i64 value; u64 aux; }`. A slot whose epoch is not the current one is reset
    /// before it is written; `aux` is 0 in a slot never written, else the count of values
    /// (`avg`, `sum`, `min`, `max`) or the time of the last write (last value). Per-CPU: user
    /// space combines the CPUs' slots of the newest epoch.
    TSeries { interval_ns: u64, intervals: u32, agg: TSeriesAgg, signed: bool },
}

/// How `tseries()` combines the values written in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TSeriesAgg {
    /// The last value written (the default).
    Last,
    Avg,
    Max,
    Min,
    Sum,
}

impl TSeriesAgg {
    /// The aggregation named by `tseries()`'s fourth argument.
    pub fn from_name(name: &str) -> Option<TSeriesAgg> {
        Some(match name {
            "avg" => TSeriesAgg::Avg,
            "max" => TSeriesAgg::Max,
            "min" => TSeriesAgg::Min,
            "sum" => TSeriesAgg::Sum,
            _ => return None,
        })
    }
}

/// Bytes of one `tseries()` slot: `{ u64 epoch; i64 value; u64 aux; }`.
pub const TSERIES_SLOT: usize = 24;

/// Most intervals a `tseries()` keeps (bpftrace 0.26: fewer than 1000000).
pub const TSERIES_MAX_INTERVALS: u32 = 1_000_000;

impl ValueKind {
    /// The plain value a map holds, or `None` for an aggregation.
    pub fn scalar(&self) -> Option<Scalar> {
        match self {
            ValueKind::Scalar(s) => Some(*s),
            _ => None,
        }
    }
    pub fn is_aggregation(&self) -> bool {
        self.scalar().is_none()
    }
    pub fn is_histogram(&self) -> bool {
        matches!(self, ValueKind::Hist { .. } | ValueKind::Lhist { .. })
    }
    /// Whether the BPF map's key ends with a u64 index beyond the user's key: a histogram's
    /// bucket, a `tseries()`'s slot.
    pub fn has_slot_key(&self) -> bool {
        self.is_histogram() || matches!(self, ValueKind::TSeries { .. })
    }
    /// Bytes of one value (one CPU's share for per-CPU maps).
    pub fn size(&self) -> usize {
        match self {
            ValueKind::Scalar(s) => s.size(),
            ValueKind::Min | ValueKind::Max | ValueKind::Avg | ValueKind::Stats => 16,
            ValueKind::Count | ValueKind::Sum { .. } | ValueKind::Hist { .. } | ValueKind::Lhist { .. } => 8,
            ValueKind::TSeries { .. } => TSERIES_SLOT,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            ValueKind::Scalar(s) => s.name(),
            ValueKind::Count => "count()",
            ValueKind::Sum { .. } => "sum()",
            ValueKind::Min => "min()",
            ValueKind::Max => "max()",
            ValueKind::Avg => "avg()",
            ValueKind::Stats => "stats()",
            ValueKind::Hist { .. } => "hist()",
            ValueKind::Lhist { .. } => "lhist()",
            ValueKind::TSeries { .. } => "tseries()",
        }
    }
}

/// Largest `k` of `hist(n, k)`.
pub const HIST_MAX_K: u8 = 5;

/// Number of buckets of a log2 histogram with `2^k` buckets per power of two: one for
/// negative values, then (bpftrace's numbering) index `1 + v` for `v < 2^k`, and for larger
/// `v` with highest set bit `l`, `((l - k + 1) << k) + (the k bits after it) + 1`; the largest
/// value, `2^63 - 1`, is in bucket `(64 - k) << k`.
pub fn hist_buckets(k: u8) -> usize {
    ((64 - k as usize) << k) + 1
}

/// Number of buckets of a linear histogram: below min, one per step, at or above max.
pub fn lhist_buckets(min: i64, max: i64, step: i64) -> usize {
    ((max - min) / step) as usize + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{front_end, Cli};
    use clap::Parser;

    /// The plan of a script through the front end, as `rtrace` makes it.
    fn plan_of(script: &str) -> Plan {
        let cli = Cli::try_parse_from(["rtrace", "-e", script]).expect("arguments parse");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        match front_end(&cli, false, &mut out, &mut err) {
            Ok(front) => front.checked.plan,
            Err(status) => panic!("front end failed ({status}): {}", String::from_utf8_lossy(&err)),
        }
    }

    #[test]
    fn plan_round_trips_through_serde() {
        let plan = plan_of(
            r#"BEGIN {
                @count[comm, pid] = count(); @sum = sum(5); @avg[1] = avg(3); @min = min(2); @stats = stats(4);
                @hist = hist(10); @hist2 = hist(10, 2); @lhist["x"] = lhist(3, 0, 10, 1);
                @tuple = (1, "a", comm); @record[(a = 1, b = "x")] = 2; @stack[kstack] = 1;
                @time = strftime("%H:%M", nsecs); @ksym = ksym(0);
                printf("%s %d %s %-5u\n", comm, pid, probe, 7); print((1, "two"));
            }
            interval:s:1 { time("%H\n"); exit(); }
            END { print(@hist); clear(@sum); }"#,
        );
        assert!(plan.maps.len() >= 12 && !plan.printfs.is_empty() && !plan.tuples.is_empty());
        assert!(plan.maps.iter().any(|m| m.value == ValueKind::Hist { k: 2 }));
        assert!(plan.maps.iter().any(|m| matches!(m.value, ValueKind::Scalar(Scalar::Tuple { .. }))));
        // Built tools carry their plan in postcard's form (src/bundle.rs); `--dump plan` and
        // debugging read JSON.
        let bytes = postcard::to_stdvec(&plan).expect("plan serializes");
        assert_eq!(postcard::from_bytes::<Plan>(&bytes).expect("plan deserializes"), plan);
        let json = serde_json::to_string(&plan).expect("plan serializes");
        assert_eq!(serde_json::from_str::<Plan>(&json).expect("plan deserializes"), plan);
    }
}
