//! The undo file: before a run deletes or modifies a device object, what it will lose is written
//! to an LDIF file and made durable (written, fsynced, its directory fsynced), so that
//! `ldapmodify -a -f <file>` (or `ldapadd -f`) puts every deleted object back and every modified
//! attribute back to its previous values.
//!
//! - a deleted object becomes an add record with every attribute the directory returned for
//!   `*`; the attributes the directory maintains itself and refuses on an add (`objectGUID`,
//!   `whenCreated`, the USNs, ...) are kept as comments, so the record is complete and the add
//!   still goes through. A restored object gets a new `objectGUID`; its `msDS-DeviceID` (the key
//!   every reader of devices uses) is the same.
//! - a modified object becomes a modify record that replaces each attribute the run changes with
//!   the values it had (`replace:` with no value removes an attribute the run adds).
//!
//! The file is written before the first change is sent: an undo file can describe changes that
//! then failed (replaying those is harmless), never miss one that was made.
//!
//! This module reads the objects through the caller's client; it does not decide what to change.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use devwb_ldap::{Client, Entry};
use devwb_model::Dn;

use crate::error::WritebackError;
use crate::plan::{DeviceDelete, DeviceModify, WritebackPlan};

/// Attributes the directory maintains itself and refuses in an add: kept as comments.
const NOT_RESTORABLE: &[&str] = &[
    "distinguishedName",
    "name",
    "objectGUID",
    "objectSid",
    "whenCreated",
    "whenChanged",
    "uSNCreated",
    "uSNChanged",
    "instanceType",
    "objectCategory",
    "dSCorePropagationData",
    "isDeleted",
    "isCriticalSystemObject",
    "replPropertyMetaData",
    "nTSecurityDescriptor",
    "msDS-ReplAttributeMetaData",
];

/// What the undo file of one run holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndoRecord {
    /// The file.
    pub path: PathBuf,
    /// Objects recorded for a delete.
    pub deletes: u64,
    /// Objects recorded for a modify.
    pub modifies: u64,
}

/// Writes the undo file for the deletes and modifies of `plan` into `dir` (created, mode 0700 on
/// Unix: device objects are not secrets, but an undo file is nobody else's business), reading
/// each object through `client`. Returns `None` when the plan deletes and modifies nothing.
///
/// `now` names the file (`writeback-<UTC time>-<pid>.ldif`; never overwrites one).
pub fn write_undo_file(
    client: &Client,
    plan: &WritebackPlan,
    dir: &Path,
    now: SystemTime,
) -> Result<Option<UndoRecord>, WritebackError> {
    if plan.deletes.is_empty() && plan.modifies.is_empty() {
        return Ok(None);
    }
    let stamp = utc_stamp(now);
    let (path, file) = create_undo_file(dir, &stamp, "")?;
    let mut out = BufWriter::new(file);
    let mut record = UndoRecord {
        path: path.clone(),
        deletes: 0,
        modifies: 0,
    };
    write_header(&mut out, plan, &stamp).map_err(io_at(&path))?;
    let mut reads = crate::reads::Retrying::new(client, devwb_ldap::RetryPolicy::default());
    for delete in &plan.deletes {
        let dn = parse(&delete.dn)?;
        let entry = reads.call("read a device before deleting it", |c| c.read(&dn, &["*"]))?;
        match entry {
            Some(entry) => {
                write_delete(&mut out, delete, &entry).map_err(io_at(&path))?;
                record.deletes += 1;
            }
            // Gone already: the delete will find nothing, and there is nothing to keep.
            None => writeln!(out, "\n# {} was already gone when read", delete.dn)
                .map_err(io_at(&path))?,
        }
    }
    for modify in &plan.modifies {
        let dn = parse(&modify.dn)?;
        let names: Vec<&str> = modify
            .changes
            .iter()
            .map(|c| c.attribute.ldap_name())
            .collect();
        let entry = reads.call("read a device before modifying it", |c| c.read(&dn, &names))?;
        match entry {
            Some(entry) => {
                write_modify(&mut out, modify, &names, &entry).map_err(io_at(&path))?;
                record.modifies += 1;
            }
            None => writeln!(out, "\n# {} was gone when read", modify.dn).map_err(io_at(&path))?,
        }
    }
    finish_undo_file(out, &path, dir)?;
    tracing::info!(path = %path.display(), deletes = record.deletes, modifies = record.modifies, "undo file written");
    Ok(Some(record))
}

/// Writes the undo file of existing objects an add met and is about to modify (`modified`: each
/// modify and the object as read before it, with the attributes the modify replaces), into `dir`
/// as [`write_undo_file`] does, named `writeback-<UTC time>-<pid>-existing.ldif`.
pub fn write_converge_undo_file(
    dir: &Path,
    modified: &[(DeviceModify, Entry)],
    now: SystemTime,
) -> Result<UndoRecord, WritebackError> {
    let stamp = utc_stamp(now);
    let (path, file) = create_undo_file(dir, &stamp, "-existing")?;
    let mut out = BufWriter::new(file);
    writeln!(
        out,
        "# devwb writeback undo file, {stamp}: objects that were already there when writeback \
         added their device, with the values its modify replaced.\n# Restore with: ldapmodify -f <this file>"
    )
    .map_err(io_at(&path))?;
    for (modify, entry) in modified {
        let names: Vec<&str> = modify
            .changes
            .iter()
            .map(|c| c.attribute.ldap_name())
            .collect();
        write_modify(&mut out, modify, &names, entry).map_err(io_at(&path))?;
    }
    finish_undo_file(out, &path, dir)?;
    tracing::info!(path = %path.display(), modifies = modified.len(), "undo file of existing objects written");
    Ok(UndoRecord {
        path,
        deletes: 0,
        modifies: modified.len() as u64,
    })
}

/// Creates `writeback-<stamp>-<pid><suffix>.ldif` in `dir` (made private first), never over an
/// existing file: a number is added when the name is taken.
fn create_undo_file(
    dir: &Path,
    stamp: &str,
    suffix: &str,
) -> Result<(PathBuf, File), WritebackError> {
    create_private_dir(dir).map_err(io_at(dir))?;
    // Two runs of one process in the same second (sync rounds a second apart) get a number.
    let mut attempt = 1u32;
    loop {
        let number = if attempt == 1 {
            String::new()
        } else {
            format!("-{attempt}")
        };
        let name = format!(
            "writeback-{stamp}-{}{suffix}{number}.ldif",
            std::process::id()
        );
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1;
            }
            Err(error) => return Err(io_at(&path)(error)),
        }
    }
}

/// Ends an undo file and makes it durable: written, fsynced, its directory entry fsynced.
fn finish_undo_file(
    mut out: BufWriter<File>,
    path: &Path,
    dir: &Path,
) -> Result<(), WritebackError> {
    writeln!(out, "\n# end of undo file").map_err(io_at(path))?;
    let file = out.into_inner().map_err(|e| WritebackError::Io {
        path: path.to_owned(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_at(path))?;
    // The file's name must survive a crash too: sync the directory entry.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

/// An I/O error on `path`, for `map_err`.
fn io_at(path: &Path) -> impl FnOnce(io::Error) -> WritebackError + '_ {
    move |source| WritebackError::Io {
        path: path.to_owned(),
        source,
    }
}

fn parse(dn: &str) -> Result<Dn, WritebackError> {
    Dn::parse(dn).map_err(|e| WritebackError::Forest(format!("planned DN {dn:?}: {e}")))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_header(out: &mut dyn Write, plan: &WritebackPlan, stamp: &str) -> io::Result<()> {
    writeln!(out, "# devwb writeback undo file, {stamp} (UTC)")?;
    writeln!(out, "# container: {}", plan.container)?;
    writeln!(
        out,
        "# Written before the run changed anything: {} deletes, {} modifies planned.",
        plan.deletes.len(),
        plan.modifies.len()
    )?;
    writeln!(
        out,
        "# Restore with: ldapmodify -a -H ldaps://<dc> -D <admin> -W -f <this file>"
    )?;
    writeln!(
        out,
        "# (a later writeback run deletes the restored devices again unless their export keeps them)"
    )
}

fn write_delete(out: &mut dyn Write, delete: &DeviceDelete, entry: &Entry) -> io::Result<()> {
    writeln!(
        out,
        "\n# deleted: device {} ({})",
        delete.device_id, delete.reason
    )?;
    write_value(out, "dn", delete.dn.as_bytes())?;
    writeln!(out, "changetype: add")?;
    // objectClass first: an add needs it, and a reader expects it there.
    let is_system = |name: &str| NOT_RESTORABLE.iter().any(|n| n.eq_ignore_ascii_case(name));
    let mut names: Vec<&String> = entry.attrs.keys().collect();
    names.sort_by_key(|n| (!n.eq_ignore_ascii_case("objectClass"), n.as_str()));
    for name in names.iter().filter(|n| !is_system(n)) {
        for value in &entry.attrs[name.as_str()] {
            write_value(out, name, value)?;
        }
    }
    let system: Vec<&&String> = names.iter().filter(|n| is_system(n)).collect();
    if !system.is_empty() {
        writeln!(out, "# set by the directory, not restorable by an add:")?;
        for name in system {
            for value in &entry.attrs[name.as_str()] {
                let mut line = Vec::new();
                write_value(&mut line, name, value)?;
                write!(out, "# {}", String::from_utf8_lossy(&line))?;
            }
        }
    }
    Ok(())
}

fn write_modify(
    out: &mut dyn Write,
    modify: &DeviceModify,
    names: &[&str],
    entry: &Entry,
) -> io::Result<()> {
    writeln!(
        out,
        "\n# modified: device {}: the previous values of {}",
        modify.device_id,
        names.join(", ")
    )?;
    write_value(out, "dn", modify.dn.as_bytes())?;
    writeln!(out, "changetype: modify")?;
    for name in names {
        writeln!(out, "replace: {name}")?;
        for value in entry.values(name) {
            write_value(out, name, value)?;
        }
        writeln!(out, "-")?;
    }
    Ok(())
}

fn write_value(out: &mut dyn Write, name: &str, value: &[u8]) -> io::Result<()> {
    crate::plan::write_ldif_value(out, name, value)
}

/// `YYYYMMDDTHHMMSSZ` for a file name, from the system clock's seconds (UTC; proleptic
/// Gregorian).
fn utc_stamp(now: SystemTime) -> String {
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = devwb_model::civil::civil_from_days(days as i64);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_times() {
        let at = |s: u64| utc_stamp(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(1_796_197_445), "20261202T074405Z");
        assert_eq!(at(4_107_542_399), "21000228T235959Z");
    }
}
