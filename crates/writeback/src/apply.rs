//! Talking to the directory: find the target, read the container into the diff, apply a plan.
//!
//! - [`discover`] reads the rootDSE, the schema level (refusing a forest below 2012 R2), the
//!   forest's domain SIDs (for the same-forest rule) and the device container, which is what the
//!   `DeviceRegistrationService` object's `msDS-DeviceLocation` names (or an explicit override).
//! - [`observe`] reads the container with a paged one-level search of `msDS-Device` objects,
//!   asking only for the mapped attributes, into [`ObservedDevices`].
//! - [`apply`] sends the plan through devwb-ldap's bulk apply (several connections, several
//!   operations in flight on each, retries with backoff on busy/unavailable/lost connections),
//!   turning the plan's changes into requests one at a time as the connections take them, so
//!   only a few hundred requests exist at once.
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

use std::collections::HashMap;
use std::time::{Duration, Instant};

use devwb_ldap::{ApplyOptions, ApplyProgress, Change, ChangeStatus, Client, Modification, Scope};
use devwb_model::{Dn, SchemaLevel, Sid};
use serde::Serialize;

use crate::diff::{
    search_attributes, AttributeChange, DeviceAdd, DeviceModify, ObservedDevice, ObservedDevices,
    PlanCounts, PlanOptions, Planner, WritebackPlan, DEVICE_FILTER,
};
use crate::error::WritebackError;
use crate::mapping::{DeviceAttribute, ForestScope};
use crate::source::DeviceSource;

/// Where devices go and what the forest allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The device container.
    pub container: Dn,
    /// Domain SIDs and schema level.
    pub scope: ForestScope,
}

/// Finds the target of a writeback on the connected forest (see the module documentation).
pub fn discover(client: &Client, container: Option<Dn>) -> Result<Target, WritebackError> {
    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
    let root = reads.call("read the rootDSE", Client::root_dse)?;
    let version = reads.call("read the schema version", |c| {
        c.schema_version(&root.schema_nc)
    })?;
    let schema_level = match version.level() {
        Some(level) if level >= SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK => level,
        _ => {
            return Err(WritebackError::Forest(format!(
                "the forest's schema objectVersion is {}: device writeback needs Windows Server \
                 2012 R2 (69) or later",
                version.object_version
            )))
        }
    };
    let domains = reads.call("read the forest's domains", |c| c.forest_domains(&root))?;
    let mut domain_sids: Vec<Sid> = domains.domains.iter().filter_map(|d| d.sid).collect();
    // The naming contexts this server holds that are domain heads give their SID too: a
    // fallback for a server whose crossRefs cannot be read, and never wrong.
    for nc in &root.naming_contexts {
        if let Ok(Some(head)) =
            reads.call("read a naming context head", |c| c.read(nc, &["objectSid"]))
        {
            if let Some(sid) = head
                .first_bytes("objectSid")
                .and_then(|b| Sid::from_bytes(b).ok())
            {
                if !domain_sids.contains(&sid) {
                    domain_sids.push(sid);
                }
            }
        }
    }
    if domain_sids.is_empty() {
        return Err(WritebackError::Forest(
            "no domain SID of this forest could be read: cannot decide which owners are in it"
                .to_owned(),
        ));
    }
    let container = match container {
        Some(dn) => dn,
        None => device_location(&mut reads, &root.configuration_nc, &root.root_domain_nc)?,
    };
    if reads
        .call("read the device container", |c| {
            c.read(&container, &["objectClass"])
        })?
        .is_none()
    {
        return Err(WritebackError::Forest(format!(
            "the device container {container} does not exist: run `devwb prepare` first"
        )));
    }
    Ok(Target {
        container,
        scope: ForestScope {
            domain_sids,
            schema_level,
        },
    })
}

/// The `msDS-DeviceLocation` of the forest's DeviceRegistrationService.
fn device_location(
    reads: &mut Retrying<'_>,
    configuration_nc: &Dn,
    root_domain: &Dn,
) -> Result<Dn, WritebackError> {
    let dns = devwb_ldap::PreparationDns::new(configuration_nc, root_domain)?;
    let attribute = devwb_model::schema::attr::DEVICE_LOCATION;
    let not_prepared = || {
        WritebackError::Forest(format!(
            "{} has no {attribute}: the forest is not prepared for device writeback; run \
             `devwb prepare` (or name the container with --container)",
            dns.registration_service
        ))
    };
    let service = reads
        .call("read the DeviceRegistrationService", |c| {
            c.read(&dns.registration_service, &[attribute])
        })?
        .ok_or_else(not_prepared)?;
    let location = service.first_dn(attribute)?.ok_or_else(not_prepared)?;
    Ok(location)
}

/// Reads the device container into the diff's index.
pub fn observe(client: &Client, target: &Target) -> Result<ObservedDevices, WritebackError> {
    let started = Instant::now();
    let mut observed = ObservedDevices::new(target.container.clone(), target.scope.schema_level);
    let attributes = search_attributes(target.scope.schema_level);
    // Streamed page by page into the index: the entries themselves are never all in memory.
    Retrying::new(client, devwb_ldap::RetryPolicy::default()).call(
        "read the device container",
        |c| {
            // A retried read starts over.
            observed = ObservedDevices::new(target.container.clone(), target.scope.schema_level);
            c.search_each(
                &target.container,
                Scope::OneLevel,
                DEVICE_FILTER,
                &attributes,
                &mut |entry| {
                    let dn = entry.dn.to_string();
                    observed.insert_entry(&dn, |name| Some(entry.values(name)));
                },
            )
        },
    )?;
    tracing::info!(
        devices = observed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "device container read"
    );
    Ok(observed)
}

/// Reads the container and streams the source into a plan.
pub fn plan(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    options: PlanOptions,
) -> Result<WritebackPlan, WritebackError> {
    plan_observed(observe(client, target)?, target, source, options)
}

/// Streams the source into a plan against a container already read with [`observe`] (a caller
/// that reads the source from elsewhere meanwhile, as `sync` does, observes first).
pub fn plan_observed(
    observed: ObservedDevices,
    target: &Target,
    source: &DeviceSource,
    options: PlanOptions,
) -> Result<WritebackPlan, WritebackError> {
    let mut planner = Planner::new(observed, target.scope.clone(), options);
    let summary = planner.push_source(source)?;
    Ok(planner.finish(&summary))
}

/// Threads reading the objects of a partial round's devices.
const LISTED_READERS: usize = 4;
/// Removed devices are looked up by their cloud anchor this many to a search.
const ANCHOR_LOOKUP_BATCH: usize = 100;

/// Reads only the objects of the devices a partial round names: `device_ids`, and the removed
/// devices whose device id is known, by base reads of `CN=<deviceId>,<container>` (an object of
/// such a device at another DN is not seen; the next full round finds it; a removed device's
/// object counts only when its `msDS-CloudAnchor` names that object id); removed devices known
/// only by their Entra object id by searches on `msDS-CloudAnchor` (`Device_<objectId>`, as devwb
/// writes it), 100 ids to a search, which a directory without an index on the anchor answers by
/// scanning the container: the caller should know the device ids. Returns the index and the
/// device ids of the objects of the removed devices.
pub fn observe_listed(
    client: &Client,
    target: &Target,
    device_ids: &[devwb_model::Guid],
    removed: &[RemovedDevice],
) -> Result<(ObservedDevices, Vec<devwb_model::Guid>), WritebackError> {
    let started = Instant::now();
    let container = &target.container;
    let level = target.scope.schema_level;
    let mut observed = ObservedDevices::new(container.clone(), level);
    let attributes = search_attributes(level);
    // Removed devices whose device id the caller knows are read like the listed ones; the
    // others are searched for by their anchor below.
    let known_removed: HashMap<u128, devwb_model::Guid> = removed
        .iter()
        .filter_map(|r| Some((r.device_id?.as_u128(), r.object_id)))
        .collect();
    let unknown_removed: Vec<devwb_model::Guid> = removed
        .iter()
        .filter(|r| r.device_id.is_none())
        .map(|r| r.object_id)
        .collect();
    let mut all_ids: Vec<devwb_model::Guid> = device_ids.to_vec();
    all_ids.extend(removed.iter().filter_map(|r| r.device_id));
    all_ids.sort();
    all_ids.dedup();
    let device_ids = &all_ids[..];
    let mut removed_found = Vec::new();
    // A few readers share the connection (its requests are multiplexed): a round of 1,000
    // devices is latency-bound, one read after another would be four times slower.
    let chunk = device_ids.len().div_ceil(LISTED_READERS).max(1);
    let read: Vec<Result<Vec<devwb_ldap::Entry>, WritebackError>> = std::thread::scope(|scope| {
        let readers: Vec<_> = device_ids
            .chunks(chunk)
            .map(|ids| {
                let attributes = &attributes;
                scope.spawn(move || {
                    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
                    let mut entries = Vec::with_capacity(ids.len());
                    for id in ids {
                        let dn = crate::diff::device_dn(container, id);
                        if let Some(entry) =
                            reads.call("read a device object", |c| c.read(&dn, attributes))?
                        {
                            entries.push(entry);
                        }
                    }
                    Ok(entries)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|reader| {
                reader.join().unwrap_or_else(|_| {
                    Err(WritebackError::Forest(
                        "a reader of device objects stopped unexpectedly".to_owned(),
                    ))
                })
            })
            .collect()
    });
    let anchor = DeviceAttribute::CloudAnchor.ldap_name();
    for entries in read {
        for entry in entries? {
            let dn = entry.dn.to_string();
            match ObservedDevice::from_entry(&dn, container, level, |name| Some(entry.values(name)))
            {
                Ok((id, device)) => {
                    // A removed device's object is taken for it only when its anchor names
                    // that device's object id.
                    if let Some(object_id) = known_removed.get(&id.as_u128()) {
                        if entry.first_bytes(anchor)
                            == Some(crate::mapping::cloud_anchor(object_id).as_slice())
                        {
                            removed_found.push(id);
                        }
                    }
                    observed.insert(id, device);
                }
                // Not a usable device: recorded as such, left alone.
                Err(_) => observed.insert_entry(&dn, |name| Some(entry.values(name))),
            }
        }
    }
    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
    let mut removed = removed_found;
    for batch in unknown_removed.chunks(ANCHOR_LOOKUP_BATCH) {
        let terms: String = batch
            .iter()
            .map(|id| format!("({anchor}={}{id})", crate::mapping::CLOUD_ANCHOR_PREFIX))
            .collect();
        let filter = format!("(&{DEVICE_FILTER}(|{terms}))");
        let mut found = Vec::new();
        reads.call("find devices that left Entra", |c| {
            found.clear();
            c.search_each(
                container,
                Scope::OneLevel,
                &filter,
                &attributes,
                &mut |entry| found.push(entry),
            )
        })?;
        for entry in found {
            let dn = entry.dn.to_string();
            match ObservedDevice::from_entry(&dn, container, level, |name| Some(entry.values(name)))
            {
                Ok((id, device)) => {
                    removed.push(id);
                    observed.insert(id, device);
                }
                Err(why) => tracing::warn!(%why, "a device that left Entra has an unusable object"),
            }
        }
    }
    tracing::info!(
        listed = device_ids.len(),
        removed = removed.len(),
        found = observed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "device objects of a partial round read"
    );
    Ok((observed, removed))
}

/// A device a delta round names as gone: its Entra object id, and its device id when the caller
/// knows it (from an earlier listing); otherwise its object is searched for by its anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedDevice {
    /// Graph `id`.
    pub object_id: devwb_model::Guid,
    /// Graph `deviceId`, when known.
    pub device_id: Option<devwb_model::Guid>,
}

/// Plans a partial round (a Graph delta round): reads only the objects of the devices `source`
/// lists and of `removed_object_ids` (see [`observe_listed`]), and plans with
/// [`Planner::partial`]. The source is read into memory: a round is its changes, not the tenant.
pub fn plan_partial(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    removed: &[RemovedDevice],
    options: PlanOptions,
    owned_in_container: u64,
) -> Result<WritebackPlan, WritebackError> {
    let (records, summary) = source.read_all()?;
    let mut listed: Vec<devwb_model::Guid> = records
        .iter()
        .filter_map(|record| match record {
            crate::source::SourceRecord::Device(device) => Some(device.device_id),
            crate::source::SourceRecord::Bad(error) => error
                .device_id
                .as_deref()
                .and_then(|id| devwb_model::Guid::parse(id).ok()),
        })
        .collect();
    listed.sort();
    listed.dedup();
    let (observed, removed) = observe_listed(client, target, &listed, removed)?;
    let mut planner = Planner::partial(observed, target.scope.clone(), options, owned_in_container);
    for record in records {
        planner.push(record);
    }
    for id in removed {
        planner.remove(id);
    }
    Ok(planner.finish(&summary))
}

/// How to apply a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritebackOptions {
    /// Connections, operations in flight, retries: passed to devwb-ldap's bulk apply.
    pub apply: ApplyOptions,
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

fn add_change(add: &DeviceAdd) -> Result<Change, WritebackError> {
    Ok(Change::Add {
        dn: parse_dn(&add.dn)?,
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
        add_change(add)
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
    let mut reader = Retrying::new(client, options.apply.retry.clone());
    for add in existing {
        let dn = parse_dn(&add.dn)?;
        let Some(entry) =
            reader.call("re-read an existing device", |c| c.read(&dn, &attributes))?
        else {
            // Gone again between the add and the re-read: the next run adds it.
            report.failures.push(WritebackFailure {
                dn: add.dn.clone(),
                operation: "add".to_owned(),
                code_name: "entryAlreadyExists".to_owned(),
                message: "the object existed at add time and was gone when re-read; rerun"
                    .to_owned(),
            });
            continue;
        };
        let observed =
            ObservedDevice::from_entry(&add.dn, &plan.container, plan.schema_level, |n| {
                Some(entry.values(n))
            });
        let problem = match observed {
            Err(why) => Some(why),
            Ok((id, _)) if id != add.device.device_id => Some(format!(
                "the DN is taken by an object with msDS-DeviceID {id}"
            )),
            Ok((_, device)) if !device.owned => Some(format!(
                "the object is not owned by writeback (no {} starting with Device_)",
                DeviceAttribute::CloudAnchor.ldap_name()
            )),
            Ok((_, device)) => {
                let changes = device.changes_to(&add.device.values);
                if changes.is_empty() {
                    report.converged_existing += 1;
                } else {
                    modifies.push(Change::Modify {
                        dn,
                        mods: replace_mods(&changes),
                    });
                }
                None
            }
        };
        if let Some(message) = problem {
            report.failures.push(WritebackFailure {
                dn: add.dn.clone(),
                operation: "add".to_owned(),
                code_name: "entryAlreadyExists".to_owned(),
                message,
            });
        }
    }
    if modifies.is_empty() {
        return Ok(());
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

/// Runs reads with retries: busy and unavailable answers are retried with backoff, and a lost
/// connection is reopened first (a bulk apply may have seen the client's own connection drop,
/// and a read in the middle of a run should not end it).
pub(crate) struct Retrying<'c> {
    client: &'c Client,
    reconnected: Option<Client>,
    retry: devwb_ldap::RetryPolicy,
}

impl<'c> Retrying<'c> {
    pub(crate) fn new(client: &'c Client, retry: devwb_ldap::RetryPolicy) -> Retrying<'c> {
        Retrying {
            client,
            reconnected: None,
            retry,
        }
    }

    pub(crate) fn call<T>(
        &mut self,
        what: &str,
        mut operation: impl FnMut(&Client) -> Result<T, devwb_ldap::Error>,
    ) -> Result<T, WritebackError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.reconnected.as_ref().unwrap_or(self.client);
            match operation(client) {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() && attempt < self.retry.max_attempts => {
                    tracing::debug!(what, attempt, %error, "read failed, retrying");
                    std::thread::sleep(self.retry.backoff(attempt));
                    if error.is_connection_lost() {
                        match self.client.reconnect() {
                            Ok(fresh) => self.reconnected = Some(fresh),
                            Err(error) => tracing::debug!(%error, "reconnect failed"),
                        }
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// Discovers, plans and applies in one call (what `devwb writeback` does without `--dry-run`).
pub fn run(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    plan_options: PlanOptions,
    options: &WritebackOptions,
    progress: &mut dyn FnMut(&WritebackProgress),
) -> Result<(WritebackPlan, WritebackReport), WritebackError> {
    let plan = plan(client, target, source, plan_options)?;
    let report = apply(client, &plan, options, progress)?;
    Ok((plan, report))
}

/// The device ids the export wants in the container: records that pass their checks and are in
/// scope, the first of repeated ids. What verify's device comparison expects after a run.
pub fn desired_device_ids(
    source: &DeviceSource,
    scope: &ForestScope,
) -> Result<Vec<devwb_model::Guid>, WritebackError> {
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    source.for_each(&mut |record| {
        if let crate::source::SourceRecord::Device(device) = record {
            if crate::mapping::map_device(&device, scope).is_ok() && seen.insert(device.device_id) {
                ids.push(device.device_id);
            }
        }
    })?;
    Ok(ids)
}
