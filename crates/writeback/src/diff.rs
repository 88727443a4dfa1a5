//! The delta: what the directory holds against what the export wants, as a plan of plain data.
//!
//! The directory side comes first, read into [`ObservedDevices`] (see [`crate::observe`]); the
//! export is then streamed through a [`Planner`], device by device; only devices that need a
//! write keep their values (in the plan).
//!
//! Decisions, in one place:
//! - add: in scope and absent; modify: in scope, present, owned, and some attribute hash differs
//!   (the modify replaces exactly the attributes that differ: `replace` is idempotent, so a
//!   retried modify converges, where add/delete of single values would fail on the retry);
//! - delete: present and owned (see [`crate::mapping::is_owned_by_writeback`]) but not desired:
//!   it left Entra or left scope. A bad record whose deviceId was readable protects that device.
//! - deletes are withheld, all of them, when the export cannot be the whole tenant, because then
//!   "absent from the export" proves nothing and bad input must lose no data (see
//!   [`DeletesWithheld`]): an export with no device, an export whose devices carry no
//!   `registeredOwners` (made without the expansion) or whose owners carry no on-premises SID, an
//!   export the source calls incomplete (a broken page chain, JSON Lines without its end line),
//!   a bad record whose deviceId could not be read; and when there are more deletes than the
//!   run's limit ([`DeleteLimit`], 500 by default in the spirit of Entra Connect's export deletion
//!   threshold). Adds and modifies still go ahead: they lose nothing.
//! - a present object that writeback does not own is never touched: its device is skipped with
//!   the reason.
//!
//! This module does no IO and knows nothing of LDAP connections.

use std::collections::HashMap;

use devwb_model::Guid;

use crate::error::{RecordError, RecordRef, WritebackError};
use crate::mapping::{map_device, DesiredDevice, ForestScope, SkipReason};
use crate::observe::{Fate, ObservedDevices};
use crate::plan::{
    DeleteReason, DeletesWithheld, DeviceAdd, DeviceDelete, DeviceModify, PlanCounts,
    SkippedDevice, WritebackPlan,
};
use crate::source::{DeviceSource, SourceRecord, SourceSummary};

/// A record of the export after the work that needs no planner state: checked, and mapped for
/// the forest (or the reason it is out of scope).
#[derive(Debug)]
// Nearly every record is a device: boxing that variant would cost an allocation per device.
#[allow(clippy::large_enum_variant)]
pub enum PreparedRecord {
    /// A record that did not pass the checks.
    Bad(RecordError),
    /// A device and what it maps to.
    Device {
        /// Where it is in the export.
        record: RecordRef,
        /// Its device id.
        device_id: Guid,
        /// Its Entra object id.
        object_id: Guid,
        /// Its AD form for this forest, or why it is skipped.
        mapped: Result<DesiredDevice, SkipReason>,
        /// What it says about its owners.
        owners: OwnerEvidence,
    },
}

impl PreparedRecord {
    /// Maps a checked record for a forest.
    pub fn prepare(record: SourceRecord, scope: &ForestScope) -> PreparedRecord {
        match record {
            SourceRecord::Bad(error) => PreparedRecord::Bad(error),
            SourceRecord::Device(device) => PreparedRecord::Device {
                owners: OwnerEvidence::of(&device),
                mapped: map_device(&device, scope),
                device_id: device.device_id,
                object_id: device.object_id,
                record: device.record,
            },
        }
    }
}

/// Options of a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Keep device objects that left Entra or scope (`--no-delete`).
    pub no_delete: bool,
    /// How many deletes one run may make (`--max-deletes`).
    pub max_deletes: DeleteLimit,
}

/// The default most deletes of one run: Entra Connect's export deletion threshold.
pub const DEFAULT_MAX_DELETES: u64 = 500;
/// The default most deletes of one run as a percentage of the devices writeback owns in the
/// container, when that is smaller than [`DEFAULT_MAX_DELETES`].
pub const DEFAULT_MAX_DELETES_PERCENT: u64 = 10;
/// The percentage never brings the default below this many, so that a small lab can still lose a
/// handful of devices without `--max-deletes`.
pub const DEFAULT_MAX_DELETES_FLOOR: u64 = 10;

/// How many deletes one run may make. Over the limit, the run applies its adds and modifies and
/// withholds every delete ([`DeletesWithheld::OverLimit`]): deleting "the first 500" of a mass
/// deletion would be arbitrary, and a mass deletion is what an admin must look at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeleteLimit {
    /// [`DEFAULT_MAX_DELETES`], or [`DEFAULT_MAX_DELETES_PERCENT`] % of the devices writeback
    /// owns (never below [`DEFAULT_MAX_DELETES_FLOOR`]), whichever is smaller.
    #[default]
    Default,
    /// At most this many (`--max-deletes N`; 0 withholds every delete).
    AtMost(u64),
    /// No limit (`--max-deletes none`).
    Unlimited,
}

impl DeleteLimit {
    /// The limit for a container where writeback owns `owned` devices; `None` when unlimited.
    pub fn resolve(self, owned: u64) -> Option<u64> {
        match self {
            DeleteLimit::Default => {
                let share = (owned * DEFAULT_MAX_DELETES_PERCENT).div_ceil(100);
                Some(DEFAULT_MAX_DELETES.min(share.max(DEFAULT_MAX_DELETES_FLOOR)))
            }
            DeleteLimit::AtMost(n) => Some(n),
            DeleteLimit::Unlimited => None,
        }
    }
}

impl std::str::FromStr for DeleteLimit {
    type Err = String;

    /// `none` (no limit) or a whole number.
    fn from_str(text: &str) -> Result<DeleteLimit, String> {
        if text.eq_ignore_ascii_case("none") {
            return Ok(DeleteLimit::Unlimited);
        }
        text.parse::<u64>()
            .map(DeleteLimit::AtMost)
            .map_err(|_| format!("{text:?} is neither a whole number of deletes nor `none`"))
    }
}

/// What a device of the export says about its owners, counted to tell an export made without
/// the owners' expansion from one whose devices simply have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerEvidence {
    /// No `registeredOwners` property: not expanded.
    NotListed,
    /// `registeredOwners` is there, with no owner or an owner without on-premises SID.
    ListedWithoutSid,
    /// An owner with an on-premises SID (from the expansion or the users export).
    ListedWithSid,
}

impl OwnerEvidence {
    /// The evidence of one checked device.
    pub fn of(device: &crate::source::EntraDevice) -> OwnerEvidence {
        match (&device.owner, device.registered_owners_listed) {
            (Some(owner), _) if owner.on_premises_sid.is_some() => OwnerEvidence::ListedWithSid,
            (_, true) => OwnerEvidence::ListedWithoutSid,
            (_, false) => OwnerEvidence::NotListed,
        }
    }
}

/// Builds a plan by streaming the export against the observed devices.
#[derive(Debug)]
pub struct Planner {
    observed: ObservedDevices,
    scope: ForestScope,
    options: PlanOptions,
    seen: HashMap<u128, RecordRef>,
    adds: Vec<DeviceAdd>,
    modifies: Vec<DeviceModify>,
    skipped: Vec<SkippedDevice>,
    bad_records: Vec<RecordError>,
    unidentified_bad_records: u64,
    unchanged: u64,
    observed_count: u64,
    /// Devices of the export (checked records), and how many of them said what about owners.
    devices: u64,
    owners_not_listed: u64,
    owners_with_sid: u64,
    /// A partial plan (see [`Planner::partial`]): the devices writeback owns in the whole
    /// container, for the default deletion limit.
    partial: Option<u64>,
    /// The (object id, device id) of every checked device, when asked for
    /// ([`Planner::keep_listed_ids`]).
    listed_ids: Option<Vec<(Guid, Guid)>>,
}

impl Planner {
    /// A planner over the observed state of a container.
    pub fn new(observed: ObservedDevices, scope: ForestScope, options: PlanOptions) -> Planner {
        let observed_count = (observed.by_id.len() + observed.duplicates.len()) as u64;
        Planner {
            observed,
            scope,
            options,
            seen: HashMap::new(),
            adds: Vec::new(),
            modifies: Vec::new(),
            skipped: Vec::new(),
            bad_records: Vec::new(),
            unidentified_bad_records: 0,
            unchanged: 0,
            observed_count,
            devices: 0,
            owners_not_listed: 0,
            owners_with_sid: 0,
            partial: None,
            listed_ids: None,
        }
    }

    /// A planner for part of the tenant: a delta round that lists only the devices that changed
    /// and those that left. `observed` holds only the objects of those devices (read one by one,
    /// not the whole container), and the plan touches only them: a device object the round does
    /// not name is never taken for one that left Entra. Deletes are those of devices the round
    /// names as gone ([`Planner::remove`]) and of listed devices now out of scope.
    ///
    /// The guards of a whole export that a small round cannot meet (an empty round, a round
    /// whose few owners have no on-premises SID) do not apply; the others do, and the deletion
    /// limit is resolved against `owned_in_container`, the devices writeback owns in the whole
    /// container (as the last full round counted them), not against the few objects read.
    pub fn partial(
        observed: ObservedDevices,
        scope: ForestScope,
        options: PlanOptions,
        owned_in_container: u64,
    ) -> Planner {
        Planner {
            partial: Some(owned_in_container),
            ..Planner::new(observed, scope, options)
        }
    }

    /// A partial round names a device as gone from Entra: its object, if owned and not listed
    /// again by the round, is deleted ([`DeleteReason::LeftEntra`]).
    pub fn remove(&mut self, device_id: Guid) {
        if let Some(slot) = self.observed.by_id.get_mut(&device_id.as_u128()) {
            if slot.fate == Fate::Unclaimed {
                slot.fate = Fate::Removed;
            }
        }
    }

    /// Takes one record of the export.
    pub fn push(&mut self, record: SourceRecord) {
        let prepared = PreparedRecord::prepare(record, &self.scope);
        self.push_prepared(prepared);
    }

    /// Streams a whole export into the plan. The source's checking thread also maps each device
    /// for the forest (that needs no planner state), so this thread only diffs.
    pub fn push_source(&mut self, source: &DeviceSource) -> Result<SourceSummary, WritebackError> {
        let scope = self.scope.clone();
        source.for_each_prepared(
            &|record| PreparedRecord::prepare(record, &scope),
            &mut |prepared| self.push_prepared(prepared),
        )
    }

    /// Takes one record of the export, already mapped (see [`PreparedRecord::prepare`], with
    /// this planner's scope).
    pub fn push_prepared(&mut self, record: PreparedRecord) {
        match record {
            PreparedRecord::Bad(error) => {
                match error.device_id.as_deref().map(Guid::parse) {
                    Some(Ok(id)) => {
                        // Nothing is written for a bad record, and its object is not deleted.
                        if let Some(slot) = self.observed.by_id.get_mut(&id.as_u128()) {
                            slot.fate = Fate::Claimed;
                        }
                    }
                    _ => self.unidentified_bad_records += 1,
                }
                self.bad_records.push(error);
            }
            PreparedRecord::Device {
                record,
                device_id: id,
                object_id,
                mapped,
                owners,
            } => {
                self.devices += 1;
                if let Some(listed) = &mut self.listed_ids {
                    listed.push((object_id, id));
                }
                match owners {
                    OwnerEvidence::NotListed => self.owners_not_listed += 1,
                    OwnerEvidence::ListedWithSid => self.owners_with_sid += 1,
                    OwnerEvidence::ListedWithoutSid => {}
                }
                if let Some(first) = self.seen.get(&id.as_u128()) {
                    self.skipped.push(SkippedDevice {
                        record,
                        device_id: id,
                        reason: SkipReason::DuplicateDeviceId {
                            first: first.to_string(),
                        },
                    });
                    return;
                }
                self.seen.insert(id.as_u128(), record.clone());
                match mapped {
                    Ok(desired) => self.want(record, desired),
                    Err(reason) => {
                        if let Some(slot) = self.observed.by_id.get_mut(&id.as_u128()) {
                            if slot.fate == Fate::Unclaimed {
                                slot.fate = Fate::OutOfScope;
                                slot.scope_reason = Some(reason.clone());
                            }
                        }
                        self.skipped.push(SkippedDevice {
                            record,
                            device_id: id,
                            reason,
                        });
                    }
                }
            }
        }
    }

    fn want(&mut self, record: RecordRef, desired: DesiredDevice) {
        let id = desired.device_id;
        let container = &self.observed.container;
        match self.observed.by_id.get_mut(&id.as_u128()) {
            None => self.adds.push(DeviceAdd::new(&desired)),
            Some(slot) => {
                slot.fate = Fate::Claimed;
                if !slot.device.owned {
                    self.skipped.push(SkippedDevice {
                        record,
                        device_id: id,
                        reason: SkipReason::ExistingObjectNotOwned {
                            dn: slot.device.dn(container, &id),
                        },
                    });
                    return;
                }
                let changes = slot.device.changes_to(&desired.values);
                if changes.is_empty() {
                    self.unchanged += 1;
                } else {
                    self.modifies.push(DeviceModify {
                        dn: slot.device.dn(container, &id),
                        device_id: id,
                        changes,
                    });
                }
            }
        }
    }

    /// Why this export cannot decide deletes, if it cannot (the order is the order an admin
    /// should fix things in: the first reason found is the one reported).
    fn withhold_reason(&self, source: &SourceSummary) -> Option<DeletesWithheld> {
        if self.options.no_delete {
            Some(DeletesWithheld::NoDeleteRequested)
        } else if let Some(detail) = &source.incomplete {
            Some(DeletesWithheld::IncompleteExport {
                detail: detail.clone(),
            })
        } else if self.unidentified_bad_records > 0 {
            Some(DeletesWithheld::UnidentifiedBadRecords {
                count: self.unidentified_bad_records,
            })
        } else if self.devices == 0 && self.partial.is_none() {
            Some(DeletesWithheld::EmptyExport)
        } else if self.owners_not_listed > 0 {
            // Graph's expansion gives every device the property, an empty array when it has no
            // owner: a device without it comes from an export made without the expansion.
            Some(DeletesWithheld::OwnersNotExpanded {
                devices: self.owners_not_listed,
                of: self.devices,
            })
        } else if self.owners_with_sid == 0 && self.partial.is_none() {
            Some(DeletesWithheld::OwnerSidsMissing)
        } else {
            None
        }
    }

    /// Every owned object the export does not want: duplicates, devices that left, devices out
    /// of scope. Sorted by device id, so plans are reproducible.
    fn delete_candidates(&self) -> Vec<DeviceDelete> {
        let container = &self.observed.container;
        let mut deletes = Vec::new();
        for (id, dn) in &self.observed.duplicates {
            deletes.push(DeviceDelete {
                dn: dn.clone(),
                device_id: *id,
                reason: DeleteReason::Duplicate,
            });
        }
        for (&raw, slot) in &self.observed.by_id {
            if !slot.device.owned {
                continue;
            }
            let id = Guid::from_u128(raw);
            let reason = match (slot.fate, &slot.scope_reason) {
                (Fate::Claimed, _) => continue,
                // A partial round knows nothing of the devices it does not name.
                (Fate::Unclaimed, _) if self.partial.is_some() => continue,
                (Fate::Unclaimed | Fate::Removed, _) => DeleteReason::LeftEntra,
                (Fate::OutOfScope, Some(reason)) => DeleteReason::LeftScope {
                    reason: reason.clone(),
                },
                (Fate::OutOfScope, None) => DeleteReason::LeftEntra,
            };
            deletes.push(DeviceDelete {
                dn: slot.device.dn(container, &id),
                device_id: id,
                reason,
            });
        }
        // HashMap order is random.
        deletes.sort_by_key(|d| d.device_id);
        deletes
    }

    /// Keeps the (Entra object id, device id) of every checked device the planner takes, for
    /// [`Planner::take_listed_ids`] (what `sync` indexes: a delta round names a removed device
    /// by its object id only). 32 bytes a device; off unless asked for.
    pub fn keep_listed_ids(&mut self) {
        self.listed_ids.get_or_insert_with(Vec::new);
    }

    /// The ids kept since [`Planner::keep_listed_ids`], in export order.
    pub fn take_listed_ids(&mut self) -> Vec<(Guid, Guid)> {
        self.listed_ids.take().unwrap_or_default()
    }

    /// Ends the export: plans the deletes and returns the plan. `source` is the source's summary
    /// (an incomplete export withholds deletes).
    pub fn finish(self, source: &SourceSummary) -> WritebackPlan {
        let container = self.observed.container.clone();
        let candidates = self.delete_candidates();
        let owned = self.partial.unwrap_or_else(|| {
            self.observed
                .by_id
                .values()
                .filter(|s| s.device.owned)
                .count() as u64
                + self.observed.duplicates.len() as u64
        });
        let withheld = self.withhold_reason(source).or_else(|| {
            let planned = candidates.len() as u64;
            self.options
                .max_deletes
                .resolve(owned)
                .filter(|&limit| planned > limit)
                .map(|limit| DeletesWithheld::OverLimit { planned, limit })
        });
        let (deletes, withheld_deletes) = match &withheld {
            None => (candidates, Vec::new()),
            Some(why) => {
                if !candidates.is_empty() {
                    tracing::warn!(count = candidates.len(), reason = %why, "deletes withheld");
                }
                (Vec::new(), candidates)
            }
        };
        let counts = PlanCounts {
            source_records: source.records,
            observed: self.observed_count,
            unchanged: self.unchanged,
            adds: self.adds.len() as u64,
            modifies: self.modifies.len() as u64,
            deletes: deletes.len() as u64,
            deletes_withheld: withheld_deletes.len() as u64,
            skipped: self.skipped.len() as u64,
            bad_records: self.bad_records.len() as u64,
        };
        WritebackPlan {
            container,
            schema_level: self.scope.schema_level,
            adds: self.adds,
            modifies: self.modifies,
            deletes,
            skipped: self.skipped,
            bad_records: self.bad_records,
            deletes_withheld: withheld,
            withheld_deletes,
            ignored_entries: self.observed.unusable,
            counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{AttributeValues, DeviceAttribute};
    use crate::source::{DeviceSource, SourceFormat};
    use crate::synthetic::{SyntheticConfig, SyntheticDevice, SyntheticDevices};
    use devwb_model::Sid;
    use devwb_model::{Dn, SchemaLevel};

    const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

    fn container() -> Dn {
        Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap()
    }

    fn scope() -> ForestScope {
        ForestScope {
            domain_sids: vec![Sid::parse(DOMAIN).unwrap()],
            schema_level: SchemaLevel::W2016,
        }
    }

    fn devices(n: u64) -> Vec<SyntheticDevice> {
        SyntheticDevices::new(SyntheticConfig::new(n, 42, Sid::parse(DOMAIN).unwrap())).collect()
    }

    /// A directory holding exactly what `export` maps to (as a previous run would leave it).
    fn directory_from(export: &[SyntheticDevice]) -> Vec<(String, AttributeValues)> {
        let plan = plan(export, Vec::new(), PlanOptions::default());
        plan.adds
            .into_iter()
            .map(|a| (a.dn(&plan.container).to_string(), a.values()))
            .collect()
    }

    /// The one helper: plans `export` (as one Graph page) against `directory`.
    fn plan(
        export: &[SyntheticDevice],
        directory: Vec<(String, AttributeValues)>,
        options: PlanOptions,
    ) -> WritebackPlan {
        plan_values(
            export.iter().map(SyntheticDevice::to_json).collect(),
            directory,
            options,
        )
    }

    fn plan_values(
        export: Vec<serde_json::Value>,
        directory: Vec<(String, AttributeValues)>,
        options: PlanOptions,
    ) -> WritebackPlan {
        let mut observed = ObservedDevices::new(container(), SchemaLevel::W2016);
        for (dn, values) in &directory {
            observed.insert_entry(dn, |name| {
                DeviceAttribute::from_ldap_name(name).map(|a| values.get(a))
            });
        }
        let text = serde_json::json!({ "value": export }).to_string();
        let data: &'static [u8] = Box::leak(text.into_bytes().into_boxed_slice());
        let source = DeviceSource::bundled("export.json", data, SourceFormat::GraphPage);
        let mut planner = Planner::new(observed, scope(), options);
        let summary = source.for_each(&mut |r| planner.push(r)).unwrap();
        planner.finish(&summary)
    }

    fn counts(p: &WritebackPlan) -> (u64, u64, u64, u64, u64) {
        let c = &p.counts;
        (c.adds, c.modifies, c.deletes, c.unchanged, c.skipped)
    }

    #[test]
    fn a_fresh_container_gets_every_device_and_a_rerun_plans_nothing() {
        let export = devices(200);
        let first = plan(&export, Vec::new(), PlanOptions::default());
        assert_eq!(counts(&first), (200, 0, 0, 0, 0));
        assert_eq!(
            first.adds[0].dn(&container()).to_string(),
            format!("CN={},{}", export[0].device_id, container())
        );
        let second = plan(&export, directory_from(&export), PlanOptions::default());
        assert_eq!(counts(&second), (0, 0, 0, 200, 0));
        assert!(second.is_empty());
    }

    #[test]
    fn a_changed_device_gets_a_modify_of_exactly_the_changed_attributes() {
        let export = devices(20);
        let directory = directory_from(&export);
        let mut changed = export.clone();
        changed[3].display_name.push_str("-renamed");
        changed[7].physical_ids.reverse(); // order alone is no change
        changed[9].physical_ids.push("[ZDID]:new".into());
        changed[9].account_enabled = !changed[9].account_enabled;
        let p = plan(&changed, directory, PlanOptions::default());
        assert_eq!(counts(&p), (0, 2, 0, 18, 0));
        let summary: Vec<(Guid, Vec<&str>)> = p
            .modifies
            .iter()
            .map(|m| {
                (
                    m.device_id,
                    m.changes.iter().map(|c| c.attribute.ldap_name()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (export[3].device_id, vec!["displayName"]),
                (
                    export[9].device_id,
                    vec!["msDS-IsEnabled", "msDS-DevicePhysicalIDs"]
                ),
            ]
        );
        assert_eq!(p.modifies[1].changes[1].values.len(), 4);
    }

    #[test]
    fn devices_that_left_entra_or_scope_are_deleted_unless_no_delete() {
        let export = devices(10);
        let directory = directory_from(&export);
        let mut remaining: Vec<SyntheticDevice> = export[2..].to_vec();
        remaining[0].owner_sid = Sid::parse("S-1-5-21-1-2-3-1105").unwrap(); // export[2] left scope
        let p = plan(&remaining, directory.clone(), PlanOptions::default());
        assert_eq!(counts(&p), (0, 0, 3, 7, 1));
        let mut expected = vec![
            (export[0].device_id, DeleteReason::LeftEntra),
            (export[1].device_id, DeleteReason::LeftEntra),
            (
                export[2].device_id,
                DeleteReason::LeftScope {
                    reason: SkipReason::OwnerNotInThisForest {
                        owner_sid: "S-1-5-21-1-2-3-1105".into(),
                    },
                },
            ),
        ];
        expected.sort_by_key(|e| e.0);
        let got: Vec<(Guid, DeleteReason)> = p
            .deletes
            .iter()
            .map(|d| (d.device_id, d.reason.clone()))
            .collect();
        assert_eq!(got, expected);
        let kept = plan(
            &remaining,
            directory,
            PlanOptions {
                no_delete: true,
                ..PlanOptions::default()
            },
        );
        assert_eq!(counts(&kept), (0, 0, 0, 7, 1));
        assert_eq!(
            kept.deletes_withheld,
            Some(DeletesWithheld::NoDeleteRequested)
        );
    }

    #[test]
    fn a_partial_round_plans_only_the_devices_it_names() {
        let export = devices(30);
        let directory = directory_from(&export);
        let mut observed = ObservedDevices::new(container(), SchemaLevel::W2016);
        for (dn, values) in &directory {
            observed.insert_entry(dn, |name| {
                DeviceAttribute::from_ldap_name(name).map(|a| values.get(a))
            });
        }
        // The round: device 0 disabled, device 1 out of scope, device 2 removed, one new device;
        // the other 27 are not named and must be left alone.
        let mut changed = vec![export[0].clone(), export[1].clone()];
        changed[0].account_enabled = false;
        changed[1].owner_sid = Sid::parse("S-1-5-21-1-2-3-1105").unwrap();
        let new = devices(31).pop().unwrap();
        changed.push(new.clone());
        let text = serde_json::json!({
            "value": changed.iter().map(SyntheticDevice::to_json).collect::<Vec<_>>()
        })
        .to_string();
        let source = DeviceSource::graph_pages("delta", vec![text.into_bytes()]);
        let mut planner = Planner::partial(observed, scope(), PlanOptions::default(), 30);
        let summary = source.for_each(&mut |r| planner.push(r)).unwrap();
        planner.remove(export[2].device_id);
        planner.remove(Guid::from_u128(7)); // a removed device with no object: nothing to do
        let p = planner.finish(&summary);
        assert_eq!(p.deletes_withheld, None);
        assert_eq!(counts(&p), (1, 1, 2, 0, 1));
        assert_eq!(p.adds[0].device_id, new.device_id);
        assert_eq!(p.modifies[0].device_id, export[0].device_id);
        let mut deleted: Vec<Guid> = p.deletes.iter().map(|d| d.device_id).collect();
        let mut expected = vec![export[1].device_id, export[2].device_id];
        deleted.sort();
        expected.sort();
        assert_eq!(deleted, expected);

        // A round of removals only is not an "empty export"; the limit counts the whole
        // container's owned devices (30 owned: the default limit is the floor of 10).
        let mut observed = ObservedDevices::new(container(), SchemaLevel::W2016);
        for (dn, values) in &directory[..12] {
            observed.insert_entry(dn, |name| {
                DeviceAttribute::from_ldap_name(name).map(|a| values.get(a))
            });
        }
        let empty = DeviceSource::graph_pages("delta", vec![b"{\"value\": []}".to_vec()]);
        let mut planner = Planner::partial(observed.clone(), scope(), PlanOptions::default(), 30);
        let summary = empty.for_each(&mut |r| planner.push(r)).unwrap();
        for device in &export[..12] {
            planner.remove(device.device_id);
        }
        let p = planner.finish(&summary);
        assert_eq!(
            p.deletes_withheld,
            Some(DeletesWithheld::OverLimit {
                planned: 12,
                limit: 10
            })
        );
        let mut planner = Planner::partial(observed, scope(), PlanOptions::default(), 30);
        let summary = empty.for_each(&mut |r| planner.push(r)).unwrap();
        for device in &export[..3] {
            planner.remove(device.device_id);
        }
        let p = planner.finish(&summary);
        assert_eq!((p.deletes_withheld, p.counts.deletes), (None, 3));
    }

    #[test]
    fn an_export_that_cannot_be_the_whole_tenant_deletes_nothing() {
        let export = devices(40);
        let directory = directory_from(&export);
        let json = |devices: &[SyntheticDevice]| -> Vec<serde_json::Value> {
            devices.iter().map(SyntheticDevice::to_json).collect()
        };
        let without_owners: Vec<_> = json(&export)
            .into_iter()
            .map(|mut v| {
                v.as_object_mut().unwrap().remove("registeredOwners");
                v
            })
            .collect();
        let without_sids: Vec<_> = json(&export)
            .into_iter()
            .map(|mut v| {
                v["registeredOwners"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("onPremisesSecurityIdentifier");
                v
            })
            .collect();
        let mut one_unexpanded = json(&export[..20]);
        one_unexpanded[7]
            .as_object_mut()
            .unwrap()
            .remove("registeredOwners");
        let cases = [
            (Vec::new(), DeletesWithheld::EmptyExport, 40),
            (
                without_owners,
                DeletesWithheld::OwnersNotExpanded {
                    devices: 40,
                    of: 40,
                },
                40,
            ),
            (without_sids, DeletesWithheld::OwnerSidsMissing, 40),
            (
                one_unexpanded,
                DeletesWithheld::OwnersNotExpanded { devices: 1, of: 20 },
                21,
            ),
        ];
        for (export, reason, withheld) in cases {
            let p = plan_values(export, directory.clone(), PlanOptions::default());
            assert_eq!(p.deletes, [], "{reason}");
            assert_eq!(p.deletes_withheld.as_ref(), Some(&reason));
            assert_eq!(p.counts.deletes_withheld, withheld, "{reason}");
            assert_eq!(p.withheld_deletes.len() as u64, withheld);
            assert!(reason.is_guard());
        }
        // A bare empty array is an empty export too.
        let mut observed = ObservedDevices::new(container(), SchemaLevel::W2016);
        for (dn, values) in &directory {
            observed.insert_entry(dn, |name| {
                DeviceAttribute::from_ldap_name(name).map(|a| values.get(a))
            });
        }
        let source = DeviceSource::bundled("empty.json", &b"[]"[..], SourceFormat::GraphPage);
        let mut planner = Planner::new(observed, scope(), PlanOptions::default());
        let summary = source.for_each(&mut |r| planner.push(r)).unwrap();
        let p = planner.finish(&summary);
        assert_eq!(
            (p.counts.deletes, p.counts.deletes_withheld),
            (0, 40),
            "[] deletes nothing"
        );
    }

    #[test]
    fn more_deletes_than_the_limit_withholds_every_delete_and_keeps_adds_and_modifies() {
        let export = devices(1_000);
        let directory = directory_from(&export);
        let mut partial = export[..100].to_vec();
        partial[0].display_name.push_str("-renamed");
        partial.extend(devices(1_005).into_iter().skip(1_000));
        let p = plan(&partial, directory.clone(), PlanOptions::default());
        assert_eq!(
            (p.counts.adds, p.counts.modifies, p.counts.deletes),
            (5, 1, 0)
        );
        assert_eq!(
            p.deletes_withheld,
            Some(DeletesWithheld::OverLimit {
                planned: 900,
                limit: 100
            })
        );
        assert_eq!(p.counts.deletes_withheld, 900);
        let with = |max_deletes| PlanOptions {
            max_deletes,
            ..PlanOptions::default()
        };
        let allowed = plan(&partial, directory.clone(), with(DeleteLimit::AtMost(900)));
        assert_eq!(
            (allowed.counts.deletes, allowed.deletes_withheld),
            (900, None)
        );
        let unlimited = plan(&partial, directory.clone(), with(DeleteLimit::Unlimited));
        assert_eq!(unlimited.counts.deletes, 900);
        let one_short = plan(&partial, directory, with(DeleteLimit::AtMost(899)));
        assert_eq!(one_short.counts.deletes, 0);
        assert_eq!(one_short.counts.deletes_withheld, 900);
    }

    #[test]
    fn the_default_limit_is_500_or_ten_percent_of_what_writeback_owns_but_at_least_10() {
        for (owned, limit) in [
            (0, 10),
            (50, 10),
            (100, 10),
            (101, 11),
            (1_000, 100),
            (5_000, 500),
            (1_000_000, 500),
        ] {
            assert_eq!(DeleteLimit::Default.resolve(owned), Some(limit), "{owned}");
        }
        assert_eq!(DeleteLimit::AtMost(7).resolve(1_000), Some(7));
        assert_eq!(DeleteLimit::Unlimited.resolve(1_000), None);
        assert_eq!("none".parse(), Ok(DeleteLimit::Unlimited));
        assert_eq!("NONE".parse(), Ok(DeleteLimit::Unlimited));
        assert_eq!("12".parse(), Ok(DeleteLimit::AtMost(12)));
        for bad in ["-1", "lots", "", "1.5"] {
            let error = bad.parse::<DeleteLimit>().unwrap_err();
            assert!(error.contains("neither a whole number"), "{bad}: {error}");
        }
    }

    #[test]
    fn objects_writeback_does_not_own_are_never_touched() {
        let export = devices(3);
        let mut directory = directory_from(&export);
        for (_, values) in &mut directory {
            values.0[DeviceAttribute::CloudAnchor.index()] = vec![b"Manual_1".to_vec()];
        }
        let p = plan(&export[..1], directory, PlanOptions::default());
        assert_eq!(counts(&p), (0, 0, 0, 0, 1));
        assert!(matches!(
            p.skipped[0].reason,
            SkipReason::ExistingObjectNotOwned { .. }
        ));
    }

    #[test]
    fn a_bad_record_protects_its_device_and_an_unidentifiable_one_withholds_deletes() {
        let export = devices(3);
        let directory = directory_from(&export);
        let mut values: Vec<serde_json::Value> =
            export.iter().map(SyntheticDevice::to_json).collect();
        values[0]["displayName"] = "x".repeat(300).into();
        let p = plan_values(values.clone(), directory.clone(), PlanOptions::default());
        assert_eq!(counts(&p), (0, 0, 0, 2, 0));
        assert_eq!(p.counts.bad_records, 1);
        assert!(p.deletes_withheld.is_none());

        values[1]["deviceId"] = "garbage".into();
        let p = plan_values(values, directory, PlanOptions::default());
        assert_eq!(counts(&p), (0, 0, 0, 1, 0));
        assert_eq!(p.counts.bad_records, 2);
        assert_eq!(
            p.deletes_withheld,
            Some(DeletesWithheld::UnidentifiedBadRecords { count: 1 })
        );
    }

    #[test]
    fn a_duplicate_device_id_in_the_export_is_skipped_and_a_duplicate_object_deleted() {
        let export = devices(2);
        let mut twice = export.clone();
        twice.push(export[0].clone());
        let mut directory = directory_from(&export);
        let mut copy = directory[1].clone();
        copy.0 = format!("CN=copy,{}", container());
        directory.push(copy);
        let p = plan(&twice, directory, PlanOptions::default());
        assert_eq!(counts(&p), (0, 0, 1, 2, 1));
        assert_eq!(p.deletes[0].dn, format!("CN=copy,{}", container()));
        assert_eq!(p.deletes[0].reason, DeleteReason::Duplicate);
        assert!(p.skipped[0]
            .reason
            .to_string()
            .starts_with("duplicate deviceId, first seen at export.json: record 1"));
    }

    #[test]
    fn the_dry_run_ldif_shows_every_change_with_binary_values_in_base64() {
        let export = devices(1);
        let p = plan(&export, Vec::new(), PlanOptions::default());
        let mut out = Vec::new();
        p.write_ldif(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("dn: CN={},CN=RegisteredDevices,DC=contoso,DC=lab\nchangetype: add\nobjectClass: msDS-Device\nmsDS-DeviceID:: ", export[0].device_id)), "{text}");
        assert!(
            text.contains(&format!("msDS-RegisteredOwner: {}\n", export[0].owner_sid)),
            "{text}"
        );
        assert!(text.contains(&format!(
            "altSecurityIdentities: {}",
            export[0].alt_security_identity
        )));
    }
}
