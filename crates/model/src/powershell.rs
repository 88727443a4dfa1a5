//! Quoting text for PowerShell, for the scripts and the remedy commands devwb writes for an
//! administrator to run.
//!
//! Names and DNs in them can come from the directory (a forest's DNS name, an account's
//! sAMAccountName, a DN anyone with write access to a container can choose), so a value must
//! never end its string and run as code. PowerShell's tokenizer takes the typographic quotes as
//! quotes too: U+2018, U+2019, U+201A and U+201B end a single-quoted string like `'` does, and
//! U+201C, U+201D and U+201E end a double-quoted one like `"` does. Inside a single-quoted
//! (verbatim) string each of the five single quotes is escaped by doubling it, and nothing else
//! is special, so [`single_quoted`] is safe for any text.
//!
//! This module only quotes; what the commands are is the callers' business (prepare's script,
//! verify's remedies). It does not produce arguments for POSIX shells.

/// The characters that open or end a single-quoted PowerShell string: `'` and its four
/// typographic forms (PowerShell's tokenizer treats them alike).
pub const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// The characters that open or end a double-quoted PowerShell string: `"` and its three
/// typographic forms.
pub const DOUBLE_QUOTES: [char; 4] = ['"', '\u{201C}', '\u{201D}', '\u{201E}'];

/// `'text'`, a PowerShell verbatim string holding `text` exactly: every single quote in it
/// (`'` and U+2018 to U+201B) is doubled, which PowerShell reads back as one.
pub fn single_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `"text"` when PowerShell would expand nothing in it (the form people are used to seeing in
/// dsacls and AD cmdlet examples), else [`single_quoted`]. In double quotes `$(...)` runs a
/// command, `$name` expands a variable and a backtick escapes, so a DN such as
/// `CN=$(Remove-ADObject ...),...` must never be pasted in them.
pub fn quoted(text: &str) -> String {
    let expands = text
        .chars()
        .any(|c| matches!(c, '$' | '`') || DOUBLE_QUOTES.contains(&c) || c.is_control());
    if expands {
        single_quoted(text)
    } else {
        format!("\"{text}\"")
    }
}

/// `text` as one command argument: bare when it is made only of characters PowerShell passes
/// through literally in argument mode (letters, digits and `. _ : / \ -`, not starting with
/// `-`, which would make it a parameter name), else [`quoted`]. A URL such as
/// `ldaps://dc1.contoso.lab:636` stays bare; a DN (whose `,` would make an array) is quoted.
pub fn argument(text: &str) -> String {
    let bare = !text.is_empty()
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '\\' | '-'));
    if bare {
        text.to_string()
    } else {
        quoted(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_single_quote_character_is_doubled() {
        for quote in SINGLE_QUOTES {
            assert_eq!(
                single_quoted(&format!("a{quote}b")),
                format!("'a{quote}{quote}b'"),
                "U+{:04X}",
                quote as u32
            );
        }
        assert_eq!(single_quoted(""), "''");
        assert_eq!(single_quoted("plain"), "'plain'");
        // Double quotes, `$` and backticks mean nothing in a verbatim string.
        assert_eq!(single_quoted("$(x) `n \"y\""), "'$(x) `n \"y\"'");
    }

    /// Reads a single-quoted string as PowerShell's tokenizer does: a single quote followed by
    /// another is one quote of the text, a lone one ends the string.
    fn read_single_quoted(script: &str) -> (String, &str) {
        let mut chars = script.char_indices();
        assert_eq!(chars.next().map(|(_, c)| c), Some('\''));
        let mut text = String::new();
        while let Some((index, c)) = chars.next() {
            if SINGLE_QUOTES.contains(&c) {
                match script[index + c.len_utf8()..].chars().next() {
                    Some(next) if SINGLE_QUOTES.contains(&next) => {
                        text.push(c);
                        chars.next();
                    }
                    _ => return (text, &script[index + c.len_utf8()..]),
                }
            } else {
                text.push(c);
            }
        }
        panic!("unterminated string: {script}");
    }

    #[test]
    fn a_dn_with_every_quote_in_its_text_reads_back_whole() {
        let dn = "CN=O\u{2019}Brien\u{2018}; Remove-ADObject -Identity \u{201A}DC=contoso\u{201B} ',OU=It's,DC=contoso,DC=lab";
        let quoted = single_quoted(dn);
        let script = format!("{quoted} -Confirm:$false");
        let (read, rest) = read_single_quoted(&script);
        assert_eq!(read, dn);
        assert_eq!(rest, " -Confirm:$false");
    }

    #[test]
    fn double_quotes_only_for_text_that_expands_nothing() {
        assert_eq!(
            quoted("CN=Users,DC=contoso,DC=lab"),
            "\"CN=Users,DC=contoso,DC=lab\""
        );
        assert_eq!(quoted("CN=$(calc),DC=lab"), "'CN=$(calc),DC=lab'");
        assert_eq!(quoted("a`b"), "'a`b'");
        for quote in DOUBLE_QUOTES {
            assert_eq!(quoted(&format!("a{quote}b")), format!("'a{quote}b'"));
        }
        assert_eq!(quoted("O'Brien"), "\"O'Brien\"");
        assert_eq!(quoted("O'Brien$"), "'O''Brien$'");
    }

    #[test]
    fn arguments_stay_bare_only_when_nothing_in_them_is_special() {
        assert_eq!(
            argument("ldaps://dc1.contoso.lab:636"),
            "ldaps://dc1.contoso.lab:636"
        );
        assert_eq!(
            argument("C:\\exports\\devices.json"),
            "C:\\exports\\devices.json"
        );
        assert_eq!(argument("CONTOSO\\admin"), "CONTOSO\\admin");
        assert_eq!(argument("CN=a,DC=b"), "\"CN=a,DC=b\"");
        assert_eq!(argument("my devices.json"), "\"my devices.json\"");
        assert_eq!(argument("-x"), "\"-x\"");
        assert_eq!(argument(""), "\"\"");
        assert_eq!(argument("PC01$"), "'PC01$'");
    }
}
