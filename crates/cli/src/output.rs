//! Writing to the terminal: results to standard output, messages and prompts to standard
//! error. A closed pipe (`devwb verify | head`) is not an error worth a panic.

use std::io::{self, BufRead, IsTerminal, Write};

/// Writes `text` to standard output as is.
pub fn out(text: &str) {
    let mut stdout = io::stdout().lock();
    // A closed pipe means nobody reads any more: dropping the rest is right.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Writes `text` and a newline to standard output.
pub fn out_line(text: &str) {
    out(&format!("{text}\n"));
}

/// Writes `text` and a newline to standard error.
pub fn err_line(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Serialises `value` as pretty JSON to standard output.
pub fn out_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    out_line(&text);
    Ok(())
}

/// Whether standard output is a terminal (colour is used only then).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Asks a yes/no question on standard error and reads the answer from standard input.
/// Without a terminal nobody can answer: that is a "no", and the caller says to use `--yes`.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !io::stdin().is_terminal() {
        err_line(&format!(
            "{question} [y/N]: no terminal to answer on; pass --yes to confirm"
        ));
        return Ok(false);
    }
    let mut stderr = io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
