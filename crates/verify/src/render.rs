//! Shows a [`Report`] to people: one line per check (status, id, title), the evidence under
//! it with aligned labels, and the remedy with its commands. Colour is optional and decided by
//! the caller (the command line turns it on only on a terminal); without it the text is plain
//! ASCII, which is what the snapshot tests see. Text that comes from the directory (names,
//! attribute values, error messages) is shown with its control characters escaped, so a value
//! cannot move the cursor or recolour the terminal of the admin reading the report.

use std::fmt::Write;

use crate::report::{Outcome, Report, Status};

/// How to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use ANSI colours for the status words.
    pub colour: bool,
}

const RESET: &str = "\u{1b}[0m";

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\u{1b}[{code}m{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn status_tag(status: &Status, colour: bool) -> String {
    let (word, code) = match status {
        Status::Pass => ("PASS", "32"),
        Status::Fail => ("FAIL", "1;31"),
        Status::Warn => ("WARN", "33"),
        Status::Skipped { .. } => ("SKIP", "2"),
    };
    paint(word, code, colour)
}

/// `text` with control characters (C0, DEL, C1) written as Rust escapes: `\u{1b}`, `\n`.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The report as text for a terminal or a log.
pub fn render(report: &Report, options: RenderOptions) -> String {
    let mut out = String::new();
    let connector = report.connector_account.as_deref().unwrap_or("(not named)");
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "forest:    {}", shown(&report.forest));
    let _ = writeln!(out, "domain:    {}", shown(&report.domain));
    let _ = writeln!(out, "connector: {}", shown(connector));
    let _ = writeln!(out);
    let id_width = report
        .checks
        .iter()
        .map(|check| check.id.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{}  {:<id_width$}  {}",
            status_tag(&check.status, options.colour),
            check.id,
            check.title
        );
        let indent = " ".repeat(6);
        if let Status::Skipped { why } = &check.status {
            let _ = writeln!(out, "{indent}skipped: {}", shown(why));
        }
        let label_width = check
            .evidence
            .iter()
            .map(|evidence| evidence.label.len())
            .max()
            .unwrap_or(0);
        for evidence in &check.evidence {
            let _ = writeln!(
                out,
                "{indent}{:<label_width$}  {}",
                evidence.label,
                shown(&evidence.value)
            );
        }
        if let Some(remedy) = &check.remedy {
            let _ = writeln!(
                out,
                "{indent}{} {}",
                paint("remedy:", "1", options.colour),
                shown(&remedy.summary)
            );
            for command in &remedy.commands {
                let _ = writeln!(out, "{indent}  $ {}", shown(command));
            }
        }
    }
    let [passed, failed, warned, skipped] = report.counts();
    let verdict = match report.outcome {
        Outcome::Passed => paint("all checks passed", "32", options.colour),
        Outcome::Failed => paint("some checks failed", "1;31", options.colour),
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{verdict}: {passed} passed, {failed} failed, {warned} warnings, {skipped} skipped"
    );
    out
}
