//! LDIF (RFC 2849): reading seed files (content records and change records) and writing the
//! directory back out in a form OpenLDAP's tools read.
//!
//! Values that are not SAFE-STRINGs (binary, non-ASCII, leading space, colon or `<`, trailing
//! space, line breaks) are written base64 (`name:: ...`); lines are folded at 76 columns.
//! Reading accepts folded lines, comments, `version: 1`, base64 values and `file://` URLs.

use base64::Engine;
use bytes::Bytes;

use crate::request::{Modification, ModificationKind};
use crate::store::Entry;

/// One LDIF record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A content record, or a change record with `changetype: add`.
    Add {
        dn: String,
        attributes: Vec<(String, Vec<Bytes>)>,
    },
    /// `changetype: delete`.
    Delete { dn: String },
    /// `changetype: modify`.
    Modify {
        dn: String,
        changes: Vec<Modification>,
    },
    /// `changetype: modrdn` or `moddn`.
    ModRdn {
        dn: String,
        new_rdn: String,
        delete_old_rdn: bool,
        new_superior: Option<String>,
    },
}

impl Record {
    /// The DN the record is about.
    pub fn dn(&self) -> &str {
        match self {
            Record::Add { dn, .. }
            | Record::Delete { dn }
            | Record::Modify { dn, .. }
            | Record::ModRdn { dn, .. } => dn,
        }
    }
}

/// A record and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    pub record: Record,
}

/// A syntax error: the line and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LdifError {
    pub line: usize,
    pub reason: String,
}

fn error(line: usize, reason: impl Into<String>) -> LdifError {
    LdifError {
        line,
        reason: reason.into(),
    }
}

/// Unfolds lines: returns (line number, logical line), comments dropped, blank lines kept as "".
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (index, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(continuation) = raw.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            if let Some((_, last)) = lines.last_mut() {
                last.push_str(continuation);
                continue;
            }
        }
        in_comment = raw.starts_with('#');
        if in_comment {
            continue;
        }
        lines.push((index + 1, raw.to_string()));
    }
    lines
}

/// Splits `name: value`, `name:: base64` or `name:< url` into the name and the value's bytes.
fn attr_value(line_number: usize, line: &str) -> Result<(String, Bytes), LdifError> {
    let (name, rest) = line.split_once(':').ok_or_else(|| {
        error(
            line_number,
            format!("expected 'name: value', found {line:?}"),
        )
    })?;
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(error(line_number, "empty attribute name"));
    }
    if let Some(encoded) = rest.strip_prefix(':') {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| error(line_number, format!("invalid base64 value of {name}: {e}")))?;
        return Ok((name, Bytes::from(decoded)));
    }
    if let Some(url) = rest.strip_prefix('<') {
        let url = url.trim();
        let path = url.strip_prefix("file://").ok_or_else(|| {
            error(
                line_number,
                format!("only file:// URLs are supported, found {url:?}"),
            )
        })?;
        let data = std::fs::read(path).map_err(|e| error(line_number, format!("{path}: {e}")))?;
        return Ok((name, Bytes::from(data)));
    }
    Ok((
        name,
        Bytes::copy_from_slice(rest.trim_start_matches(' ').as_bytes()),
    ))
}

fn as_text(line: usize, value: &[u8]) -> Result<String, LdifError> {
    String::from_utf8(value.to_vec()).map_err(|_| error(line, "value is not UTF-8"))
}

/// Parses a whole LDIF text.
pub fn parse(text: &str) -> Result<Vec<Located>, LdifError> {
    let lines = logical_lines(text);
    let mut records = Vec::new();
    let mut block: Vec<(usize, String)> = Vec::new();
    let mut flush = |block: &mut Vec<(usize, String)>| -> Result<(), LdifError> {
        if !block.is_empty() {
            if let Some(record) = parse_record(block)? {
                records.push(record);
            }
            block.clear();
        }
        Ok(())
    };
    for (number, line) in lines {
        if line.trim().is_empty() {
            flush(&mut block)?;
        } else {
            block.push((number, line));
        }
    }
    flush(&mut block)?;
    Ok(records)
}

fn parse_record(block: &[(usize, String)]) -> Result<Option<Located>, LdifError> {
    let mut items = Vec::with_capacity(block.len());
    for (number, line) in block {
        if line == "-" {
            items.push((*number, "-".to_string(), Bytes::new()));
            continue;
        }
        let (name, value) = attr_value(*number, line)?;
        items.push((*number, name, value));
    }
    let mut iter = items.into_iter().peekable();
    let Some((first_line, first_name, first_value)) = iter.next() else {
        return Ok(None);
    };
    if first_name.eq_ignore_ascii_case("version") {
        if iter.peek().is_none() {
            return Ok(None);
        }
        let rest: Vec<(usize, String)> = block.iter().skip(1).cloned().collect();
        return parse_record(&rest);
    }
    if !first_name.eq_ignore_ascii_case("dn") {
        return Err(error(
            first_line,
            format!("a record must start with 'dn:', found {first_name:?}"),
        ));
    }
    let dn = as_text(first_line, &first_value)?;
    let mut changetype = None;
    if let Some((line, name, value)) = iter.peek() {
        if name.eq_ignore_ascii_case("control") {
            return Err(error(*line, "LDIF controls are not supported"));
        }
        if name.eq_ignore_ascii_case("changetype") {
            changetype = Some((*line, as_text(*line, value)?.trim().to_ascii_lowercase()));
            iter.next();
        }
    }
    let record = match changetype
        .as_ref()
        .map(|(line, kind)| (*line, kind.as_str()))
    {
        None | Some((_, "add")) => {
            let mut attributes: Vec<(String, Vec<Bytes>)> = Vec::new();
            for (line, name, value) in iter {
                if name == "-" {
                    return Err(error(line, "'-' outside a modify record"));
                }
                match attributes
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                {
                    Some((_, values)) => values.push(value),
                    None => attributes.push((name, vec![value])),
                }
            }
            Record::Add { dn, attributes }
        }
        Some((_, "delete")) => Record::Delete { dn },
        Some((_, "modrdn")) | Some((_, "moddn")) => {
            let mut new_rdn = None;
            let mut delete_old_rdn = true;
            let mut new_superior = None;
            for (line, name, value) in iter {
                let value = as_text(line, &value)?;
                match name.to_ascii_lowercase().as_str() {
                    "newrdn" => new_rdn = Some(value),
                    "deleteoldrdn" => delete_old_rdn = value.trim() == "1",
                    "newsuperior" => new_superior = Some(value),
                    other => {
                        return Err(error(
                            line,
                            format!("unexpected {other:?} in a modrdn record"),
                        ))
                    }
                }
            }
            let new_rdn =
                new_rdn.ok_or_else(|| error(first_line, "modrdn record without newrdn"))?;
            Record::ModRdn {
                dn,
                new_rdn,
                delete_old_rdn,
                new_superior,
            }
        }
        Some((_, "modify")) => {
            let mut changes: Vec<Modification> = Vec::new();
            let mut current: Option<Modification> = None;
            for (line, name, value) in iter {
                if name == "-" {
                    changes.extend(current.take());
                    continue;
                }
                match &mut current {
                    Some(change) => {
                        if !name.eq_ignore_ascii_case(&change.attribute) {
                            return Err(error(
                                line,
                                format!(
                                    "value of {name:?} inside the change of {:?} (missing '-'?)",
                                    change.attribute
                                ),
                            ));
                        }
                        change.values.push(value);
                    }
                    None => {
                        let kind = match name.to_ascii_lowercase().as_str() {
                            "add" => ModificationKind::Add,
                            "delete" => ModificationKind::Delete,
                            "replace" => ModificationKind::Replace,
                            "increment" => ModificationKind::Increment,
                            other => {
                                return Err(error(
                                    line,
                                    format!("unknown modify operation {other:?}"),
                                ))
                            }
                        };
                        current = Some(Modification {
                            kind,
                            attribute: as_text(line, &value)?.trim().to_string(),
                            values: Vec::new(),
                        });
                    }
                }
            }
            changes.extend(current.take());
            Record::Modify { dn, changes }
        }
        Some((line, other)) => return Err(error(line, format!("unknown changetype {other:?}"))),
    };
    Ok(Some(Located {
        line: first_line,
        record,
    }))
}

/// Whether a value can be written as a SAFE-STRING (RFC 2849).
fn is_safe(value: &[u8]) -> bool {
    let Some(&first) = value.first() else {
        return true;
    };
    if matches!(first, b' ' | b':' | b'<') || value.last() == Some(&b' ') {
        return false;
    }
    value
        .iter()
        .all(|&b| b.is_ascii() && b != 0 && b != b'\n' && b != b'\r')
}

fn write_line(out: &mut String, line: &str) {
    // Fold at 76 columns; continuation lines start with one space.
    let mut rest = line;
    let mut first = true;
    while !rest.is_empty() {
        let width = if first { 76 } else { 75 };
        let mut cut = rest.len().min(width);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if !first {
            out.push(' ');
        }
        out.push_str(rest.get(..cut).unwrap_or_default());
        out.push('\n');
        rest = rest.get(cut..).unwrap_or_default();
        first = false;
    }
}

fn write_value(out: &mut String, name: &str, value: &[u8], binary: bool) {
    if !binary && is_safe(value) {
        write_line(out, &format!("{name}: {}", String::from_utf8_lossy(value)));
    } else {
        write_line(
            out,
            &format!(
                "{name}:: {}",
                base64::engine::general_purpose::STANDARD.encode(value)
            ),
        );
    }
}

/// Appends one entry as a content record, followed by a blank line.
pub fn write_entry(out: &mut String, entry: &Entry, is_binary: &dyn Fn(&str) -> bool) {
    write_value(out, "dn", entry.dn.to_string().as_bytes(), false);
    for attribute in entry.attrs.iter() {
        let binary = is_binary(attribute.name);
        for value in &attribute.values {
            write_value(out, attribute.name, value, binary);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use devwb_model::Dn;

    #[test]
    fn reads_content_and_change_records() {
        let text = "version: 1\n\n# a comment\n#  folded comment\ndn: CN=a,DC=x\nobjectClass: top\nobjectClass: container\ndescription: long\n  value\nobjectGUID:: AAECAwQFBgcICQoLDA0ODw==\n\ndn: CN=a,DC=x\nchangetype: modify\nreplace: description\ndescription: new\n-\nadd: member\nmember: CN=b,DC=x\nmember: CN=c,DC=x\n-\ndelete: info\n-\n\ndn: CN=a,DC=x\nchangetype: modrdn\nnewrdn: CN=b\ndeleteoldrdn: 1\n\ndn: CN=b,DC=x\nchangetype: delete\n";
        let records = parse(text).unwrap();
        assert_eq!(records.len(), 4);
        let Record::Add { dn, attributes } = &records[0].record else {
            panic!("first is an add");
        };
        assert_eq!(records[0].line, 5);
        assert_eq!(dn, "CN=a,DC=x");
        assert_eq!(attributes[0].1.len(), 2);
        assert_eq!(attributes[1].1[0].as_ref(), b"long value");
        assert_eq!(
            attributes[2].1[0].as_ref(),
            &(0u8..16).collect::<Vec<u8>>()[..]
        );
        let Record::Modify { changes, .. } = &records[1].record else {
            panic!("second is a modify");
        };
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1].values.len(), 2);
        assert_eq!(changes[2].kind, ModificationKind::Delete);
        assert!(
            matches!(&records[2].record, Record::ModRdn { new_rdn, delete_old_rdn: true, new_superior: None, .. } if new_rdn == "CN=b")
        );
        assert!(matches!(&records[3].record, Record::Delete { dn } if dn == "CN=b,DC=x"));
    }

    #[test]
    fn reports_where_input_is_wrong() {
        assert_eq!(
            parse("cn: x\n").unwrap_err(),
            error(1, "a record must start with 'dn:', found \"cn\"")
        );
        assert_eq!(parse("dn: CN=a\nchangetype: frob\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: CN=a\nx:: !!!\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: CN=a\nnovalue\n").unwrap_err().line, 2);
    }

    #[test]
    fn writes_base64_where_needed_and_reads_back() {
        let mut entry = Entry::new(Dn::parse("CN=café,DC=x").unwrap());
        entry.attrs.set_strs("objectClass", &["top", "container"]);
        entry
            .attrs
            .set("objectGUID", vec![Bytes::from_static(&[0, 1, 2, 0xff])]);
        entry.attrs.set_str("description", " leading space");
        entry.attrs.set_str("info", &"x".repeat(100));
        let mut out = String::new();
        write_entry(&mut out, &entry, &|name| name == "objectGUID");
        assert!(
            out.starts_with("dn:: Q049Y2Fmw6ksREM9eA==\nobjectClass: top\n"),
            "{out}"
        );
        assert!(out.contains("objectGUID:: AAEC/w==\n"));
        assert!(out.contains("description:: IGxlYWRpbmcgc3BhY2U=\n"));
        assert!(out.lines().all(|l| l.len() <= 76));
        let back = parse(&out).unwrap();
        let Record::Add { dn, attributes } = &back[0].record else {
            panic!("content record");
        };
        assert_eq!(dn, "CN=café,DC=x");
        let info = attributes.iter().find(|(n, _)| n == "info").unwrap();
        assert_eq!(info.1[0].len(), 100);
    }
}
