//! `cargo xtask gen-schema [--check] [--source DIR] [--out FILE]`: derives the simulator's
//! schema table from Microsoft's published AD schema LDF files.
//!
//! The sources are the per-level class and attribute LDFs that Samba's `samba-ad-provision`
//! Debian package ships under `/usr/share/samba/setup/ad-schema/` (Windows Server 2008 R2,
//! 2012, 2012 R2 and 2016). The output, `simulator/src/schema/ad-schema.txt`, holds one
//! schema object a line: every `attributeSchema` and `classSchema` object with its real
//! attributes, tagged with the schema level at which it appears. An object whose definition
//! changes at a later level (a class that gains `mayContain` values, a new default security
//! descriptor) gets another line at that level, which replaces the earlier one from there on.
//!
//! What the generator leaves out, because the simulator derives it: `dn` (always
//! `CN=<cn>,<schema NC>`), `changetype`, `objectClass`, `objectCategory`, `adminDisplayName`
//! and `defaultObjectCategory` when they hold their usual values, `showInAdvancedViewOnly:
//! TRUE`. What it normalises: binary GUIDs become their text form, and the SID of the domain
//! where Microsoft generated the files (it appears in the `-498` Enterprise Read-only Domain
//! Controllers ACE of `domainDNS`) becomes the SDDL alias `RO`, which the simulator resolves
//! against its own forest root domain.
//!
//! `--check` regenerates in memory and fails when the committed file differs. When the LDF
//! files are absent it says so and skips the check (install `samba-ad-provision` to run it).
//! The simulator parses the table at start; it does not depend on this generator.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;

/// Where Debian's `samba-ad-provision` puts Microsoft's schema files.
const DEFAULT_SOURCE: &str = "/usr/share/samba/setup/ad-schema";

/// The committed table, relative to the workspace root.
const DEFAULT_OUT: &str = "simulator/src/schema/ad-schema.txt";

/// The levels, oldest first, with their (attributes, classes) files. The level names are the
/// short names `devwb_model::SchemaLevel` parses.
const LEVELS: [(&str, &str, &str); 4] = [
    (
        "2008r2",
        "Attributes_for_AD_DS__Windows_Server_2008_R2.ldf",
        "Classes_for_AD_DS__Windows_Server_2008_R2.ldf",
    ),
    (
        "2012",
        "Attributes_for_AD_DS__Windows_Server_2012.ldf",
        "Classes_for_AD_DS__Windows_Server_2012.ldf",
    ),
    (
        "2012r2",
        "AD_DS_Attributes__Windows_Server_2012_R2.ldf",
        "AD_DS_Classes__Windows_Server_2012_R2.ldf",
    ),
    (
        "2016",
        "AD_DS_Attributes__Windows_Server_2016.ldf",
        "AD_DS_Classes__Windows_Server_2016.ldf",
    ),
];

/// The DN suffix the LDFs use for the schema NC.
const LDF_SCHEMA_SUFFIX: &str = ",CN=Schema,CN=Configuration,DC=X";

/// Attributes whose values are binary GUIDs in the LDFs.
const GUID_ATTRIBUTES: [&str; 2] = ["schemaIDGUID", "attributeSecurityGUID"];

pub fn run(args: &[String]) -> Result<()> {
    let root = workspace_root();
    let mut check = false;
    let mut source = PathBuf::from(DEFAULT_SOURCE);
    let mut out = root.join(DEFAULT_OUT);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--source" => {
                source = PathBuf::from(args.next().context("--source needs a directory")?);
            }
            "--out" => out = PathBuf::from(args.next().context("--out needs a file")?),
            other => {
                bail!("unknown argument {other:?}: expected --check, --source DIR, --out FILE")
            }
        }
    }
    let missing: Vec<PathBuf> = LEVELS
        .iter()
        .flat_map(|(_, attributes, classes)| [source.join(attributes), source.join(classes)])
        .filter(|path| !path.is_file())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "Microsoft's schema LDF files are not in {} (missing {}); install the Debian package \
             samba-ad-provision or pass --source DIR",
            source.display(),
            missing
                .iter()
                .map(|path| path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if check {
            println!("xtask gen-schema --check: skipped: {message}");
            return Ok(());
        }
        bail!("{message}");
    }
    let generated = generate(&source)?;
    if check {
        let committed = std::fs::read_to_string(&out)
            .with_context(|| format!("could not read the committed table {}", out.display()))?;
        if committed != generated {
            let line = first_difference(&committed, &generated);
            bail!(
                "{} is stale (first difference at line {line}): run `cargo xtask gen-schema` and commit the result",
                out.display()
            );
        }
        println!("xtask gen-schema --check: {} is up to date", out.display());
        return Ok(());
    }
    std::fs::write(&out, &generated)
        .with_context(|| format!("could not write {}", out.display()))?;
    println!(
        "xtask gen-schema: wrote {} ({} lines, {} bytes)",
        out.display(),
        generated.lines().count(),
        generated.len()
    );
    Ok(())
}

/// The workspace root: xtask lives one directory below it.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The 1-based number of the first line where two texts differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut a_lines = a.lines();
    let mut b_lines = b.lines();
    let mut number = 1;
    loop {
        match (a_lines.next(), b_lines.next()) {
            (Some(x), Some(y)) if x == y => number += 1,
            (None, None) => return number,
            _ => return number,
        }
    }
}

/// One schema object as the table stores it: its kind and its attributes in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SchemaObject {
    kind: Kind,
    fields: Vec<(String, Value)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Attribute,
    Class,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Attribute => "attribute",
            Kind::Class => "class",
        }
    }
}

/// A value: text, or bytes that are not text (written base64).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Text(String),
    Binary(Vec<u8>),
}

impl SchemaObject {
    fn first(&self, name: &str) -> Option<&str> {
        self.fields.iter().find_map(|(field, value)| match value {
            Value::Text(text) if field.eq_ignore_ascii_case(name) => Some(text.as_str()),
            _ => None,
        })
    }

    /// The definition as a sorted list, so that a mere reordering of values between two
    /// levels' files does not count as a change.
    fn canonical(&self) -> Vec<(String, Value)> {
        let mut fields = self.fields.clone();
        fields.sort();
        fields
    }
}

/// Reads every level's files and renders the table.
pub fn generate(source: &Path) -> Result<String> {
    // name (lowercase lDAPDisplayName) -> the definitions by level, oldest first.
    let mut history: BTreeMap<(Kind, String), Vec<(&'static str, SchemaObject)>> = BTreeMap::new();
    let mut seen_at_previous_level: Vec<(Kind, String)> = Vec::new();
    for (level, attributes_file, classes_file) in LEVELS {
        let mut seen_here = Vec::new();
        for (file, kind) in [
            (attributes_file, Kind::Attribute),
            (classes_file, Kind::Class),
        ] {
            let path = source.join(file);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            for object in
                parse_ldf(&bytes, kind).with_context(|| format!("in {}", path.display()))?
            {
                let name = object
                    .first("lDAPDisplayName")
                    .with_context(|| {
                        format!("an object in {} has no lDAPDisplayName", path.display())
                    })?
                    .to_ascii_lowercase();
                let key = (kind, name);
                seen_here.push(key.clone());
                let versions = history.entry(key).or_default();
                let changed = versions
                    .last()
                    .is_none_or(|(_, last)| last.canonical() != object.canonical());
                if changed {
                    versions.push((level, object));
                }
            }
        }
        // The published files only ever add to the schema; a disappearing object would need a
        // removal record, which the table format does not have. Say so instead of guessing.
        for key in &seen_at_previous_level {
            if !seen_here.contains(key) {
                bail!(
                    "{} {} is in an older level's files but not in {level}'s",
                    key.0.name(),
                    key.1
                );
            }
        }
        seen_at_previous_level = seen_here;
    }

    let mut out = String::new();
    out.push_str(HEADER);
    for ((kind, _), versions) in &history {
        for (level, object) in versions {
            out.push_str(level);
            out.push('\t');
            out.push_str(kind.name());
            for (name, value) in &object.fields {
                out.push('\t');
                match value {
                    Value::Text(text) => {
                        out.push_str(name);
                        out.push('=');
                        out.push_str(&escape(text));
                    }
                    Value::Binary(bytes) => {
                        let _ = write!(
                            out,
                            "{name}::{}",
                            base64::engine::general_purpose::STANDARD.encode(bytes)
                        );
                    }
                }
            }
            out.push('\n');
        }
    }
    Ok(out)
}

const HEADER: &str = "\
# The AD schema of Windows Server 2008 R2, 2012, 2012 R2 and 2016, generated by
# `cargo xtask gen-schema` from Microsoft's published schema LDF files (Debian package
# samba-ad-provision, /usr/share/samba/setup/ad-schema/). Do not edit: regenerate.
# Microsoft's licence for these definitions permits distributing them in implementations.
#
# One schema object a line, fields separated by tabs:
#   <level> <attribute|class> <name>=<text> ... <name>::<base64> ...
# A line applies from its level on; a later line for the same object replaces it from that
# level. Text escapes: \\t tab, \\n newline, \\\\ backslash. GUIDs are in their text form.
# Left out (derived by the simulator): dn, changetype, objectClass, objectCategory, and
# adminDisplayName, defaultObjectCategory and showInAdvancedViewOnly when they hold the usual
# value; another defaultObjectCategory is written as its RDN (CN=Person), relative to the
# schema NC. The SID of the domain where the files were generated is written as the alias RO.
";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Parses one LDF file of `changetype: add` records into schema objects.
fn parse_ldf(bytes: &[u8], kind: Kind) -> Result<Vec<SchemaObject>> {
    // The files are Windows-1252 in their comments; the definitions are ASCII. Reading each
    // byte as Latin-1 keeps every byte and never fails.
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(continuation) = line.strip_prefix(' ') {
            match logical.last_mut() {
                Some((_, previous)) if !previous.is_empty() => previous.push_str(continuation),
                _ => bail!(
                    "line {}: a continuation line with nothing to continue",
                    index + 1
                ),
            }
        } else {
            logical.push((index + 1, line.to_string()));
        }
    }
    let mut objects = Vec::new();
    let mut current: Option<(usize, Vec<(String, Value)>)> = None;
    for (number, line) in logical {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if let Some((start, fields)) = current.take() {
                objects.push(finish(kind, start, fields)?);
            }
            continue;
        }
        let (name, value) = parse_line(&line).with_context(|| format!("line {number}"))?;
        match current.as_mut() {
            Some((_, fields)) => fields.push((name, value)),
            None if name.eq_ignore_ascii_case("dn") => {
                current = Some((number, vec![(name, value)]))
            }
            None if name.eq_ignore_ascii_case("version") => {}
            None => bail!("line {number}: {name:?} outside a record (expected dn:)"),
        }
    }
    if let Some((start, fields)) = current.take() {
        objects.push(finish(kind, start, fields)?);
    }
    Ok(objects)
}

fn parse_line(line: &str) -> Result<(String, Value)> {
    let (name, rest) = line.split_once(':').context("no colon in the line")?;
    if let Some(encoded) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .with_context(|| format!("the base64 value of {name} does not decode"))?;
        let value = match String::from_utf8(bytes) {
            Ok(text) if !GUID_ATTRIBUTES.contains(&name) && name != "oMObjectClass" => {
                Value::Text(text)
            }
            Ok(text) => Value::Binary(text.into_bytes()),
            Err(error) => Value::Binary(error.into_bytes()),
        };
        return Ok((name.to_string(), value));
    }
    Ok((
        name.to_string(),
        Value::Text(rest.trim_start_matches(' ').to_string()),
    ))
}

/// Turns the raw fields of one record into the table's form (see the module docs).
fn finish(kind: Kind, start: usize, raw: Vec<(String, Value)>) -> Result<SchemaObject> {
    let context = || format!("the record at line {start}");
    let dn = match raw.first() {
        Some((_, Value::Text(dn))) => dn.clone(),
        _ => bail!("{}: no text dn", context()),
    };
    let cn = raw
        .iter()
        .find_map(|(name, value)| match value {
            Value::Text(text) if name == "cn" => Some(text.clone()),
            _ => None,
        })
        .with_context(|| format!("{}: no cn", context()))?;
    if dn != format!("CN={cn}{LDF_SCHEMA_SUFFIX}") {
        bail!("{}: dn {dn:?} is not CN=<cn>{LDF_SCHEMA_SUFFIX}", context());
    }
    let expected_class = match kind {
        Kind::Attribute => "attributeSchema",
        Kind::Class => "classSchema",
    };
    let usual_category = format!("CN={cn}{LDF_SCHEMA_SUFFIX}");
    let mut fields = Vec::new();
    for (name, value) in raw.into_iter().skip(1) {
        let text = match &value {
            Value::Text(text) => Some(text.as_str()),
            Value::Binary(_) => None,
        };
        match (name.as_str(), text) {
            ("changetype", Some("add")) => continue,
            ("changetype", other) => bail!("{}: changetype {other:?}, expected add", context()),
            ("objectClass", Some("top")) => continue,
            ("objectClass", Some(class)) if class == expected_class => continue,
            ("objectClass", other) => bail!(
                "{}: objectClass {other:?} in a {expected_class} file",
                context()
            ),
            ("objectCategory", _) => continue,
            ("adminDisplayName", Some(display)) if display == cn => continue,
            ("defaultObjectCategory", Some(category)) if category == usual_category => continue,
            ("defaultObjectCategory", Some(category)) => {
                // Another class's category (user's is Person): kept as that class's RDN.
                let Some(rdn) = category.strip_suffix(LDF_SCHEMA_SUFFIX) else {
                    bail!(
                        "{}: defaultObjectCategory {category:?} is outside the schema NC",
                        context()
                    );
                };
                fields.push((name, Value::Text(rdn.to_string())));
                continue;
            }
            ("showInAdvancedViewOnly", Some("TRUE")) => continue,
            _ => {}
        }
        let value = match value {
            Value::Binary(bytes) if GUID_ATTRIBUTES.contains(&name.as_str()) => Value::Text(
                guid_text(&bytes)
                    .with_context(|| format!("{}: {name} is not 16 bytes", context()))?,
            ),
            Value::Text(text) if name == "defaultSecurityDescriptor" => {
                Value::Text(replace_generating_domain(&text))
            }
            Value::Text(text) if text.contains(LDF_SCHEMA_SUFFIX) => {
                bail!(
                    "{}: {name} holds a DN ({text:?}) the table cannot relocate",
                    context()
                )
            }
            other => other,
        };
        fields.push((name, value));
    }
    Ok(SchemaObject { kind, fields })
}

/// A GUID's text form from its 16 bytes in Microsoft's mixed-endian layout.
fn guid_text(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// Replaces `S-1-5-21-a-b-c-498` (the generating forest's Enterprise Read-only Domain
/// Controllers) with the SDDL alias `RO`, which means the same group of whatever forest the
/// descriptor is resolved in.
fn replace_generating_domain(sddl: &str) -> String {
    const PREFIX: &str = "S-1-5-21-";
    let mut out = String::with_capacity(sddl.len());
    let mut rest = sddl;
    while let Some(start) = rest.find(PREFIX) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == 'S'))
            .unwrap_or(after.len());
        let sid = &after[..end];
        if sid.ends_with("-498") && sid.split('-').count() == 8 {
            out.push_str("RO");
        } else {
            out.push_str(sid);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_record_with_continuations_and_binary_guids() {
        let ldf = "# comment\r\n\r\ndn: CN=ms-DS-Device-ID,CN=Schema,CN=Configuration,DC=X\r\nchangetype: add\r\n\
objectClass: top\r\nobjectClass: attributeSchema\r\ncn: ms-DS-Device-ID\r\nattributeID: 1.2.840.113556.1.4.2252\r\n\
adminDescription: \r\n This attribute\r\n  stores\r\nlDAPDisplayName: msDS-DeviceID\r\n\
schemaIDGUID:: x4EBw0Jj+0GyeffFZsvgpw==\r\nobjectCategory: CN=Attribute-Schema,CN=Schema,CN=Configuration,DC=X\r\n";
        let objects = parse_ldf(ldf.as_bytes(), Kind::Attribute).expect("parses");
        assert_eq!(objects.len(), 1);
        let fields = &objects[0].fields;
        assert_eq!(
            fields,
            &vec![
                ("cn".to_string(), Value::Text("ms-DS-Device-ID".into())),
                (
                    "attributeID".to_string(),
                    Value::Text("1.2.840.113556.1.4.2252".into())
                ),
                (
                    "adminDescription".to_string(),
                    Value::Text("This attribute stores".into())
                ),
                (
                    "lDAPDisplayName".to_string(),
                    Value::Text("msDS-DeviceID".into())
                ),
                (
                    "schemaIDGUID".to_string(),
                    Value::Text("c30181c7-6342-41fb-b279-f7c566cbe0a7".into())
                ),
            ]
        );
    }

    #[test]
    fn generating_domain_sid_becomes_ro() {
        assert_eq!(
            replace_generating_domain(
                "D:(OA;;CR;1131f6aa;;S-1-5-21-1-2-3-498)(A;;RP;;;S-1-5-32-557)"
            ),
            "D:(OA;;CR;1131f6aa;;RO)(A;;RP;;;S-1-5-32-557)"
        );
    }

    #[test]
    fn a_record_outside_the_schema_nc_is_refused() {
        let ldf = "dn: CN=x,DC=elsewhere\ncn: x\nlDAPDisplayName: x\n";
        assert!(parse_ldf(ldf.as_bytes(), Kind::Attribute).is_err());
    }
}
