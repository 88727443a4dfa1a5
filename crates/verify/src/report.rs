//! The verify report: plain data, serialisable, with no opinion about how it is shown.
//!
//! A [`Report`] is a list of [`Check`]s in a fixed order. Each check has a stable kebab-case
//! id (scripts match on it), a title for people, a [`Status`], the evidence found (DNs and
//! values) and, when it did not pass, a concrete remedy: the command or `dsacls` line to run.
//!
//! This module does not decide exit codes or colours; the command line does that from
//! [`Report::outcome`].

use serde::{Deserialize, Serialize};

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// The check passed.
    Pass,
    /// The check failed: device writeback will not work until the remedy is applied.
    Fail,
    /// Something is unusual but does not stop device writeback.
    Warn,
    /// The check did not run; `why` says what it needed.
    Skipped {
        /// What the check needed and did not have, for example "no connector password given".
        why: String,
    },
}

impl Status {
    /// A short lowercase word for the status: `pass`, `fail`, `warn`, `skipped`.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Skipped { .. } => "skipped",
        }
    }
}

/// One named value found in the directory, for example `msDS-DeviceLocation` and its DN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What the value is: an attribute name, "object", "ACE", ...
    pub label: String,
    /// The value as found, or a sentence saying it was absent.
    pub value: String,
}

impl Evidence {
    /// Evidence from a label and anything printable.
    pub fn new(label: impl Into<String>, value: impl ToString) -> Evidence {
        Evidence {
            label: label.into(),
            value: value.to_string(),
        }
    }
}

/// A remedy: what to do, and the commands that do it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// One sentence saying what must change.
    pub summary: String,
    /// Commands to run, in order, each ready to paste (PowerShell, dsacls or devwb).
    pub commands: Vec<String>,
}

impl Remedy {
    /// A remedy with a summary and no commands yet.
    pub fn new(summary: impl Into<String>) -> Remedy {
        Remedy {
            summary: summary.into(),
            commands: Vec::new(),
        }
    }

    /// Adds a command to run.
    pub fn command(mut self, command: impl Into<String>) -> Remedy {
        self.commands.push(command.into());
        self
    }
}

/// What [`Remedy`]-carrying failures `verify --fix` may repair: each failed check says which
/// part of the preparation it concerns, so the command line can hand the plan to prepare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fixable {
    /// Nothing prepare can do (schema too old, account in another forest, ...).
    No,
    /// Prepare repairs it by converging the objects and ACEs.
    ByPrepare,
    /// Only after the user names the duplicate objects to delete (`--delete-duplicate <DN>`).
    ByDeletingDuplicates,
}

/// One check of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable kebab-case identifier, for example `schema-level`.
    pub id: String,
    /// What is checked, for people.
    pub title: String,
    /// The outcome.
    #[serde(flatten)]
    pub status: Status,
    /// What was found.
    pub evidence: Vec<Evidence>,
    /// What to do, when the check did not pass.
    pub remedy: Option<Remedy>,
    /// Whether `verify --fix` can repair a failure of this check.
    pub fixable: Fixable,
}

/// The whole verdict: did everything pass, or did something fail?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every check passed, warned or was skipped.
    Passed,
    /// At least one check failed.
    Failed,
}

/// The report of one verify run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The forest, as its root domain's DNS name (`contoso.lab`).
    pub forest: String,
    /// The domain that receives devices, as a DN.
    pub domain: String,
    /// The connector account as the user named it, when one was named.
    pub connector_account: Option<String>,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
    /// `failed` when any check failed.
    pub outcome: Outcome,
}

impl Report {
    /// Builds a report and computes its outcome from the checks.
    pub fn new(
        forest: String,
        domain: String,
        connector_account: Option<String>,
        checks: Vec<Check>,
    ) -> Report {
        let outcome = if checks.iter().any(|check| check.status == Status::Fail) {
            Outcome::Failed
        } else {
            Outcome::Passed
        };
        Report {
            forest,
            domain,
            connector_account,
            checks,
            outcome,
        }
    }

    /// The check with this id, if the report has it.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.id == id)
    }

    /// The checks that failed, in report order.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|check| check.status == Status::Fail)
    }

    /// Counts of pass, fail, warn and skipped, in that order.
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for check in &self.checks {
            let slot = match check.status {
                Status::Pass => 0,
                Status::Fail => 1,
                Status::Warn => 2,
                Status::Skipped { .. } => 3,
            };
            counts[slot] += 1;
        }
        counts
    }
}
