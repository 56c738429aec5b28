//! `--live`: a full-screen view of the script's maps, redrawn every interval while the probes
//! run, like `top`. The session's event loop wakes it (`session::Watcher`) after each batch of
//! events and at least every [`KEY_POLL`]; it reads the keys, and once an interval has passed
//! reads the maps through the session (the text output's decoding, `Session::map_entries`)
//! into the model (`model`), which `draw` puts on the screen. printf output goes to a pane of
//! its own (`output`). Leaving the view (`q`, Ctrl-C, SIGTERM, the `-c` command's end,
//! `exit()`, a panic, or dropping it on an error) restores the terminal, and what follows (END,
//! the final maps) prints on the normal screen.

mod draw;
mod model;
mod output;
#[cfg(test)]
mod tests;

use super::layout::{self, MapKind};
use super::output::Output;
use super::session::{Session, Watcher};
use super::{Result, RuntimeError};
use crate::plan::Plan;
use model::MapSnapshot;
use output::{LiveOutput, Shared};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The longest a key waits to be read.
const KEY_POLL: Duration = Duration::from_millis(50);

/// What the keys are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Typing a filter after `/`.
    Filter,
    /// The help is shown; any key closes it.
    Help,
}

/// The live view.
pub struct Live {
    shared: Rc<RefCell<Shared>>,
    /// The maps in bpftrace's order: their index in the plan, name and layout.
    maps: Vec<(usize, String, MapKind)>,
    interval: Duration,
    terminal: Option<DefaultTerminal>,
    probes: usize,
    /// The probes are attached: the session has woken the view from its event loop (the view
    /// starts before BEGIN runs, and the probes attach after BEGIN).
    attached: bool,
    started: Instant,
    next_read: Instant,
    mode: Mode,
    /// The script prints (printf, print, …): the view has an output pane.
    prints: bool,
}

/// With `--live` (`interval`), checks that the view can run here and wraps the output so that
/// printf goes to its pane; returns the output to give the session, and the view.
pub fn wrap(out: Box<dyn Output>, plan: &Plan, interval: Option<Duration>) -> Result<(Box<dyn Output>, Option<Live>)> {
    let Some(interval) = interval else { return Ok((out, None)) };
    if let Some(why) = draw::unusable() {
        return Err(RuntimeError::new(why));
    }
    let shared = Rc::new(RefCell::new(Shared::default()));
    let maps = layout::map_order(plan.maps.iter().map(|m| m.name.as_str()))
        .into_iter()
        .map(|i| (i, plan.maps[i].name.clone(), MapKind::of(plan.maps[i].value)))
        .collect();
    let now = Instant::now();
    let live = Live {
        shared: shared.clone(),
        maps,
        interval,
        terminal: None,
        probes: 0,
        attached: false,
        started: now,
        next_read: now,
        mode: Mode::Normal,
        prints: !plan.printfs.is_empty(),
    };
    Ok((Box::new(LiveOutput { inner: out, shared }), Some(live)))
}

impl Live {
    /// Enters the full screen; from here until the view is dropped, printf output goes to it.
    pub fn start(&mut self, session: &mut Session) -> Result<()> {
        let terminal = draw::enter().map_err(|e| RuntimeError::new(format!("cannot set up the terminal: {e}")))?;
        self.terminal = Some(terminal);
        self.probes = session.probe_count();
        self.started = Instant::now();
        self.shared.borrow_mut().live = true;
        self.read_maps(session);
        self.redraw();
        Ok(())
    }

    /// Reads every map into the model and sets the next read an interval away.
    fn read_maps(&mut self, session: &mut Session) {
        let now = Instant::now();
        let snapshot = self
            .maps
            .iter()
            .filter_map(|(index, name, kind)| {
                let entries = session.map_entries(*index)?;
                Some(MapSnapshot { name: name.clone(), kind: *kind, entries })
            })
            .collect();
        let mut shared = self.shared.borrow_mut();
        let events = shared.events;
        shared.model.update(snapshot, now, events);
        self.next_read = now + self.interval;
    }

    fn redraw(&mut self) {
        let Some(terminal) = &mut self.terminal else { return };
        let mut shared = self.shared.borrow_mut();
        let status = draw::Status {
            probes: self.probes,
            attached: self.attached,
            lost: shared.lost,
            elapsed: self.started.elapsed(),
            interval: self.interval,
            typing_filter: self.mode == Mode::Filter,
            help: self.mode == Mode::Help,
            pane: self.prints,
        };
        let _ = terminal.draw(|frame| draw::frame(frame, &mut shared.model, &status));
    }

    /// Handles one key; `false` when it asks to quit.
    fn key(&mut self, key: KeyEvent, session: &mut Session) -> bool {
        let shared = self.shared.clone();
        let mut shared = shared.borrow_mut();
        let model = &mut shared.model;
        match self.mode {
            Mode::Help => self.mode = Mode::Normal,
            Mode::Filter => match key.code {
                KeyCode::Enter => self.mode = Mode::Normal,
                KeyCode::Esc => {
                    model.filter.clear();
                    self.mode = Mode::Normal;
                }
                KeyCode::Backspace => {
                    model.filter.pop();
                }
                KeyCode::Char(c) => {
                    model.filter.push(c);
                    model.scroll = 0;
                }
                _ => {}
            },
            Mode::Normal => match key.code {
                KeyCode::Char('q') => return false,
                KeyCode::Char('p') => model.paused = !model.paused,
                KeyCode::Char('c') => {
                    session.clear_maps();
                    model.cleared(Instant::now());
                    drop(shared);
                    self.read_maps(session);
                }
                KeyCode::Char('s') => model.next_sort(),
                KeyCode::Char('j') | KeyCode::Down => model.scroll += 1,
                KeyCode::Char('k') | KeyCode::Up => model.scroll = model.scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => model.scroll += 10,
                KeyCode::PageUp => model.scroll = model.scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => model.scroll = 0,
                KeyCode::Char('G') | KeyCode::End => model.scroll = usize::MAX,
                KeyCode::Char('/') => {
                    model.filter.clear();
                    self.mode = Mode::Filter;
                }
                KeyCode::Esc => model.filter.clear(),
                KeyCode::Char('?') => self.mode = Mode::Help,
                _ => {}
            },
        }
        true
    }
}

impl Watcher for Live {
    fn timeout_ms(&self) -> i32 {
        let until_read = self.next_read.saturating_duration_since(Instant::now());
        until_read.min(KEY_POLL).as_millis() as i32 + 1
    }

    fn wake(&mut self, session: &mut Session) -> bool {
        let mut changed = !self.attached;
        self.attached = true;
        while let Ok(true) = event::poll(Duration::ZERO) {
            match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
                    if ctrl_c || !self.key(key, session) {
                        return false;
                    }
                    changed = true;
                }
                Ok(Event::Resize(..)) => changed = true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if Instant::now() >= self.next_read {
            if self.shared.borrow().model.paused {
                self.next_read = Instant::now() + self.interval;
            } else {
                self.read_maps(session);
            }
            changed = true;
        }
        if changed {
            self.redraw();
        }
        true
    }
}

impl Drop for Live {
    /// Leaves the full screen; what is printed from now on goes to the normal screen.
    fn drop(&mut self) {
        self.shared.borrow_mut().live = false;
        if self.terminal.take().is_some() {
            draw::leave();
        }
    }
}
