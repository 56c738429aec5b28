//! The live view on the terminal, through ratatui and crossterm: entering and leaving the
//! full screen (raw mode, the alternate screen; a panic hook that leaves it too), and drawing
//! one frame of the model: the header line, the maps, the printf pane, the key line, the help.

use super::model::Model;
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::{DefaultTerminal, Frame};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// The full screen is on: `leave` has something to undo. Leaving twice would move the cursor
/// back to where the view began (the alternate screen's saved cursor), over what was printed
/// in between — a panic's message, say.
static ON: AtomicBool = AtomicBool::new(false);

/// The smallest terminal the view draws in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Why the view cannot start here, if it cannot: standard output is not a terminal, or the
/// terminal is too small.
pub fn unusable() -> Option<String> {
    if !std::io::stdout().is_terminal() {
        return Some("--live needs a terminal: standard output is not one".to_string());
    }
    match terminal::size() {
        Ok((w, h)) if w >= MIN_WIDTH && h >= MIN_HEIGHT => None,
        Ok((w, h)) => Some(format!(
            "--live needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT} characters; this one is {w}x{h}"
        )),
        Err(e) => Some(format!("--live cannot read the terminal's size: {e}")),
    }
}

/// Enters the full screen: raw mode, the alternate screen, no cursor. A panic from here on
/// leaves it first, so its message lands on the normal screen.
pub fn enter() -> std::io::Result<DefaultTerminal> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            leave();
            previous(info);
        }));
    });
    terminal::enable_raw_mode()?;
    ON.store(true, Ordering::SeqCst);
    let mut stdout = std::io::stdout();
    if let Err(e) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
        leave();
        return Err(e);
    }
    let backend = ratatui::backend::CrosstermBackend::new(stdout);
    ratatui::Terminal::new(backend).inspect_err(|_| leave())
}

/// Leaves the full screen; does nothing when not in it.
pub fn leave() {
    if !ON.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// What the header and the key line say besides the model.
pub struct Status {
    pub probes: usize,
    /// Whether the probes are attached yet (the header says `attaching` until they are).
    pub attached: bool,
    pub lost: u64,
    pub elapsed: std::time::Duration,
    pub interval: std::time::Duration,
    /// Typing a filter after `/`.
    pub typing_filter: bool,
    pub help: bool,
    /// The script prints: the output pane is shown.
    pub pane: bool,
}

/// Draws one frame.
pub fn frame(frame: &mut Frame, model: &mut Model, status: &Status) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!("terminal too small: {}x{} (needs {MIN_WIDTH}x{MIN_HEIGHT})", area.width, area.height);
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let pane = if status.pane || !model.events.is_empty() { (area.height / 4).max(4) } else { 0 };
    let [head, body, events, keys] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(pane), Constraint::Length(1)])
            .areas(area);
    frame.render_widget(Paragraph::new(header(model, status)).style(Style::new().add_modifier(Modifier::REVERSED)), head);

    let lines = model.body_lines();
    let visible = body.height as usize;
    model.scroll = model.scroll.min(lines.len().saturating_sub(visible));
    let shown: Vec<Line> = lines.into_iter().skip(model.scroll).take(visible).map(Line::from).collect();
    frame.render_widget(Paragraph::new(shown), body);

    if pane > 0 {
        let inner = pane.saturating_sub(2) as usize;
        let skip = model.events.len().saturating_sub(inner);
        let tail: Vec<Line> = model.events.iter().skip(skip).map(|l| Line::from(l.as_str())).collect();
        let title = format!(" output ({} lines) ", model.events.len());
        frame.render_widget(Paragraph::new(tail).block(Block::bordered().title(title)), events);
    }

    frame.render_widget(Paragraph::new(key_line(model, status)), keys);
    if status.help {
        help(frame, area);
    }
}

fn header(model: &Model, status: &Status) -> String {
    let secs = status.elapsed.as_secs();
    let events = match model.events_per_sec {
        Some(r) => format!("{r:.0}"),
        None => "-".to_string(),
    };
    let mut text = format!(
        " rtrace --live | {} probe{} {} | {events} events/s | {} lost | {:02}:{:02}:{:02} | sort: {} | every {:.1}s",
        status.probes,
        if status.probes == 1 { "" } else { "s" },
        if status.attached { "attached" } else { "attaching" },
        status.lost,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        model.sort.name(),
        status.interval.as_secs_f64(),
    );
    if model.paused {
        // First, where a narrow terminal does not cut it off.
        text.replace_range(..0, " PAUSED |");
    }
    text
}

fn key_line(model: &Model, status: &Status) -> String {
    if status.typing_filter {
        format!("filter: {}_   (Enter: keep, Esc: drop)", model.filter)
    } else if !model.filter.is_empty() {
        format!("filter: {}   (/ to change, Esc to drop)   q quit  ? keys", model.filter)
    } else {
        "q quit  p pause  c clear  s sort  j/k scroll  / filter  ? keys".to_string()
    }
}

const HELP: &[&str] = &[
    "q, Ctrl-C     quit: END runs, the maps print on the normal screen",
    "p             pause (the maps stop being read; the probes go on)",
    "c             clear every map, as clear() does",
    "s             sort by value, rate, key",
    "j/k, arrows   scroll one line; PgUp/PgDn a page; g/G top/bottom",
    "/             filter rows by key text (Enter keeps, Esc drops)",
    "?             this help (any key closes it)",
];

fn help(frame: &mut Frame, area: Rect) {
    let width = (HELP.iter().map(|l| l.len()).max().unwrap_or(0) as u16 + 4).min(area.width);
    let height = (HELP.len() as u16 + 2).min(area.height);
    let at = Rect { x: (area.width - width) / 2, y: (area.height - height) / 2, width, height };
    let lines: Vec<Line> = HELP.iter().map(|l| Line::from(*l)).collect();
    frame.render_widget(Clear, at);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys ")), at);
}
