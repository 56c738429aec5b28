//! The ring buffer's records: what each event kind asks of user space (print a record's text,
//! run a command, clear a map, …), done as the record is read, in order with the rest.

use super::output::json;
use super::{child, clock_ns, decode, printf, symbols};
use crate::plan::{self, EventKind, Plan};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// What the ring-buffer callback shares with the event loop.
pub(super) struct Shared {
    pub out: std::io::BufWriter<Box<dyn Write>>,
    /// `-f json`.
    pub json: bool,
    pub exit_code: Option<i32>,
    /// Map operations events asked for, done between ring-buffer reads (they need the object).
    pub actions: Vec<MapAction>,
    pub symbols: symbols::Symbols,
    /// Lost events already reported.
    pub lost_reported: u64,
}

impl Shared {
    /// Writes an event's text, or with `-f json` its JSON line of type `kind`.
    fn write_event(&mut self, kind: &str, text: String) {
        let text = if self.json { json::line(kind, serde_json::Value::String(text)) } else { text };
        let _ = self.out.write_all(text.as_bytes());
    }
}

/// Reports the events lost since the last report (the ring buffer was full): `Lost N events`
/// on stderr, or with `-f json` a `lost_events` line in the output.
pub(super) fn report_lost(s: &mut Shared, total: u64) {
    if total <= s.lost_reported {
        return;
    }
    let n = total - s.lost_reported;
    s.lost_reported = total;
    if s.json {
        let _ = s.out.write_all(json::line("lost_events", serde_json::json!({ "events": n })).as_bytes());
    } else {
        let _ = s.out.flush();
        eprintln!("Lost {n} events");
    }
}

pub(super) enum MapAction {
    Clear(usize),
    Zero(usize),
    /// Map index, top, div.
    Print(usize, u64, u64),
}

pub(super) fn handle_event(plan: &Plan, shared: &Rc<RefCell<Shared>>, data: &[u8]) -> i32 {
    let mut s = shared.borrow_mut();
    if s.exit_code.is_some() {
        // After exit(), other probes' events are dropped, as in bpftrace.
        return 0;
    }
    if data.len() < plan::EVENT_HEADER {
        return 0;
    }
    let kind = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let id = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    match EventKind::from_u32(kind) {
        Some(EventKind::Printf) => {
            if let Some(def) = plan.printfs.get(id as usize) {
                let text = printf::format(def, data, &plan.tuples, &mut s.symbols);
                s.write_event("printf", text);
            }
        }
        Some(EventKind::System) => {
            if let Some(def) = plan.printfs.get(id as usize) {
                let command = printf::format(def, data, &plan.tuples, &mut s.symbols);
                let _ = s.out.flush();
                // The command's output goes where the script's does, in order with it.
                match child::system(&command) {
                    Ok(output) => s.write_event("system", String::from_utf8_lossy(&output).into_owned()),
                    Err(e) => eprintln!("error: system(\"{command}\"): {e}"),
                }
            }
        }
        Some(EventKind::PrintValue) => {
            let Some(def) = plan.printfs.get(id as usize) else { return 0 };
            if s.json {
                let Some(field) = def.args.first() else { return 0 };
                let bytes = data.get(field.offset..field.offset + field.kind.size()).unwrap_or(&[]);
                let value = decode::decode(field.kind, bytes, &plan.tuples, &mut s.symbols);
                let text = json::line("value", json::value_json(&value));
                let _ = s.out.write_all(text.as_bytes());
            } else {
                let text = printf::format(def, data, &plan.tuples, &mut s.symbols);
                let _ = s.out.write_all(text.as_bytes());
            }
        }
        Some(EventKind::Time) => {
            if let Some(fmt) = plan.time_formats.get(id as usize) {
                s.write_event("time", decode::strftime(fmt, clock_ns(libc::CLOCK_REALTIME)));
            }
        }
        Some(EventKind::Cat) => {
            if let Some(path) = plan.cat_paths.get(id as usize) {
                match std::fs::read(path) {
                    Ok(bytes) => s.write_event("cat", String::from_utf8_lossy(&bytes).into_owned()),
                    Err(e) => eprintln!("error: cat(\"{path}\"): {e}"),
                }
            }
        }
        Some(EventKind::Join) => {
            let sep = plan.join_separators.get(id as usize).map_or(" ", String::as_str);
            let strings: Vec<String> = data[plan::EVENT_HEADER..]
                .chunks(plan::JOIN_ARG_LEN)
                .map(decode::c_string)
                .take_while(|s| !s.is_empty())
                .collect();
            s.write_event("join", format!("{}\n", strings.join(sep)));
        }
        Some(EventKind::Exit) => s.exit_code = Some(id as i32),
        Some(EventKind::Clear) => {
            s.actions.push(MapAction::Clear(id as usize));
            return -1;
        }
        Some(EventKind::Zero) => {
            s.actions.push(MapAction::Zero(id as usize));
            return -1;
        }
        Some(EventKind::PrintMap) => {
            let arg = |i: usize| data.get(plan::EVENT_HEADER + 8 * i..).map_or(0, decode::read_u64);
            s.actions.push(MapAction::Print(id as usize, arg(0), arg(1)));
            return -1;
        }
        None => {}
    }
    0
}
