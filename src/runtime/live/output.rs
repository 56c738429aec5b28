//! The output while the live view is on: printf and `print()` text goes to the view's event
//! pane, lost events to its header (and to the output once the view is left: `Lost N events`
//! comes before the final maps); once the view is left, everything passes through to the
//! output the flags chose (text or JSON), so END and the final maps print as without `--live`.

use super::model::Model;
use crate::plan::{MapDef, PrintfDef};
use crate::runtime::layout::MapView;
use crate::runtime::output::text::write_map;
use crate::runtime::output::{Output, Sink, TestRun};
use crate::runtime::printf;
use crate::runtime::value::Value;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;

/// What the output and the view share.
#[derive(Default)]
pub struct Shared {
    pub model: Model,
    /// The view is on: output goes to it.
    pub live: bool,
    /// Events handled (printf, `print()`, `time()`, …), for events per second.
    pub events: u64,
    /// Events lost so far (the ring buffer was full).
    pub lost: u64,
    /// Of those, lost while the view was on, not yet reported to the output.
    pub lost_unreported: u64,
}

/// The session's output while `--live` runs.
pub struct LiveOutput {
    pub inner: Box<dyn Output>,
    pub shared: Rc<RefCell<Shared>>,
}

impl LiveOutput {
    /// Once the view is off, reports the events lost while it was on, before anything else.
    fn catch_up(&mut self) {
        let n = {
            let mut shared = self.shared.borrow_mut();
            if shared.live {
                return;
            }
            std::mem::take(&mut shared.lost_unreported)
        };
        if n > 0 {
            let _ = self.inner.lost(n);
        }
    }

    /// Sends the text `text` makes to the pane if the view is on (`true`).
    fn to_pane(&mut self, text: impl FnOnce() -> String) -> bool {
        self.catch_up();
        let mut shared = self.shared.borrow_mut();
        shared.events += 1;
        if shared.live {
            shared.model.push_text(&text());
        }
        shared.live
    }
}

impl Output for LiveOutput {
    fn sink(&mut self) -> &mut Sink {
        self.catch_up();
        self.inner.sink()
    }

    fn event(&mut self, kind: &str, text: &str) -> io::Result<()> {
        if self.to_pane(|| text.to_string()) {
            return Ok(());
        }
        self.inner.event(kind, text)
    }

    fn value(&mut self, def: &PrintfDef, args: &[Value]) -> io::Result<()> {
        if self.to_pane(|| printf::format(def, args)) {
            return Ok(());
        }
        self.inner.value(def, args)
    }

    fn map(&mut self, map: &MapView) -> io::Result<()> {
        let on_pane = self.to_pane(|| {
            let mut text = String::new();
            write_map(&mut text, map, crate::runtime::Compat::default());
            text
        });
        if on_pane {
            return Ok(());
        }
        self.inner.map(map)
    }

    // `--test` and `--bench` run without the live view.
    fn test_result(&mut self, run: &TestRun, index: usize) -> io::Result<()> {
        self.inner.test_result(run, index)
    }

    fn bench_result(&mut self, names: &[String], index: usize, average_ns: u64, iterations: u64) -> io::Result<()> {
        self.inner.bench_result(names, index, average_ns, iterations)
    }

    fn lost(&mut self, n: u64) -> io::Result<()> {
        self.catch_up();
        let live = {
            let mut shared = self.shared.borrow_mut();
            shared.lost += n;
            if shared.live {
                shared.lost_unreported += n;
            }
            shared.live
        };
        if live {
            return Ok(());
        }
        self.inner.lost(n)
    }

    fn map_full(&mut self, map: &MapDef, dropped: u64) -> io::Result<()> {
        self.catch_up();
        self.inner.map_full(map, dropped)
    }

    fn attached(&mut self, probes: usize) -> io::Result<()> {
        self.inner.attached(probes)
    }

    fn end(&mut self) -> io::Result<()> {
        self.catch_up();
        self.inner.end()
    }
}
