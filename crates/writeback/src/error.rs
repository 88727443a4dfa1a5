//! The one error type of the writeback library, and the per-record problems of a device export.
//!
//! [`WritebackError`] is for failures that stop a run (a file that cannot be read, JSON that is
//! not JSON, a directory that cannot be searched). A bad *record* is not an error of the run: it
//! is a [`RecordError`], reported and skipped, and the other records carry on.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

/// A failure that stops a writeback run. Messages are lowercase and name what and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WritebackError {
    /// A file or directory of the export could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A JSON document is not well formed, so nothing after the error can be trusted.
    #[error("{file}: line {line}, column {column}: not valid JSON: {message}")]
    Json {
        /// The file (or bundled export) name.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The export's shape is wrong as a whole (for example a page without `value`).
    #[error("{file}: {message}")]
    Export {
        /// The file (or bundled export) name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The directory could not be read or written.
    #[error(transparent)]
    Ldap(#[from] devwb_ldap::Error),
    /// The target forest is not usable for writeback (for example no device classes).
    #[error("{0}")]
    Forest(String),
}

/// Where a record sits in the export: the position in a page's `value` array, or a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordLocation {
    /// 1-based position in the `value` array of a Graph page (the first device is record 1, as
    /// the first line of a JSON Lines file is line 1).
    Position(u64),
    /// 1-based line of a JSON Lines file.
    Line(u64),
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordLocation::Position(position) => write!(f, "record {position}"),
            RecordLocation::Line(line) => write!(f, "line {line}"),
        }
    }
}

/// A file and a place in it: enough to find one record again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordRef {
    /// The file (or bundled export) name. Shared between all records of one file.
    #[serde(serialize_with = "serialize_arc_str")]
    pub file: Arc<str>,
    /// The record's place in the file.
    pub location: RecordLocation,
}

fn serialize_arc_str<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.location)
    }
}

/// One thing wrong with one field of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field's JSON path inside the record, e.g. `alternativeSecurityIds[0].key`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A record of the export that was reported and skipped: nothing is written for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct RecordError {
    /// Where the record is.
    pub record: RecordRef,
    /// The record's `deviceId` as written, when it had one (to help find it).
    pub device_id: Option<String>,
    /// Every problem found, in field order; never empty.
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.record)?;
        if let Some(id) = &self.device_id {
            write!(f, " (deviceId {id:?})")?;
        }
        for (n, p) in self.problems.iter().enumerate() {
            let sep = if n == 0 { ": " } else { "; " };
            write!(f, "{sep}field {}: {}", p.field, p.problem)?;
        }
        Ok(())
    }
}
