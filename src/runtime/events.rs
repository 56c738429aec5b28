//! The ring buffer's records: the callback that copies them out (`Records`), and what each
//! record asks of user space (`Event`): text to print, a command to run, a map to clear or
//! print, the end of the run. The session does what they ask, in the order they came.

use super::decode::{self, Decoder};
use super::printf;
use super::value::Value;
use crate::plan::{self, EventKind, Plan, PrintfDef};

/// A batch ends once it holds this many bytes, so that a flood of events cannot grow it
/// without bound (the ring buffer's own size).
const BATCH_BYTES: usize = plan::RINGBUF_BYTES as usize;

/// Records the ring buffer's callback copied out, handled once `consume` has returned:
/// handling one may need the whole session (a map to print, the output to flush).
#[derive(Default)]
pub struct Records {
    bytes: Vec<u8>,
    /// Where each record ends in `bytes`.
    ends: Vec<usize>,
}

impl Records {
    /// The ring buffer's callback: keeps a copy of `record`. A full batch returns -1, which
    /// ends the ring buffer's `consume` after this record (the record is kept).
    pub fn push(&mut self, record: &[u8]) -> i32 {
        self.bytes.extend_from_slice(record);
        self.ends.push(self.bytes.len());
        if self.bytes.len() >= BATCH_BYTES {
            -1
        } else {
            0
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The records, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.bytes[start..end])
    }

    /// Empties the batch, keeping its memory for the next.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// What one record asks of user space.
pub enum Event<'p> {
    /// Text to print (`printf`, `time()`, `join()`), with its JSON type.
    Text { kind: &'static str, text: String },
    /// `system()`: the command to run, whose output is printed.
    System(String),
    /// `errorf()`, `warnf()` (`warning`), `assert()`: text for standard error.
    Message { text: String, warning: bool },
    /// `print(value)`: the value's format and its decoded arguments.
    Value { def: &'p PrintfDef, args: Vec<Value> },
    /// `cat()`: the file to print.
    Cat(String),
    /// `exit()`, with the exit status.
    Exit(i32),
    /// `clear(@map)`, by the map's index in the plan.
    Clear(usize),
    /// `zero(@map)`.
    Zero(usize),
    /// `print(@map, top, div)`.
    PrintMap { map: usize, top: u64, div: u64 },
    /// `unwatch(addr)`.
    Unwatch(u64),
}

impl<'p> Event<'p> {
    /// A record (`{u32 kind; u32 id; args…}`, laid out by the plan) as an event; `None` for a
    /// record too short, or of a kind or id the plan does not have.
    pub fn read(plan: &'p Plan, decoder: &mut Decoder, record: &[u8]) -> Option<Event<'p>> {
        let header = record.get(..plan::EVENT_HEADER)?;
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let id = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let index = id as usize;
        let mut printf = || plan.printfs.get(index).map(|def| printf::format(def, &decoder.printf_args(def, record)));
        Some(match EventKind::from_u32(kind)? {
            EventKind::Printf => Event::Text { kind: "printf", text: printf()? },
            EventKind::System => Event::System(printf()?),
            EventKind::Message => {
                let warning = plan.printfs.get(index)?.warning;
                Event::Message { text: printf()?, warning }
            }
            EventKind::PrintValue => {
                let def = plan.printfs.get(index)?;
                let args = decoder.printf_args(def, record).into_iter().map(|v| decoder.stored(v)).collect();
                Event::Value { def, args }
            }
            EventKind::Time => {
                let fmt = plan.time_formats.get(index)?;
                Event::Text { kind: "time", text: decode::strftime(fmt, decode::clock_ns(libc::CLOCK_REALTIME)) }
            }
            EventKind::Cat => Event::Cat(plan.cat_paths.get(index)?.clone()),
            EventKind::CatFormat => Event::Cat(printf()?),
            EventKind::Join => {
                let sep = plan.join_separators.get(index).map_or(" ", String::as_str);
                let strings: Vec<String> = record[plan::EVENT_HEADER..]
                    .chunks(plan::JOIN_ARG_LEN)
                    .map(decode::c_string)
                    .take_while(|s| !s.is_empty())
                    .collect();
                Event::Text { kind: "join", text: format!("{}\n", strings.join(sep)) }
            }
            EventKind::Exit => Event::Exit(id as i32),
            EventKind::Clear => Event::Clear(index),
            EventKind::Zero => Event::Zero(index),
            EventKind::ReadError => {
                let arg = |at: usize| record.get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let ret = record.get(plan::EVENT_HEADER + 8..).map_or(0, decode::read_u64) as i64;
                let (start, end) = (arg(plan::EVENT_HEADER) as usize, arg(plan::EVENT_HEADER + 4) as usize);
                Event::Message { text: read_error(plan.source.as_ref()?, id, start, end, ret), warning: true }
            }
            EventKind::PrintMap => {
                let arg = |i: usize| record.get(plan::EVENT_HEADER + 8 * i..).map_or(0, decode::read_u64);
                Event::PrintMap { map: index, top: arg(0), div: arg(1) }
            }
            EventKind::Unwatch => Event::Unwatch(decode::read_u64(record.get(plan::EVENT_HEADER..)?)),
        })
    }
}

/// `-k`'s warning for a failed read by helper `helper` at `start..end`, as bpftrace 0.26's
/// docs show it (language.md "Address Spaces", man/adoc/bpftrace.adoc `-k`): the place, the
/// helper, the error's message and the helper's return, then the line with `~` under the
/// expression. (v0.26.0's src/output/text.cpp words it otherwise: the docs win.)
fn read_error(source: &plan::SourceText, helper: u32, start: usize, end: usize, ret: i64) -> String {
    use libbpf_rs::libbpf_sys as sys;
    let name = match helper {
        sys::BPF_FUNC_probe_read_user => "probe_read_user",
        sys::BPF_FUNC_probe_read_kernel => "probe_read_kernel",
        sys::BPF_FUNC_probe_read_user_str => "probe_read_user_str",
        sys::BPF_FUNC_probe_read_kernel_str => "probe_read_kernel_str",
        sys::BPF_FUNC_map_lookup_elem => "map_lookup_elem",
        _ => "helper",
    };
    let (place, [line, marker]) = source.place(start, end);
    if helper == sys::BPF_FUNC_map_lookup_elem {
        // v0.26.0's src/output/text.cpp's words (the docs show none), without its
        // `Additional Info` line, as for the reads above.
        return format!("{place}: WARNING: Can't lookup map element because it does not exist.\n{line}\n{marker}\n");
    }
    let message = crate::kernel::names::NameTable::Errno.name(ret.unsigned_abs());
    format!("{place}: WARNING: Failed to {name}: {message} ({ret})\n{line}\n{marker}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_order_and_bounds() {
        let mut records = Records::default();
        assert!(records.is_empty());
        assert_eq!(records.push(b"ab"), 0);
        assert_eq!(records.push(b""), 0);
        assert_eq!(records.push(b"cde"), 0);
        assert_eq!(records.iter().collect::<Vec<_>>(), [&b"ab"[..], b"", b"cde"]);
        records.clear();
        assert!(records.is_empty());
        // A batch is full past the ring buffer's size.
        assert_eq!(records.push(&vec![0; BATCH_BYTES]), -1);
    }
}
