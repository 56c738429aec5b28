//! Bytes to values, by the plan: printf arguments, map keys and values, tuple elements. A
//! `Decoder` needs only the plan and the stack maps (for stack ids), so whatever reads maps —
//! the printed output at exit, or anything else at its own pace — decodes them the same way.

use super::layout;
use super::maps::RawEntry;
use super::symbols::{self, Symbols};
use super::tseries;
use super::value::{self, Entry, KeyPart, Value};
use crate::plan::{self, FieldKind, FmtSegment, MapDef, Plan, PrintfDef, Scalar, StructDef, ValueKind};
use std::collections::HashMap;

/// Turns bytes into values by the plan.
pub struct Decoder<'p> {
    plan: &'p Plan,
    symbols: Symbols,
    /// The wall-clock time of boot in nanoseconds (CLOCK_REALTIME − CLOCK_MONOTONIC), to turn
    /// times since boot into dates.
    boot_ns: u64,
    /// The output rtrace prints: 0.17's has no bools (they decode as integers).
    compat: super::Compat,
    /// CLOCK_TAI − CLOCK_REALTIME in nanoseconds, to turn `tseries()`'s TAI times into dates.
    tai_offset_ns: u64,
}

impl<'p> Decoder<'p> {
    /// `stacks`: the maps stack ids point into, by name (`Plan::stack_maps`).
    pub fn new(plan: &'p Plan, stacks: HashMap<String, libbpf_rs::MapHandle>, compat: super::Compat) -> Decoder<'p> {
        let boot_ns = clock_ns(libc::CLOCK_REALTIME).wrapping_sub(clock_ns(libc::CLOCK_MONOTONIC));
        // Whole seconds (leap seconds): the two readings are a few nanoseconds apart.
        let tai_offset = clock_ns(libc::CLOCK_TAI).wrapping_sub(clock_ns(libc::CLOCK_REALTIME)) as i64;
        let tai_offset_ns = ((tai_offset as f64 / 1e9).round() as i64 * 1_000_000_000) as u64;
        Decoder { plan, symbols: Symbols::new(stacks), boot_ns, tai_offset_ns, compat }
    }

    /// A value of `kind` from its bytes (a printf argument, a map value, a tuple element).
    pub fn value(&mut self, kind: Scalar, bytes: &[u8]) -> Value {
        match kind {
            Scalar::Int { signed: true } => Value::Int(read_u64(bytes) as i64),
            Scalar::Int { signed: false } => Value::UInt(read_u64(bytes)),
            Scalar::Bool if self.compat.old() => Value::UInt(u64::from(read_u64(bytes) != 0)),
            Scalar::Bool => Value::Bool(read_u64(bytes) != 0),
            Scalar::Ptr if self.compat.old() => Value::UInt(read_u64(bytes)),
            Scalar::Ptr => Value::Ptr(read_u64(bytes)),
            Scalar::Str { .. } => Value::Str(trailed(bytes, self.trailer())),
            Scalar::Ksym => Value::Str(self.symbols.kernel(read_u64(bytes))),
            Scalar::Named(table) => Value::Str(table.name(read_u64(bytes))),
            Scalar::Enum { id } => match self.plan.enums.get(id as usize) {
                Some(def) => enum_value(def, read_u64(bytes)),
                None => Value::UInt(read_u64(bytes)),
            },
            Scalar::Stack(spec) => Value::Str(self.stack(spec, bytes, symbols::VALUE_INDENT)),
            Scalar::Timestamp(fmt) => Value::Str(self.timestamp(fmt, read_u64(bytes))),
            Scalar::IntArray(a) if a.mac => Value::Str(plan::mac_text(bytes)),
            Scalar::IntArray(a) => Value::Array(
                a.elements(bytes)
                    .into_iter()
                    .map(|v| match a {
                        _ if a.bools && !self.compat.old() => Value::Bool(v != 0),
                        _ if a.signed => Value::Int(v as i64),
                        _ => Value::UInt(v),
                    })
                    .collect(),
            ),
            Scalar::Inet => Value::Str(inet(bytes)),
            Scalar::Struct { id, .. } => match self.plan.structs.get(id as usize) {
                Some(def) => struct_value(def, bytes, self.trailer()),
                None => Value::Record(Vec::new()),
            },
            Scalar::ProbeName => Value::Str(self.plan.probe_names.get(read_u64(bytes) as usize).cloned().unwrap_or_default()),
            Scalar::Usym => Value::Str(self.symbols.user(read_u64(bytes), read_u64(bytes.get(8..).unwrap_or(&[])))),
            Scalar::Buf => Value::Str(escape_buffer(buffer_bytes(bytes))),
            Scalar::Tuple { id, .. } => {
                let plan = self.plan;
                let Some(def) = plan.tuples.get(id as usize) else { return Value::Tuple(Vec::new()) };
                let elems = def.fields.iter().map(|f| {
                    let part = bytes.get(f.offset..f.offset + f.kind.size()).unwrap_or(&[]);
                    self.value(f.kind, part)
                });
                match &def.names {
                    Some(names) => Value::Record(names.iter().cloned().zip(elems).collect()),
                    None => Value::Tuple(elems.collect()),
                }
            }
        }
    }

    /// What follows a string that fills its bytes with no NUL: config `str_trunc_trailer` in
    /// 0.26's output, nothing in 0.17's.
    fn trailer(&self) -> &'p str {
        if self.compat.old() { "" } else { self.plan.str_trunc_trailer.as_str() }
    }

    /// A stored value (a map key or value, `print()`'s) as the output prints it: 0.17's has an
    /// enum's number (printf's `%s` has its name in both).
    pub fn stored(&self, value: Value) -> Value {
        match value {
            Value::Enum { value, .. } if self.compat.old() => Value::UInt(value),
            value => value,
        }
    }

    /// What bpftrace 0.26's `print(@m)` prints for scalar map `def` with no value yet: the
    /// value of all-zero bytes (`None` for a histogram, which prints nothing).
    pub fn zero_value(&mut self, def: &MapDef) -> Option<Value> {
        Some(match def.value {
            ValueKind::Scalar(kind) => self.value(kind, &vec![0; kind.size()]),
            ValueKind::Count | ValueKind::Sum { signed: false } => Value::UInt(0),
            ValueKind::Sum { signed: true } | ValueKind::Min | ValueKind::Max => Value::Int(0),
            ValueKind::Avg => Value::Avg { sum: 0, count: 0 },
            ValueKind::Stats => Value::Stats { sum: 0, count: 0 },
            ValueKind::Hist { .. } | ValueKind::Lhist { .. } | ValueKind::TSeries { .. } => return None,
        })
    }

    /// The arguments of a printf record (header included), by its plan entry.
    pub fn printf_args(&mut self, def: &PrintfDef, record: &[u8]) -> Vec<Value> {
        def.args
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let bytes = record.get(field.offset..field.offset + field.kind.size()).unwrap_or(&[]);
                let hex = def.segments.iter().find_map(|s| match s {
                    FmtSegment::Conv { spec, arg } if *arg == i => spec.hex,
                    _ => None,
                });
                match (field.kind, hex) {
                    (Scalar::Buf, Some(style)) => Value::Str(hex_buffer(buffer_bytes(bytes), style)),
                    _ => self.value(field.kind, bytes),
                }
            })
            .collect()
    }

    /// A map's entries from the kernel's bytes: per-CPU values summed, histogram buckets
    /// gathered per key, keys split into their parts; in key order.
    pub fn entries(&mut self, def: &MapDef, raw: Vec<RawEntry>) -> Vec<Entry> {
        let user_key = def.user_key_size();
        // Histograms: each user key's buckets, in the order keys are first seen.
        let mut hists: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
        let mut hist_of_key: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut entries = Vec::new();
        // tseries(): each user key's intervals and values.
        let mut series: Vec<(Vec<u8>, Vec<(u64, i64)>)> = Vec::new();
        let mut series_of_key: HashMap<Vec<u8>, usize> = HashMap::new();
        for raw_entry in &raw {
            let key = &raw_entry.key;
            match def.value {
                ValueKind::Hist { .. } | ValueKind::Lhist { .. } => {
                    let nbuckets = match def.value {
                        ValueKind::Lhist { min, max, step } => plan::lhist_buckets(min, max, step),
                        ValueKind::Hist { k } => plan::hist_buckets(k),
                        _ => 0,
                    };
                    let (user, bucket) = key.split_at(user_key.min(key.len()));
                    let at = *hist_of_key.entry(user.to_vec()).or_insert_with(|| {
                        hists.push((user.to_vec(), vec![0; nbuckets]));
                        hists.len() - 1
                    });
                    if let Some(b) = hists[at].1.get_mut(read_u64(bucket) as usize) {
                        *b += raw_entry.values().map(read_u64).sum::<u64>();
                    }
                }
                ValueKind::TSeries { agg, .. } => {
                    let user = &key[..user_key.min(key.len())];
                    let at = *series_of_key.entry(user.to_vec()).or_insert_with(|| {
                        series.push((user.to_vec(), Vec::new()));
                        series.len() - 1
                    });
                    series[at].1.extend(tseries::combine(agg, raw_entry));
                }
                ValueKind::Scalar(kind) => {
                    let bytes = raw_entry.values().next().unwrap_or(&[]);
                    let value = self.value(kind, bytes);
                    let value = self.stored(value);
                    entries.push(Entry { key: self.key(def, key), value });
                }
                kind => {
                    if let Some(value) = aggregate(kind, raw_entry) {
                        entries.push(Entry { key: self.key(def, key), value });
                    }
                }
            }
        }
        for (key, buckets) in hists {
            let value = match def.value {
                ValueKind::Lhist { min, max, step } => Value::Lhist { buckets, min, max, step },
                ValueKind::Hist { k } => Value::Hist { buckets, k },
                _ => continue,
            };
            entries.push(Entry { key: self.key(def, &key), value });
        }
        if let ValueKind::TSeries { interval_ns, intervals, signed, .. } = def.value {
            let tai_to_wall = |t: u64| t.wrapping_sub(self.tai_offset_ns);
            for (key, s) in tseries::assemble(series, interval_ns, intervals, !signed, tai_to_wall) {
                entries.push(Entry { key: self.key(def, &key), value: Value::TSeries(s) });
            }
        }
        // Hash order is arbitrary; key order makes ties between equal values come out the same
        // on every run (bpftrace's own order for such ties varies between runs).
        layout::sort_by_key(&mut entries, layout::KeyOrder::Raw);
        entries
    }

    /// A map key's parts (one record part for a record key).
    fn key(&mut self, def: &MapDef, key: &[u8]) -> Vec<KeyPart> {
        let mut parts = Vec::new();
        let mut off = 0;
        for field in &def.key {
            let bytes = key.get(off..off + field.size()).unwrap_or(&[]);
            parts.push(match field {
                // Key stacks are indented less than stacks elsewhere (docs/bpftrace-output.md).
                Scalar::Stack(spec) => KeyPart::Str(self.stack(*spec, bytes, symbols::KEY_INDENT)),
                _ => {
                    let value = self.value(*field, bytes);
                    match self.stored(value) {
                        Value::Int(v) => KeyPart::Int(v),
                        Value::UInt(v) => KeyPart::UInt(v),
                        other => KeyPart::Str(value::scalar_value_text(&other)),
                    }
                }
            });
            off += field.size();
        }
        match &def.key_names {
            Some(names) => vec![KeyPart::Record(names.iter().cloned().zip(parts).collect())],
            None => parts,
        }
    }

    /// A stack value (its stack id, and for a user stack the pid) as bpftrace prints it.
    fn stack(&mut self, spec: plan::StackSpec, bytes: &[u8], indent: usize) -> String {
        let pid = if spec.user { read_u64(bytes.get(8..).unwrap_or(&[])) } else { 0 };
        self.symbols.stack(spec, read_u64(bytes), pid, indent)
    }

    /// A `strftime()` value: `nsecs` since boot, as a local date in format `fmt`.
    fn timestamp(&self, fmt: u32, nsecs: u64) -> String {
        let fmt = self.plan.strftime_formats.get(fmt as usize).map_or("", String::as_str);
        strftime(fmt, self.boot_ns.wrapping_add(nsecs))
    }
}

/// Sums one per-CPU aggregation; `None` for a min/max no CPU has set.
fn aggregate(kind: ValueKind, per_cpu: &RawEntry) -> Option<Value> {
    let ints = |off: usize| per_cpu.values().map(move |v| read_u64(v.get(off..).unwrap_or(&[])));
    Some(match kind {
        ValueKind::Count => Value::UInt(ints(0).sum()),
        ValueKind::Sum { signed: true } => Value::Int(ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64))),
        ValueKind::Sum { signed: false } => Value::UInt(ints(0).fold(0u64, u64::wrapping_add)),
        ValueKind::Stats => Value::Stats {
            sum: ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64)),
            count: ints(8).sum(),
        },
        ValueKind::Avg => Value::Avg {
            sum: ints(0).fold(0i64, |a, b| a.wrapping_add(b as i64)),
            count: ints(8).sum(),
        },
        ValueKind::Min | ValueKind::Max => {
            let set = ints(0).zip(ints(8)).filter(|(_, set)| *set != 0).map(|(v, _)| v as i64);
            let v = if kind == ValueKind::Min { set.min() } else { set.max() };
            Value::Int(v?)
        }
        _ => return None,
    })
}

/// The time of `clock` in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn read_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

/// A wall-clock time (nanoseconds since the epoch) in local time, formatted by strftime(3),
/// with bpftrace's `%f` for the microseconds.
pub fn strftime(fmt: &str, wall_ns: u64) -> String {
    // `%f` is replaced before strftime sees the format (`%%f` stays `%%f`).
    let mut expanded = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => expanded.push_str(&format!("{:06}", wall_ns % 1_000_000_000 / 1000)),
            Some(next) => {
                expanded.push('%');
                expanded.push(next);
            }
            None => expanded.push('%'),
        }
    }
    let Ok(cfmt) = std::ffi::CString::new(expanded.as_str()) else { return String::new() };
    let mut buf = vec![0u8; 256 + expanded.len() * 4];
    let secs = (wall_ns / 1_000_000_000) as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we own; strftime writes at most `buf.len()`
    // bytes into `buf` and returns how many it wrote.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm)
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `%r`: printable ASCII as it is, every other byte as `\xNN`, as bpftrace prints buffers.
fn escape_buffer(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| if (0x20..0x7f).contains(&b) { (b as char).to_string() } else { format!("\\x{b:02x}") })
        .collect()
}

/// A buffer value's bytes: `{ u64 len; u8 data[]; }`.
fn buffer_bytes(bytes: &[u8]) -> &[u8] {
    let n = (read_u64(bytes) as usize).min(bytes.len().saturating_sub(8));
    &bytes[8.min(bytes.len())..8 + n]
}

/// `%rx`: every byte as `\xNN`; `%rh`: every byte as `NN`, separated by spaces (bpftrace 0.26).
fn hex_buffer(bytes: &[u8], style: char) -> String {
    let hex = bytes.iter().map(|b| if style == 'x' { format!("\\x{b:02x}") } else { format!("{b:02x}") });
    hex.collect::<Vec<_>>().join(if style == 'x' { "" } else { " " })
}

/// An `ntop()` value as text: `{ u64 family; u8 addr[16]; }`.
fn inet(bytes: &[u8]) -> String {
    let family = read_u64(bytes);
    let addr = bytes.get(8..24).unwrap_or(&[]);
    match (family, addr.len()) {
        (2, 16) => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        (10, 16) => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(addr);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => String::new(),
    }
}


/// A value of kernel enum `def` (its low `size` bytes): its enumerator's name, or its number
/// when none has it, as bpftrace prints an unknown value; JSON writes the number.
fn enum_value(def: &plan::EnumDef, v: u64) -> Value {
    let value = v & (u64::MAX >> (64 - 8 * def.size.clamp(1, 8)));
    Value::Enum { name: def.text(v), value }
}

/// A copy of a kernel struct's bytes as bpftrace 0.26 prints a record (src/types_format.cpp):
/// each member by its kind; a char array that fills its bytes with no NUL gets `trailer`.
fn struct_value(def: &StructDef, bytes: &[u8], trailer: &str) -> Value {
    let fields = def.fields.iter().map(|f| (f.name.clone(), field_value(&f.kind, bytes, f.offset_bits, trailer)));
    Value::Record(fields.collect())
}

/// A struct member of `kind` at bit `offset_bits` of `bytes` (bytes past the end read as 0).
fn field_value(kind: &FieldKind, bytes: &[u8], offset_bits: u32, trailer: &str) -> Value {
    let start = (offset_bits / 8) as usize;
    let at = |len: usize| -> &[u8] { bytes.get(start..).map_or(&[][..], |b| &b[..len.min(b.len())]) };
    match kind {
        FieldKind::Int { size, signed, bits } => {
            let (shift, width) = match bits {
                Some(bits) => (offset_bits % 8, u32::from(*bits)),
                None => (0, size * 8),
            };
            let raw = read_u64(at(8)) >> shift;
            let width = width.clamp(1, 64);
            let cut = if width == 64 { raw } else { raw & ((1u64 << width) - 1) };
            match signed {
                true => Value::Int(((cut << (64 - width)) as i64) >> (64 - width)),
                false => Value::UInt(cut),
            }
        }
        FieldKind::Ptr => Value::Ptr(read_u64(at(8))),
        FieldKind::Chars { len } => {
            let chars = at(*len as usize);
            match chars.len() == *len as usize {
                true => Value::Str(trailed(chars, trailer)),
                false => Value::Str(c_string(chars)),
            }
        }
        FieldKind::Enum(e) => enum_value(e, read_u64(at(8))),
        FieldKind::Array { elem, stride, len } => Value::Array(
            (0..*len).map(|i| field_value(elem, bytes, offset_bits + i * stride * 8, trailer)).collect(),
        ),
        FieldKind::Record(def) => {
            let inner = bytes.get(start..).unwrap_or(&[]);
            struct_value(def, inner, trailer)
        }
    }
}
/// A string's bytes as bpftrace 0.26 prints them (src/types_format.cpp): up to the first NUL,
/// or all of them followed by `trailer` when they hold no NUL (a string cut where its value
/// ends).
fn trailed(bytes: &[u8], trailer: &str) -> String {
    let mut s = c_string(bytes);
    if !bytes.is_empty() && !bytes.contains(&0) {
        s.push_str(trailer);
    }
    s
}

/// The text of a NUL-padded buffer, up to its first NUL.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_microseconds() {
        assert_eq!(strftime("%f", 1_234_567_890), "234567");
        assert_eq!(strftime("%f|%%f|%", 5_000_001_000), "000001|%f|%");
    }

    /// Members as bpftrace 0.26's types_format.cpp reads them: a signed bitfield extends its
    /// sign, an enum value no enumerator has is its number, a char array with no NUL gets the
    /// trailer, an array of records is read element by element.
    #[test]
    fn struct_members() {
        let field = |name: &str, offset_bits: u32, kind: FieldKind| plan::StructField { name: name.into(), offset_bits, kind };
        let pair = StructDef { fields: vec![field("x", 0, FieldKind::Int { size: 1, signed: false, bits: None })] };
        let e = plan::EnumDef { name: "e".into(), size: 4, signed: false, values: vec![(1, "ONE".into())] };
        let def = StructDef {
            fields: vec![
                field("lo", 0, FieldKind::Int { size: 1, signed: true, bits: Some(3) }),
                field("hi", 3, FieldKind::Int { size: 1, signed: false, bits: Some(5) }),
                field("s", 8, FieldKind::Chars { len: 2 }),
                field("t", 32, FieldKind::Chars { len: 2 }),
                field("e", 48, FieldKind::Enum(e.clone())),
                field("f", 80, FieldKind::Enum(e)),
                field("a", 112, FieldKind::Array { elem: Box::new(FieldKind::Record(pair)), stride: 1, len: 2 }),
                field("p", 128, FieldKind::Ptr),
            ],
        };
        let mut bytes = vec![0b0101_0111u8, b'a', b'b', 0, b'c', 0, 1, 0, 0, 0, 7, 0, 0, 0, 5, 6];
        bytes.extend(16u64.to_le_bytes());
        let text = value::scalar_value_text(&struct_value(&def, &bytes, ".."));
        assert_eq!(text, "{ .lo = -1, .hi = 10, .s = ab.., .t = c, .e = ONE, .f = 7, .a = [{ .x = 5 },{ .x = 6 }], .p = 0x10 }");
    }
}
