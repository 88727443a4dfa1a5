//! Applying a plan: [`apply`] sends it through devwb-ldap's bulk apply (several connections,
//! several operations in flight on each, retries with backoff on busy/unavailable/lost
//! connections), turning the plan's changes into requests one at a time as the connections take
//! them, so only a few hundred requests exist at once.
//!
//! Convergence, operation by operation:
//! - an add that meets `entryAlreadyExists` (an earlier run, or our own attempt whose answer was
//!   lost with the connection) re-reads the object and sends the modify that makes it match, or
//!   nothing; an object at that DN with another device id or not owned is reported, not touched;
//! - a delete that meets `noSuchObject` is done (someone, or our lost attempt, deleted it);
//! - a modify that meets `noSuchObject` is reported: the object vanished after the diff, and
//!   the next run adds it.
//!
//! Killed at any point, a run leaves every device either fully written (an add is atomic) or not
//! at all; the next run recomputes the delta from the directory, and since a device's DN is
//! always `CN=<deviceId>,<container>` it cannot create a second object for the same device.

use std::time::{Duration, Instant};

use devwb_ldap::{ApplyOptions, ApplyProgress, Change, ChangeStatus, Client, Modification};
use devwb_model::Dn;
use serde::Serialize;

use crate::error::WritebackError;
use crate::mapping::DeviceAttribute;
use crate::observe::{search_attributes, ObservedDevice};
use crate::plan::{AttributeChange, DeviceAdd, DeviceModify, PlanCounts, WritebackPlan};
use crate::reads::Retrying;

/// How to apply a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritebackOptions {
    /// Connections, operations in flight, retries: passed to devwb-ldap's bulk apply.
    pub apply: ApplyOptions,
    /// Where the undo file of the objects an add met and modified is written (the plan's own
    /// deletes and modifies are recorded before the apply, by [`crate::undo::write_undo_file`]).
    /// `None`: such objects are left as they are and reported as failures, never modified
    /// without a record of what they held.
    pub undo_dir: Option<std::path::PathBuf>,
}

/// Progress of an apply, given to the callback as changes complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritebackProgress {
    /// Changes of the plan.
    pub total: usize,
    /// Changes completed.
    pub done: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Retries so far.
    pub retries: u64,
}

/// A change that did not go through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WritebackFailure {
    /// The object.
    pub dn: String,
    /// `add`, `modify` or `delete`.
    pub operation: String,
    /// The LDAP result code's name, or what failed without one.
    pub code_name: String,
    /// The message, the server's diagnostic text included.
    pub message: String,
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WritebackReport {
    /// The plan's counts.
    pub planned: PlanCounts,
    /// Devices created.
    pub added: u64,
    /// Devices updated.
    pub modified: u64,
    /// Devices deleted.
    pub deleted: u64,
    /// Adds that met an existing object and converged on it (modified or already equal).
    pub converged_existing: u64,
    /// The undo file of the existing objects those adds modified, when they modified any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converge_undo_file: Option<std::path::PathBuf>,
    /// Deletes whose object was already gone.
    pub already_deleted: u64,
    /// Changes that failed, each with the server's answer.
    pub failures: Vec<WritebackFailure>,
    /// Retries made by the bulk apply.
    pub retries: u64,
    /// Connections reopened after a loss.
    pub reconnects: u64,
    /// Wall time of the apply.
    #[serde(serialize_with = "serialize_seconds")]
    pub elapsed: Duration,
}

fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl WritebackReport {
    /// Whether every change went through.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }
}

fn parse_dn(dn: &str) -> Result<Dn, WritebackError> {
    Dn::parse(dn).map_err(|e| WritebackError::Forest(format!("planned DN {dn:?}: {e}")))
}

fn replace_mods(changes: &[AttributeChange]) -> Vec<Modification> {
    changes
        .iter()
        .map(|c| Modification::Replace(c.attribute.ldap_name().to_owned(), c.values.clone()))
        .collect()
}

/// The add's request; its values are unpacked only now, as the connections take it.
fn add_change(add: &DeviceAdd, container: &Dn) -> Result<Change, WritebackError> {
    Ok(Change::Add {
        dn: add.dn(container),
        attrs: add
            .attributes()
            .into_iter()
            .map(|(name, values)| (name.to_owned(), values))
            .collect(),
    })
}

fn modify_change(modify: &DeviceModify) -> Result<Change, WritebackError> {
    Ok(Change::Modify {
        dn: parse_dn(&modify.dn)?,
        mods: replace_mods(&modify.changes),
    })
}

/// What one planned change was, to interpret its outcome.
#[derive(Clone, Copy)]
enum Planned<'p> {
    Add(&'p DeviceAdd),
    Modify,
    Delete,
}

/// Applies a plan (see the module documentation). Fails as a whole only when the directory
/// cannot be reached at all; each change's failure is in the report.
pub fn apply(
    client: &Client,
    plan: &WritebackPlan,
    options: &WritebackOptions,
    progress: &mut dyn FnMut(&WritebackProgress),
) -> Result<WritebackReport, WritebackError> {
    let started = Instant::now();
    let mut report = WritebackReport {
        planned: plan.counts.clone(),
        ..WritebackReport::default()
    };
    let mut planned: Vec<Planned<'_>> = Vec::with_capacity(plan.operation_count());
    planned.extend(plan.adds.iter().map(Planned::Add));
    planned.extend(plan.modifies.iter().map(|_| Planned::Modify));
    planned.extend(plan.deletes.iter().map(|_| Planned::Delete));
    let total = planned.len();
    let mut existing: Vec<&DeviceAdd> = Vec::new();
    // The plan's changes become requests one at a time, as the connections take them: memory
    // holds a few hundred requests, not the whole plan twice.
    let mut invalid: Option<WritebackError> = None;
    let mut changes = (0..total).map_while(|index| match planned_change(plan, index) {
        Ok(change) => Some(change),
        Err(error) => {
            invalid = Some(error);
            None
        }
    });
    // Applied changes come back as counts: 100,000 outcomes with a DN each would cost more
    // memory than the rest of the run.
    let apply_options = devwb_ldap::ApplyOptions {
        keep_applied_outcomes: false,
        ..options.apply.clone()
    };
    let batch = client.apply_each(
        total,
        &mut changes,
        &apply_options,
        &mut |p: &ApplyProgress| {
            progress(&WritebackProgress {
                total,
                done: p.done,
                failed: p.failed,
                retries: p.retries,
            });
        },
    );
    drop(changes);
    report.retries += batch.retries;
    report.reconnects += batch.reconnects;
    report.added += batch.applied_by_operation.adds as u64;
    report.modified += batch.applied_by_operation.modifies as u64;
    report.deleted += batch.applied_by_operation.deletes as u64;
    for outcome in &batch.outcomes {
        let Some(kind) = planned.get(outcome.index).copied() else {
            continue;
        };
        match (&outcome.status, kind) {
            (ChangeStatus::Applied, _) => {}
            (ChangeStatus::AlreadyExists { .. }, Planned::Add(add)) => existing.push(add),
            (ChangeStatus::Failed { code: Some(32), .. }, Planned::Delete) => {
                report.already_deleted += 1;
            }
            (
                ChangeStatus::Failed {
                    code_name, message, ..
                },
                _,
            ) => {
                report.failures.push(WritebackFailure {
                    dn: outcome.dn.to_string(),
                    operation: outcome.operation.to_string(),
                    code_name: code_name.clone(),
                    message: message.clone(),
                });
            }
            (ChangeStatus::AlreadyExists { message }, _) => {
                report.failures.push(WritebackFailure {
                    dn: outcome.dn.to_string(),
                    operation: outcome.operation.to_string(),
                    code_name: "entryAlreadyExists".to_owned(),
                    message: message.clone(),
                });
            }
        }
    }
    // A change the plan could not express stops the sending there; what was sent is applied
    // and reported, and a rerun plans the rest again.
    if let Some(error) = invalid {
        return Err(error);
    }
    converge_existing(client, plan, &existing, options, &mut report)?;
    report.elapsed = started.elapsed();
    tracing::info!(
        added = report.added,
        modified = report.modified,
        deleted = report.deleted,
        converged = report.converged_existing,
        failed = report.failures.len(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "writeback applied"
    );
    Ok(report)
}

fn planned_change(plan: &WritebackPlan, index: usize) -> Result<Change, WritebackError> {
    let adds = plan.adds.len();
    let modifies = plan.modifies.len();
    if let Some(add) = plan.adds.get(index) {
        add_change(add, &plan.container)
    } else if let Some(modify) = plan.modifies.get(index - adds) {
        modify_change(modify)
    } else if let Some(delete) = plan.deletes.get(index - adds - modifies) {
        Ok(Change::Delete {
            dn: parse_dn(&delete.dn)?,
        })
    } else {
        Err(WritebackError::Forest(format!(
            "internal: change {index} is outside the plan"
        )))
    }
}

/// Adds that met an existing object: re-read each and send the modify that makes it match.
fn converge_existing(
    client: &Client,
    plan: &WritebackPlan,
    existing: &[&DeviceAdd],
    options: &WritebackOptions,
    report: &mut WritebackReport,
) -> Result<(), WritebackError> {
    if existing.is_empty() {
        return Ok(());
    }
    let attributes = search_attributes(plan.schema_level);
    let mut modifies = Vec::new();
    // What each modified object held before, for the undo file.
    let mut before: Vec<(DeviceModify, devwb_ldap::Entry)> = Vec::new();
    let mut reader = Retrying::new(client, options.apply.retry.clone());
    for add in existing {
        let dn = add.dn(&plan.container);
        let dn_text = dn.to_string();
        let Some(entry) =
            reader.call("re-read an existing device", |c| c.read(&dn, &attributes))?
        else {
            // Gone again between the add and the re-read: the next run adds it.
            report.failures.push(WritebackFailure {
                dn: dn_text.clone(),
                operation: "add".to_owned(),
                code_name: "entryAlreadyExists".to_owned(),
                message: "the object existed at add time and was gone when re-read; rerun"
                    .to_owned(),
            });
            continue;
        };
        let observed =
            ObservedDevice::from_entry(&dn_text, &plan.container, plan.schema_level, |n| {
                Some(entry.values(n))
            });
        let problem = match observed {
            Err(why) => Some(why),
            Ok((id, _)) if id != add.device_id => Some(format!(
                "the DN is taken by an object with msDS-DeviceID {id}"
            )),
            Ok((_, device)) if !device.owned => Some(format!(
                "the object is not owned by writeback (no {} starting with Device_)",
                DeviceAttribute::CloudAnchor.ldap_name()
            )),
            Ok((_, device)) => {
                let changes = device.changes_to(&add.values());
                if changes.is_empty() {
                    report.converged_existing += 1;
                    None
                } else if options.undo_dir.is_none() {
                    Some(
                        "the object differs and no undo directory was given to record what it \
                         holds before it is modified; left as it is"
                            .to_owned(),
                    )
                } else {
                    modifies.push(Change::Modify {
                        dn,
                        mods: replace_mods(&changes),
                    });
                    before.push((
                        DeviceModify {
                            dn: dn_text.clone(),
                            device_id: add.device_id,
                            changes,
                        },
                        entry,
                    ));
                    None
                }
            }
        };
        if let Some(message) = problem {
            report.failures.push(WritebackFailure {
                dn: dn_text.clone(),
                operation: "add".to_owned(),
                code_name: "entryAlreadyExists".to_owned(),
                message,
            });
        }
    }
    if modifies.is_empty() {
        return Ok(());
    }
    // Recorded before the first modify is sent, as the plan's own modifies are.
    if let Some(dir) = &options.undo_dir {
        let record =
            crate::undo::write_converge_undo_file(dir, &before, std::time::SystemTime::now())?;
        report.converge_undo_file = Some(record.path);
    }
    let batch = client.apply_changes(modifies, &options.apply, &mut |_| {});
    report.retries += batch.retries;
    report.reconnects += batch.reconnects;
    for outcome in batch.outcomes {
        match outcome.status {
            ChangeStatus::Applied => report.converged_existing += 1,
            ChangeStatus::Failed {
                code_name, message, ..
            } => report.failures.push(WritebackFailure {
                dn: outcome.dn.to_string(),
                operation: outcome.operation.to_string(),
                code_name,
                message,
            }),
            ChangeStatus::AlreadyExists { message } => report.failures.push(WritebackFailure {
                dn: outcome.dn.to_string(),
                operation: outcome.operation.to_string(),
                code_name: "entryAlreadyExists".to_owned(),
                message,
            }),
        }
    }
    Ok(())
}
