//! A run's session: the loaded object, the links of its attached probes, the ring buffer and
//! the output, owned by one value whose steps `runtime::run` calls in order. Tracing ends on
//! `exit()`, a signal, the watched process's exit, or an output that cannot be written (see
//! `signals`); then `stop_probes` stops every probe at once (the slow part of detaching goes to
//! a background child, see `child::detach_in_background`), so nothing later can crowd END's
//! output out of the ring buffer. Dropping the session closes the output and detaches what is
//! still attached, whichever way the run ends.

use super::decode::{self, Decoder};
use super::events::{Event, Records};
use super::layout::{self, MapKind};
use super::output::Output;
use super::value::Entry;
use super::{attach, child, load, maps, pcap, signals};
use super::{Failure, Result, RuntimeError};
use crate::plan::{self, Attach, Plan};
use libbpf_rs::{MapCore, MapHandle, Object, ProgramInput, RingBuffer, RingBufferBuilder};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

mod iter;
mod special;

pub struct Session<'p> {
    plan: &'p Plan,
    out: Box<dyn Output>,
    /// The attached probes' links, detached when the session is dropped.
    links: attach::Links,
    ringbuf: RingBuffer<'static>,
    /// What the ring buffer's callback copied out, waiting to be handled.
    records: Rc<RefCell<Records>>,
    /// The user maps, by their index in `plan.maps` (`None`: not in the object).
    maps: Vec<Option<MapHandle>>,
    /// The lost-events counter (`plan::LOST_GLOBAL`), in `object`'s memory.
    lost: Option<maps::MappedCounter>,
    /// The counters of new entries full user maps refused (`plan::MAP_FULL_MAP`).
    map_full: Option<MapHandle>,
    decoder: Decoder<'p>,
    /// Set by `exit()`: the exit status; later events are dropped, as in bpftrace.
    exit: Option<i32>,
    /// Lost events already reported.
    lost_reported: u64,
    /// The first write that failed (not a closed pipe: that ends the run like a signal).
    output_error: Option<std::io::Error>,
    /// The most bytes `cat()` prints of a file.
    pub max_cat_bytes: usize,
    /// Which bpftrace's output this is.
    compat: super::Compat,
    /// `--no-warnings`: `warnf()` and the warning of a full map are not printed.
    no_warnings: bool,
    /// While a `test:` or `bench:` probe runs: what it prints, kept instead of printed.
    capture: Option<special::Capture>,
    /// `skboutput()`'s perf buffer and pcap files, when the programs call it.
    skb: Option<pcap::SkbOutput>,
    object: Object,
}

impl<'p> Session<'p> {
    /// Loads the object into the kernel and prepares what reading it needs: the ring buffer
    /// and handles of the maps.
    /// `dw_rows`: the rows of `dw_ustack`'s unwind table (`Session::fill_unwind`), 0 if none.
    pub fn load(object: &[u8], plan: &'p Plan, out: Box<dyn Output>, opts: &super::Options, dw_rows: u32) -> Result<Session<'p>> {
        let settings = load::Settings {
            verbose: opts.verbose,
            no_attach: opts.no_attach,
            btf: opts.btf.as_deref(),
            no_warnings: opts.no_warnings,
            dw_rows,
        };
        let object = load::load(object, plan, &settings)?;
        let mut by_name: HashMap<String, libbpf_rs::Map> =
            object.maps().map(|m| (m.name().to_string_lossy().into_owned(), m)).collect();
        let mut handle = |name: &str| by_name.remove(name).and_then(|m| MapHandle::try_from(&m).ok());
        let maps = plan.maps.iter().map(|def| handle(&def.bpf_name)).collect();
        let lost = maps::MappedCounter::find(&object, plan::LOST_SECTION);
        let map_full = handle(plan::MAP_FULL_MAP);
        let mut stacks = HashMap::new();
        for name in plan.stack_maps() {
            let map = handle(&name).ok_or_else(|| missing_map(&name))?;
            stacks.insert(name, map);
        }
        let records = Rc::new(RefCell::new(Records::default()));
        let ringbuf = ring_buffer(&object, records.clone())?;
        // A dry run writes no packets: it creates (truncates) no pcap file either.
        let skb = match opts.dry_run {
            true => None,
            false => pcap::SkbOutput::open(&object, plan, (plan.ringbuf_bytes / 4096) as usize)?,
        };
        Ok(Session {
            plan,
            out,
            links: attach::Links::default(),
            ringbuf,
            records,
            maps,
            lost,
            map_full,
            decoder: Decoder::new(plan, stacks, opts.compat),
            exit: None,
            lost_reported: 0,
            output_error: None,
            max_cat_bytes: 10240,
            compat: opts.compat,
            no_warnings: opts.no_warnings,
            capture: None,
            skb,
            object,
        })
    }

    /// Writes `dw_ustack`'s unwind tables (`runtime/unwind.rs`) into their maps.
    #[cfg(feature = "compiler")]
    pub fn fill_unwind(&self, tables: &super::unwind::Tables) -> Result<()> {
        let fail = |e: libbpf_rs::Error| RuntimeError::new(format!("cannot load dw_ustack's unwind tables: {e}"));
        let map = |name: &str| self.object.maps().find(|m| m.name() == name);
        if let Some(rows) = map(plan::DW_ROWS_MAP) {
            for (i, row) in tables.rows.iter().enumerate() {
                rows.update(&(i as u32).to_le_bytes(), &row.bytes(), libbpf_rs::MapFlags::ANY).map_err(fail)?;
            }
        }
        if let Some(pids) = map(plan::DW_PIDS_MAP) {
            for &(pid, first, count) in tables.pids.iter() {
                let value = [first.to_le_bytes(), count.to_le_bytes()].concat();
                pids.update(&pid.to_le_bytes(), &value, libbpf_rs::MapFlags::ANY).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Fills what the programs read before they run: the `-c` command's pid (`cpid`), the start
    /// time (`elapsed`), `globals` and `str_globals` (a built tool's `-p` and parameters), and
    /// the parameters of programs shared by probes that differ in them.
    pub fn set_up(&mut self, cpid: Option<u32>, globals: &[(u32, u64)], str_globals: &[(u32, String)]) -> Result<()> {
        for &(index, value) in globals {
            self.set_global(index, value)?;
        }
        for (index, text) in str_globals {
            self.set_str_global(*index, text)?;
        }
        if let Some(pid) = cpid {
            self.set_global(plan::GLOBAL_CPID, pid as u64)?;
        }
        if self.plan.uses_elapsed {
            self.set_global(plan::GLOBAL_START_NS, decode::clock_ns(libc::CLOCK_MONOTONIC))?;
        }
        self.set_params()
    }

    /// Attaches every probe; `watched`: where watchpoints watch.
    pub fn attach(&mut self, watched: attach::Watched) -> Result<()> {
        let attached = attach::attach_all(&self.object, self.plan, watched, &mut self.links);
        self.links.classify();
        attached
    }

    /// Says how many probes are attached (`Attaching N probes...`).
    pub fn announce(&mut self) {
        let probes = self.probe_count();
        self.emit(|out| out.attached(probes));
    }

    /// With `__BPFTRACE_NOTIFY_PROBES_ATTACHED` set (`notify`), prints that line once every
    /// probe is attached (the test runner waits for it).
    pub fn notify_attached(&mut self, notify: bool) {
        if notify {
            self.emit(|out| {
                out.sink().write("__BPFTRACE_NOTIFY_PROBES_ATTACHED\n")?;
                out.sink().flush()
            });
        }
    }

    /// The loaded object, for what reads its maps and programs through handles of its own
    /// (the exporter's threads).
    #[cfg_attr(not(feature = "exporter"), allow(dead_code))]
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// The attach points of the program's probes (`test:` and `bench:` probes aside, which
    /// only `--test` and `--bench` run).
    pub fn probe_count(&self) -> usize {
        self.plan.probes.iter().filter(|p| !special::test_or_bench(&p.attach)).map(|p| 1 + p.also.len()).sum()
    }

    /// Runs the BEGIN probes and prints what they sent.
    pub fn run_begin(&mut self) -> Result<()> {
        self.run_probes(&Attach::Begin)?;
        self.drain();
        Ok(())
    }

    /// Prints events as they come until `exit()`, a stop request (a signal or a closed output,
    /// `signals::stop_requested`), or the exit of the watched process (`exited`, a pidfd).
    /// Programs with only BEGIN and END probes end at once, unless a process is watched or a
    /// `watcher` (the live view) runs until told to stop; it is woken after each batch and at
    /// least as often as it asks. Each batch of events is bounded, so a flood of them (even one
    /// rtrace's own writes feed) never keeps the loop from seeing a stop request; lost events
    /// are reported at least once a second.
    pub fn trace(&mut self, exited: Option<&OwnedFd>, mut watcher: Option<&mut dyn Watcher>) -> Result<()> {
        let only_begin_end =
            self.plan.probes.iter().all(|p| matches!(p.attach, Attach::Begin | Attach::End) || special::test_or_bench(&p.attach));
        if (only_begin_end && exited.is_none() && watcher.is_none()) || self.exit.is_some() {
            return Ok(());
        }
        if let Some((name, pin)) = self.iter_probe() {
            let (name, pin) = (name.to_string(), pin.map(str::to_string));
            return self.run_iter(&name, pin.as_deref());
        }
        // A watched process that exits ends tracing like a signal does; -1 is ignored by poll.
        let mut fds = [
            libc::pollfd { fd: self.ringbuf.epoll_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: signals::wake_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: exited.map_or(-1, |fd| fd.as_raw_fd()), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: signals::usr1_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.skb.as_ref().map_or(-1, |c| c.epoll_fd()), events: libc::POLLIN, revents: 0 },
        ];
        while !signals::stop_requested() {
            let timeout = watcher.as_ref().map_or(1000, |w| w.timeout_ms().clamp(0, 1000));
            // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if rc < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(RuntimeError::new(format!("poll failed: {err}")));
            }
            if fds[0].revents != 0 {
                self.drain_batch();
                if self.exit.is_some() {
                    return Ok(());
                }
            } else if rc == 0 {
                self.report_lost();
            }
            if fds[2].revents != 0 {
                return Ok(());
            }
            if fds[4].revents != 0 {
                self.drain_skb();
            }
            if fds[3].revents != 0 && signals::take_usr1() > 0 {
                self.run_signal_probes()?;
            }
            if let Some(w) = watcher.as_deref_mut() {
                if !w.wake(self) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Map `index`'s entries, decoded (`None`: not in the object), in key order.
    pub fn map_entries(&mut self, index: usize) -> Option<Vec<Entry>> {
        let (Some(def), Some(Some(map))) = (self.plan.maps.get(index), self.maps.get(index)) else { return None };
        Some(self.decoder.entries(def, maps::read_raw(map, def)))
    }

    /// `clear()` on every map.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn clear_maps(&mut self) {
        for (def, map) in self.plan.maps.iter().zip(&self.maps) {
            if let Some(map) = map {
                maps::clear(map, def);
            }
        }
    }

    /// Stops every probe at once: no event comes after this. Perf-event probes are disabled
    /// here and released by a background child (their release is slow); the others are
    /// detached now. Then prints what the ring buffer still holds.
    pub fn stop_probes(&mut self) {
        let links = self.links.take();
        child::detach_in_background(links, self.out.sink().raw_fd());
        self.drain();
    }

    /// Whether `exit()` has ended the run.
    pub fn exited(&self) -> bool {
        self.exit.is_some()
    }

    /// Runs the END probes, with events handled again whatever stopped tracing, and prints
    /// what they sent.
    pub fn run_end(&mut self) -> Result<()> {
        let before = self.exit.take();
        self.run_probes(&Attach::End)?;
        self.drain();
        self.exit = self.exit.or(before);
        Ok(())
    }

    /// Prints every map, in bpftrace's order.
    pub fn print_maps(&mut self) {
        if signals::hurry() {
            return;
        }
        // bpftrace separates the maps from the trace output by two empty lines; rtrace does
        // too, but only when the program has maps (docs/differences.md).
        if !self.plan.maps.is_empty() {
            self.emit(|out| out.end());
        }
        for index in layout::map_order(self.plan.maps.iter().map(|m| m.name.as_str())) {
            if signals::hurry() {
                break;
            }
            if let Some(map) = self.print_map(index, 0, 0, true) {
                // rtrace exits next: freeing a million entries one by one took 1.5 s
                // (BENCHMARKS.md), and the exit frees them at once.
                std::mem::forget(map);
            }
        }
        self.emit(|out| out.sink().flush());
    }

    /// Reports the events lost since the last report, and returns the exit status: 1 when the
    /// output could not be written (said on standard error). Dropping the session then closes
    /// the output and detaches what is still attached.
    pub fn finish(mut self) -> i32 {
        self.report_lost();
        self.report_map_full();
        if let Some(Err(e)) = self.skb.take().map(pcap::SkbOutput::close) {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return 1;
        }
        if let Some(e) = &self.output_error {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
            return 1;
        }
        self.exit.unwrap_or(0)
    }

    /// Handles every record the ring buffer holds (once the probes are stopped, a bounded
    /// amount), unless a second signal asks to hurry.
    fn drain(&mut self) {
        while self.drain_batch() && !signals::hurry() {}
        self.drain_skb();
    }

    /// Writes `skboutput()`'s packets to their pcap files; samples the kernel dropped count
    /// as lost events, as in bpftrace.
    fn drain_skb(&mut self) {
        let lost = self.skb.as_mut().map_or(0, pcap::SkbOutput::consume);
        if lost > 0 {
            self.emit(|out| out.lost(lost));
        }
    }

    /// Handles one batch of records (at most the ring buffer's size), in order, then reports
    /// lost events and ends the batch. Returns whether there was anything to handle.
    fn drain_batch(&mut self) -> bool {
        let _ = self.ringbuf.consume();
        let mut records = std::mem::take(&mut *self.records.borrow_mut());
        let any = !records.is_empty();
        for record in records.iter() {
            if signals::hurry() {
                break;
            }
            self.handle(record);
        }
        // The batch's memory goes back for the next one.
        records.clear();
        *self.records.borrow_mut() = records;
        self.report_lost();
        self.emit(|out| out.sink().end_batch());
        any
    }

    fn handle(&mut self, record: &[u8]) {
        if self.exit.is_some() {
            // After exit(), other probes' events are dropped, as in bpftrace.
            return;
        }
        let Some(event) = Event::read(self.plan, &mut self.decoder, record) else { return };
        let event = match &mut self.capture {
            Some(capture) => match capture.keep(event) {
                Some(event) => event,
                None => return,
            },
            None => event,
        };
        match event {
            Event::Text { kind, text } => {
                self.emit(|out| out.event(kind, &text));
            }
            Event::System(command) => {
                // The command's output goes where the script's does, in order with it.
                self.emit(|out| out.sink().flush());
                match child::system(&command) {
                    Ok(output) => {
                        self.emit(|out| out.event("system", &String::from_utf8_lossy(&output)));
                    }
                    Err(e) => eprintln!("error: system(\"{command}\"): {e}"),
                }
            }
            Event::Message { warning: true, .. } if self.no_warnings => {}
            Event::Message { text, .. } => {
                self.emit(|out| out.message(&text));
            }
            Event::Value { def, args } => {
                self.emit(|out| out.value(def, &args));
            }
            Event::Cat(path) => match child::read_file(&path, self.max_cat_bytes) {
                Ok(bytes) => {
                    self.emit(|out| out.event("cat", &String::from_utf8_lossy(&bytes)));
                }
                Err(e) => eprintln!("error: cat(\"{path}\"): {e}"),
            },
            Event::Exit(code) => self.exit = Some(code),
            Event::Clear(index) => {
                if let (Some(def), Some(Some(map))) = (self.plan.maps.get(index), self.maps.get(index)) {
                    maps::clear(map, def);
                }
            }
            Event::Zero(index) => {
                if let (Some(def), Some(Some(map))) = (self.plan.maps.get(index), self.maps.get(index)) {
                    maps::zero(map, def);
                }
            }
            Event::PrintMap { map, top, div } => {
                self.print_map(map, top, div, self.compat.old());
            }
            // Dropping the links takes the program off the breakpoints now.
            Event::Unwatch(addr) => drop(self.links.unwatch(addr)),
        }
    }

    /// Prints map `index` as `print(@map, top, div)` does (0: every entry, values as they are),
    /// and returns what it printed. Unless `empty_scalars`, an empty scalar map prints its
    /// zero value (`@a: 0`), as bpftrace 0.26's `print()` does; at exit it prints nothing.
    fn print_map(&mut self, index: usize, top: u64, div: u64, empty_scalars: bool) -> Option<layout::MapView<'p>> {
        let mut entries = self.map_entries(index)?;
        let def = &self.plan.maps[index];
        if entries.is_empty() && def.key.is_empty() && !empty_scalars {
            entries.extend(self.decoder.zero_value(def).map(|value| Entry { key: Vec::new(), value }));
        }
        // A second signal while the map was read: stop here, not after sorting and printing it.
        if signals::hurry() {
            return None;
        }
        let def = &self.plan.maps[index];
        let map = layout::arrange(&def.name, MapKind::of(def.value), entries, top as usize, div);
        self.emit(|out| out.map(&map));
        Some(map)
    }

    /// Warns of each user map that was full when new entries came, with how many it refused,
    /// in the order maps print (not with `--no-warnings`).
    fn report_map_full(&mut self) {
        let Some(counters) = self.map_full.as_ref().filter(|_| !self.no_warnings) else { return };
        let full: Vec<(usize, u64)> = layout::map_order(self.plan.maps.iter().map(|m| m.name.as_str()))
            .into_iter()
            .map(|i| (i, maps::map_full_drops(counters, i)))
            .filter(|&(_, n)| n > 0)
            .collect();
        for (index, n) in full {
            let def = &self.plan.maps[index];
            self.emit(|out| out.map_full(def, n));
        }
    }

    fn report_lost(&mut self) {
        let total = self.lost.as_ref().map_or(0, maps::MappedCounter::get);
        if total > self.lost_reported {
            let n = total - self.lost_reported;
            self.emit(|out| out.lost(n));
            self.lost_reported = total;
        }
    }

    /// Writes through the output; this is the one place that notices a failed write. A closed
    /// pipe (`EPIPE`) ends the run as a signal does (rtrace then dies of SIGPIPE, as bpftrace
    /// does); any other error (a full disk) ends it too and is reported at exit. Either way
    /// nothing more is written.
    fn emit(&mut self, write: impl FnOnce(&mut dyn Output) -> std::io::Result<()>) {
        if self.output_error.is_some() || signals::pipe_broken() {
            return;
        }
        if let Err(e) = write(&mut *self.out) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                signals::output_closed();
            } else {
                if !signals::hurry() {
                    self.output_error = Some(e);
                }
                signals::request_stop();
            }
            self.out.sink().discard();
        }
    }

    /// Runs the BEGIN, END or `self:signal` programs once each, through BPF_PROG_TEST_RUN.
    fn run_probes(&mut self, which: &Attach) -> Result<()> {
        for (index, def) in self.plan.probes.iter().enumerate().filter(|(_, p)| &p.attach == which) {
            let prog = attach::program(&self.object, &def.prog_name)?;
            prog.test_run(ProgramInput::default()).map_err(|e| {
                RuntimeError::at_probe(format!("cannot run probe `{}`: {e}", def.display), index, None, Failure::Run)
            })?;
        }
        Ok(())
    }

    /// Sets one of the values programs read from the globals map.
    fn set_global(&self, index: u32, value: u64) -> Result<()> {
        find_map(&self.object, plan::GLOBALS_MAP)?
            .update(&index.to_le_bytes(), &value.to_le_bytes(), libbpf_rs::MapFlags::ANY)
            .map_err(|e| RuntimeError::new(format!("cannot set a global value: {e}")))
    }

    /// Sets one of the strings programs read from the string globals map: `text`, cut to fit
    /// with its NUL, NUL-padded.
    fn set_str_global(&self, index: u32, text: &str) -> Result<()> {
        let map = find_map(&self.object, plan::STR_GLOBALS_MAP)?;
        let mut value = vec![0u8; map.value_size() as usize];
        let len = text.len().min((self.plan.str_len as usize).saturating_sub(1));
        value[..len].copy_from_slice(&text.as_bytes()[..len]);
        map.update(&index.to_le_bytes(), &value, libbpf_rs::MapFlags::ANY)
            .map_err(|e| RuntimeError::new(format!("cannot set a string parameter: {e}")))
    }

    /// Fills the parameters map: the literals of programs shared by probes that differ in
    /// them, one row per attach cookie.
    fn set_params(&self) -> Result<()> {
        let slots = self.plan.param_slots();
        if slots == 0 {
            return Ok(());
        }
        let map = find_map(&self.object, plan::PARAMS_MAP)?;
        let mut row = vec![0u8; 8 * slots];
        for (cookie, values) in &self.plan.params {
            row.fill(0);
            for (chunk, v) in row.chunks_mut(8).zip(values) {
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            map.update(&(*cookie as u32).to_le_bytes(), &row, libbpf_rs::MapFlags::ANY)
                .map_err(|e| RuntimeError::new(format!("cannot set a probe's parameters: {e}")))?;
        }
        Ok(())
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // The output is closed before the detaching child is forked: holding it, the child
        // kept a pipe to rtrace open until every probe was released (`rtrace big.bt | less`
        // waited ~80 ms a tracepoint after rtrace had exited).
        self.out.sink().close();
        child::detach_in_background(self.links.take(), None);
    }
}

/// What watches a session while it traces (the live view).
pub trait Watcher {
    /// The longest the session may wait before waking it again (milliseconds).
    fn timeout_ms(&self) -> i32;
    /// Woken after the events that came were handled, or when the wait ran out; `false` ends
    /// tracing as a signal does.
    fn wake(&mut self, session: &mut Session) -> bool;
}

/// The ring buffer of `plan::EVENTS_MAP`, whose callback copies each record into `records`.
fn ring_buffer(object: &Object, records: Rc<RefCell<Records>>) -> Result<RingBuffer<'static>> {
    let events = find_map(object, plan::EVENTS_MAP)?;
    let mut builder = RingBufferBuilder::new();
    let error = |e: libbpf_rs::Error| RuntimeError::new(format!("cannot set up the ring buffer: {e}"));
    builder.add(&events, move |data: &[u8]| records.borrow_mut().push(data)).map_err(error)?;
    builder.build().map_err(error)
}

fn find_map<'o>(obj: &'o Object, name: &str) -> Result<libbpf_rs::Map<'o>> {
    obj.maps().find(|m| m.name() == name).ok_or_else(|| missing_map(name))
}

fn missing_map(name: &str) -> RuntimeError {
    RuntimeError::new(format!("internal error: map {name} missing from the object"))
}
