//! Bytes in, bytes out: standard input and output, files named on the command line, and
//! progress on standard error when it is a terminal.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{self, CliError, Result};

/// The largest token read from standard input: jose-core's own limit, plus a little for
/// surrounding whitespace. A longer input is refused without reading it all.
const MAX_TOKEN_INPUT: usize = jose_core::jws::DEFAULT_MAX_TOKEN_LEN + 64;

/// The largest key, JWK Set, header or claims file read.
const MAX_SMALL_FILE: usize = 1 << 20;

/// Whether standard input is still free for a key file (`--jwk -`) or carries the command's
/// input (payload, plaintext, token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdin {
    /// The command reads nothing else from standard input.
    Free,
    /// The command's input comes from standard input.
    Busy,
}

fn say_when_waiting(what: &str) {
    if std::io::stdin().is_terminal() {
        eprintln!("hsm-jose: reading {what} from standard input (end with Ctrl-D)");
    }
}

/// Whether standard input is a terminal, where a person can answer a question.
pub(crate) fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks `question` on standard error and reads the answer from standard input: true for `y`
/// or `yes` (any case), false for anything else, an empty line or the end of input.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(256)
        .read_line(&mut answer)
        .map_err(|e| error::io("cannot read the answer from standard input", &e))?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// All of standard input, as bytes (payloads and plaintexts are binary-safe).
pub(crate) fn read_stdin(what: &str) -> Result<Vec<u8>> {
    say_when_waiting(what);
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| error::io(format!("cannot read {what} from standard input"), &e))?;
    Ok(bytes)
}

/// A token from standard input: at most [`MAX_TOKEN_INPUT`] bytes of UTF-8, surrounding
/// whitespace (the trailing newline a token is printed with) removed.
pub(crate) fn read_stdin_token(what: &str) -> Result<String> {
    say_when_waiting(what);
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_TOKEN_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error::io(format!("cannot read the {what} from standard input"), &e))?;
    if bytes.len() > MAX_TOKEN_INPUT {
        return Err(CliError::rejected(format!(
            "the {what} on standard input exceeds the limit of {} bytes",
            jose_core::jws::DEFAULT_MAX_TOKEN_LEN
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::rejected(format!("the {what} on standard input is not UTF-8 text"))
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CliError::rejected(format!(
            "no {what} on standard input (it is empty)"
        )));
    }
    Ok(trimmed.to_owned())
}

/// A small file named on the command line (a key, a JWK Set, a header, claims); `-` is standard
/// input when the command leaves it free. Failures are setup errors naming the file.
pub(crate) fn read_small_file(path: &str, stdin: Stdin, what: &str) -> Result<String> {
    let mut bytes = Vec::new();
    let read = if path == "-" {
        if stdin == Stdin::Busy {
            return Err(CliError::usage(format!(
                "{what} cannot come from standard input (`-`): this command reads its input there"
            ))
            .hint(format!("give the {what} as a file")));
        }
        say_when_waiting(what);
        std::io::stdin()
            .lock()
            .take(MAX_SMALL_FILE as u64 + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SMALL_FILE as u64 + 1).read_to_end(&mut bytes))
    };
    let name = if path == "-" {
        "standard input".to_owned()
    } else {
        path.to_owned()
    };
    read.map_err(|e| error::io(format!("cannot read the {what} {name}"), &e))?;
    if bytes.len() > MAX_SMALL_FILE {
        return Err(CliError::setup(format!(
            "the {what} {name} is larger than {MAX_SMALL_FILE} bytes"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| CliError::setup(format!("the {what} {name} is not UTF-8 text")))
}

/// An argument that is JSON text, or `@FILE` naming a file that holds it. A file that cannot
/// be read is a usage error: it is part of the command line.
pub(crate) fn json_argument(value: &str, what: &str) -> Result<String> {
    match value.strip_prefix('@') {
        Some(path) => read_small_file(path, Stdin::Busy, what).map_err(CliError::into_usage),
        None => Ok(value.to_owned()),
    }
}

/// Writes bytes to standard output as they are.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| error::io("cannot write to standard output", &e))
}

/// Prints a line of text (a token, a JWK, JSON) with one trailing newline.
pub(crate) fn print_line(text: &str) -> Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_stdout(line.as_bytes())
}

/// Whether progress is shown: only when standard error is a terminal, so scripts and logs
/// never see it.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

/// A line on standard error with the elapsed time, redrawn until dropped, for long work in the
/// token (RSA-4096 generation). Silent when standard error is not a terminal.
pub(crate) struct Spinner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    pub(crate) fn start(message: String) -> Self {
        if !progress_wanted() {
            return Self {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            loop {
                eprint!(
                    "\r{message} {:.0} s",
                    started.elapsed().as_secs_f64().floor()
                );
                match stopped.recv_timeout(Duration::from_millis(250)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            // Clear the line.
            eprint!("\r\x1b[2K");
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `what 12/340` on standard error, redrawn as work advances; silent when standard error is
/// not a terminal.
pub(crate) struct Counter {
    what: &'static str,
    total: usize,
    done: usize,
    enabled: bool,
    last: Option<Instant>,
}

impl Counter {
    pub(crate) fn new(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            done: 0,
            enabled: progress_wanted(),
            last: None,
        }
    }

    /// One more item done.
    pub(crate) fn tick(&mut self) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        // Redraw at most ten times a second, and at the end.
        let now = Instant::now();
        if self.done == self.total
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100))
        {
            eprint!("\r{} {}/{}", self.what, self.done, self.total);
            self.last = Some(now);
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if self.enabled && self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", " YES \r\n", "y"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n\n", "no\n", "yep\n", "y es\n", "oui\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
