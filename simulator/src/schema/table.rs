//! Reads the committed schema table (`ad-schema.txt`, written by `cargo xtask gen-schema`
//! from Microsoft's published LDFs) into raw schema objects.
//!
//! The format is one object a line: `<level> TAB <attribute|class> TAB name=text ... name::base64`.
//! A line applies from its level on; a later line for the same object replaces it. This module
//! only parses; [`super::Schema`] interprets the fields. It does not read files at run time:
//! the table is compiled in with `include_str!`.

use base64::Engine as _;
use devwb_model::SchemaLevel;

/// The committed table.
pub(crate) const TABLE: &str = include_str!("ad-schema.txt");

/// Whether an object is an `attributeSchema` or a `classSchema`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Attribute,
    Class,
}

/// One field value of a schema object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawValue {
    Text(String),
    Binary(Vec<u8>),
}

impl RawValue {
    /// The value as bytes, as it is stored in a directory entry.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            RawValue::Text(text) => text.as_bytes(),
            RawValue::Binary(bytes) => bytes,
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawObject {
    /// The level from which this definition applies.
    pub level: SchemaLevel,
    pub kind: ObjectKind,
    /// The fields in the order of Microsoft's file, multi-valued fields repeated.
    pub fields: Vec<(String, RawValue)>,
}

impl RawObject {
    /// The first text value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.fields.iter().find_map(|(field, value)| match value {
            RawValue::Text(text) if field.eq_ignore_ascii_case(name) => Some(text.as_str()),
            _ => None,
        })
    }

    /// Every text value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter_map(move |(field, value)| match value {
                RawValue::Text(text) if field.eq_ignore_ascii_case(name) => Some(text.as_str()),
                _ => None,
            })
    }
}

/// A malformed line of the table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("schema table line {line}: {reason}")]
pub struct TableError {
    pub line: usize,
    pub reason: String,
}

/// Parses the whole table. Comment lines start with `#`.
pub fn parse(text: &str) -> Result<Vec<RawObject>, TableError> {
    let mut objects = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        objects.push(parse_line(line).map_err(|reason| TableError {
            line: index + 1,
            reason,
        })?);
    }
    Ok(objects)
}

fn parse_line(line: &str) -> Result<RawObject, String> {
    let mut parts = line.split('\t');
    let level_text = parts.next().unwrap_or_default();
    let level: SchemaLevel = level_text
        .parse()
        .map_err(|_| format!("unknown level {level_text:?}"))?;
    let kind = match parts.next() {
        Some("attribute") => ObjectKind::Attribute,
        Some("class") => ObjectKind::Class,
        other => return Err(format!("unknown kind {other:?}")),
    };
    let mut fields = Vec::new();
    for part in parts {
        if let Some((name, encoded)) = part.split_once("::") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|error| format!("field {name}: bad base64: {error}"))?;
            fields.push((name.to_string(), RawValue::Binary(bytes)));
        } else if let Some((name, text)) = part.split_once('=') {
            fields.push((name.to_string(), RawValue::Text(unescape(text)?)));
        } else {
            return Err(format!("field {part:?} has neither = nor ::"));
        }
    }
    let object = RawObject {
        level,
        kind,
        fields,
    };
    if object.first("lDAPDisplayName").is_none() {
        return Err("no lDAPDisplayName".to_string());
    }
    Ok(object)
}

fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            other => return Err(format!("bad escape \\{other:?} in {text:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_table_parses_completely() {
        let objects = parse(TABLE).expect("the committed table parses");
        assert!(objects.len() > 1700, "only {} objects", objects.len());
        let device: Vec<&RawObject> = objects
            .iter()
            .filter(|o| {
                o.kind == ObjectKind::Class && o.first("lDAPDisplayName") == Some("msDS-Device")
            })
            .collect();
        assert_eq!(device.len(), 2, "msDS-Device at 2012 R2 and again at 2016");
        assert_eq!(device[0].level, SchemaLevel::W2012R2);
        assert_eq!(device[1].level, SchemaLevel::W2016);
    }

    #[test]
    fn escapes_and_binary_fields_decode() {
        let objects = parse("2012\tattribute\tlDAPDisplayName=x\tadminDescription=a\\tb\\\\c\toMObjectClass::KwwCh3McAIVK\n")
            .expect("parses");
        assert_eq!(objects[0].first("adminDescription"), Some("a\tb\\c"));
        assert_eq!(
            objects[0].fields[2].1,
            RawValue::Binary(vec![0x2b, 0x0c, 0x02, 0x87, 0x73, 0x1c, 0x00, 0x85, 0x4a])
        );
        assert!(parse("2003\tclass\tlDAPDisplayName=x").is_err());
        assert!(parse("2012\tclass\tcn=x").is_err());
    }
}
