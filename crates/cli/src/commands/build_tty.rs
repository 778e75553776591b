//! `build --progress tty`: BuildKit's live view on a terminal. A header
//! with the time so far and the steps finished, a line per step (cached,
//! running with its clock, done with its time, failed), and under each
//! running step the last lines of its output; redrawn in place (cursor up,
//! clear each line) a few times a second and once more at the end.
//!
//! Every line is cut to the terminal's width and the view to its height,
//! so that no line wraps and the cursor always climbs back to the header.

use std::collections::VecDeque;
use std::time::Instant;

/// Lines of output shown under a running step (BuildKit shows six).
const TAIL: usize = 6;

pub struct TtyView {
    began: Instant,
    rows: Vec<Row>,
    /// Lines of the last draw, to climb back over.
    drawn: usize,
    width: usize,
    height: usize,
    /// Follows the terminal's size (not in tests).
    resizes: bool,
}

struct Row {
    vertex: usize,
    name: String,
    started: Instant,
    state: State,
    tail: VecDeque<String>,
    /// Output after the last newline.
    partial: String,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Running,
    Cached,
    Done(f64),
    Failed(f64),
}

impl TtyView {
    pub fn new() -> TtyView {
        let (width, height) = terminal_size().unwrap_or((80, 24));
        TtyView::sized(width, height, true)
    }

    fn sized(width: usize, height: usize, resizes: bool) -> TtyView {
        TtyView {
            began: Instant::now(),
            rows: Vec::new(),
            drawn: 0,
            width,
            height,
            resizes,
        }
    }

    fn row(&mut self, vertex: usize) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.vertex == vertex)
    }

    pub fn start(&mut self, vertex: usize, name: &str) {
        self.rows.push(Row {
            vertex,
            name: name.to_string(),
            started: Instant::now(),
            state: State::Running,
            tail: VecDeque::new(),
            partial: String::new(),
        });
    }

    pub fn output(&mut self, vertex: usize, data: &[u8]) {
        let Some(row) = self.row(vertex) else {
            return;
        };
        row.partial.push_str(&String::from_utf8_lossy(data));
        while let Some(at) = row.partial.find(['\n', '\r']) {
            let line: String = row.partial.drain(..=at).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                continue;
            }
            if row.tail.len() == TAIL {
                row.tail.pop_front();
            }
            row.tail.push_back(line.to_string());
        }
    }

    pub fn cached(&mut self, vertex: usize) {
        if let Some(row) = self.row(vertex) {
            row.state = State::Cached;
        }
    }

    pub fn done(&mut self, vertex: usize, seconds: f64) {
        if let Some(row) = self.row(vertex) {
            row.state = State::Done(seconds);
        }
    }

    pub fn failed(&mut self, vertex: usize) {
        if let Some(row) = self.row(vertex) {
            row.state = State::Failed(row.started.elapsed().as_secs_f64());
        }
    }

    /// The build failed: what was still running stopped with it (the
    /// failing step among them).
    pub fn stop_running(&mut self) {
        for row in &mut self.rows {
            if row.state == State::Running {
                row.state = State::Failed(row.started.elapsed().as_secs_f64());
            }
        }
    }

    /// The escape sequences and lines that redraw the view over the last
    /// one.
    pub fn render(&mut self, finished: bool) -> String {
        // Resized meanwhile: lines cut to the new width.
        if let Some((width, height)) = terminal_size().filter(|_| self.resizes) {
            (self.width, self.height) = (width, height);
        }
        let finished_rows = self
            .rows
            .iter()
            .filter(|r| r.state != State::Running)
            .count();
        let mut header = format!(
            "[+] Building {:.1}s ({finished_rows}/{})",
            self.began.elapsed().as_secs_f64(),
            self.rows.len()
        );
        if finished {
            header.push_str(" FINISHED");
        }
        let mut lines = vec![cut(&header, self.width)];
        for row in &self.rows {
            let (label, time) = match row.state {
                State::Running => (
                    format!(" => {}", row.name),
                    format!("{:.1}s", row.started.elapsed().as_secs_f64()),
                ),
                State::Cached => (format!(" => CACHED {}", row.name), String::new()),
                State::Done(s) => (format!(" => {}", row.name), format!("{s:.1}s")),
                State::Failed(s) => (format!(" => ERROR {}", row.name), format!("{s:.1}s")),
            };
            lines.push(self.with_time(&label, &time));
            if row.state == State::Running {
                for line in &row.tail {
                    lines.push(cut(&format!(" => => # {line}"), self.width));
                }
            }
        }
        // The newest lines when the view is taller than the terminal: the
        // cursor cannot climb above its top.
        let keep = self.height.saturating_sub(1).max(1);
        if lines.len() > keep {
            lines.drain(1..lines.len() - keep + 1);
        }
        let mut out = String::new();
        if self.drawn > 0 {
            // Up to the header, and clear below (a view may shrink).
            out.push_str(&format!("\x1b[{}A\x1b[J", self.drawn));
        }
        for line in &lines {
            out.push_str("\x1b[2K");
            out.push_str(line);
            out.push('\n');
        }
        self.drawn = lines.len();
        out
    }

    /// `label`, then `time` against the right edge.
    fn with_time(&self, label: &str, time: &str) -> String {
        let room = self.width.saturating_sub(time.chars().count() + 1);
        let label = cut(label, room);
        let pad = room.saturating_sub(label.chars().count());
        format!(
            "{label}{}{}{time}",
            " ".repeat(pad),
            if time.is_empty() { "" } else { " " }
        )
    }
}

/// Columns and rows of the terminal on stderr.
fn terminal_size() -> Option<(usize, usize)> {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .filter(|w| w.ws_col > 0 && w.ws_row > 0)
        .map(|w| (usize::from(w.ws_col), usize::from(w.ws_row)))
}

/// At most `width` characters (no line may wrap; wide characters count as
/// one, a known limit).
fn cut(line: &str, width: usize) -> String {
    line.chars()
        .filter(|c| !c.is_control())
        .take(width)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(width: usize, height: usize) -> TtyView {
        TtyView::sized(width, height, false)
    }

    #[test]
    fn redraws_in_place_with_tails_under_running_steps() {
        let mut v = view(40, 24);
        v.start(1, "[a 1/2] FROM busybox");
        v.cached(1);
        v.start(2, "[a 2/2] RUN make");
        v.output(2, b"one\ntwo\npart");
        let first = v.render(false);
        assert!(first.starts_with("\x1b[2K[+] Building"), "{first:?}");
        assert!(first.contains(" => CACHED [a 1/2] FROM busybox"));
        assert!(first.contains(" => => # one\n") && first.contains(" => => # two\n"));
        assert!(!first.contains("part"), "a partial line waits");
        v.done(2, 1.25);
        let second = v.render(true);
        // Up over the header, two steps and two output lines.
        assert!(second.starts_with("\x1b[5A\x1b[J"), "{second:?}");
        assert!(second.contains("(2/2) FINISHED"));
        assert!(!second.contains("# one"), "a finished step's output goes");
        let done = second
            .lines()
            .find(|l| l.contains("RUN make"))
            .unwrap()
            .trim_start_matches("\x1b[2K");
        assert_eq!(done.chars().count(), 40, "{done:?}");
        assert!(done.ends_with(" 1.2s"), "{done:?}");
    }

    #[test]
    fn no_line_wraps_and_the_view_fits_the_terminal() {
        let mut v = view(20, 4);
        for i in 0..10 {
            v.start(i, &format!("[s {i}/10] RUN a-very-long-command-line"));
        }
        let out = v.render(false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out:?}");
        assert!(lines[0].contains("[+] Building"));
        for l in lines {
            let visible = l.trim_start_matches("\x1b[2K");
            assert!(visible.chars().count() <= 20, "{visible:?}");
        }
    }
}
