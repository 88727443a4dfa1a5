//! The delta: what the directory holds against what the export wants, as a plan of plain data.
//!
//! The directory side is read first (a paged one-level search of the device container for
//! `msDS-Device` objects, asking only for the mapped attributes) into [`ObservedDevices`], which
//! keeps per device only its 16-byte id, one 64-bit hash per mapped attribute, whether writeback
//! owns it, and its DN when that is not the canonical `CN=<deviceId>,<container>`: about 150 bytes
//! a device, so 100,000 devices take some 15 MB. The export is then streamed through a
//! [`Planner`], device by device; only devices that need a write keep their values (in the plan).
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
use std::io::{self, Write};

use devwb_model::{Dn, Guid, Rdn, SchemaLevel};
use serde::Serialize;

use crate::error::{RecordError, RecordRef, WritebackError};
use crate::mapping::{
    self, attributes_for, map_device, value_set_hash, AttributeValues, DesiredDevice,
    DeviceAttribute, ForestScope, SkipReason, ATTRIBUTE_COUNT, DEVICE_CLASS, MAPPING,
};
use crate::source::{DeviceSource, SourceRecord, SourceSummary};

/// The LDAP filter that selects device objects in the container.
pub const DEVICE_FILTER: &str = "(objectClass=msDS-Device)";

/// The attributes to read from the directory for a forest at `level`: the mapped ones only.
pub fn search_attributes(level: SchemaLevel) -> Vec<&'static str> {
    attributes_for(level).map(|spec| spec.ldap_name).collect()
}

/// The DN of a device: `CN=<deviceId>,<container>`.
pub fn device_dn(container: &Dn, device_id: &Guid) -> Dn {
    match Rdn::new("CN", &mapping::device_rdn_value(device_id)) {
        Ok(rdn) => container.child(rdn),
        // A GUID's text is hex digits and dashes: nothing in it needs escaping, so this cannot
        // fail; fall back to the container rather than panic.
        Err(_) => container.clone(),
    }
}

/// Whether `dn` is `CN=<device_id>,<container>`. The fast path compares text (servers return
/// the DN as it was written, and ours is written in this exact form); anything else is parsed
/// and compared as DNs compare (case, spacing, escaping).
fn is_canonical_dn(dn: &str, container: &Dn, device_id: &Guid) -> bool {
    let rdn = mapping::device_rdn_value(device_id);
    let fast = dn.len() > rdn.len() + 4
        && dn.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("CN="))
        && dn
            .get(3..3 + rdn.len())
            .is_some_and(|v| v.eq_ignore_ascii_case(&rdn))
        && dn.get(3 + rdn.len()..4 + rdn.len()) == Some(",")
        && dn
            .get(4 + rdn.len()..)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(container.normalized()));
    fast || Dn::parse(dn).is_ok_and(|parsed| parsed == device_dn(container, device_id))
}

/// What the diff keeps of one existing device object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedDevice {
    /// One hash per mapped attribute ([`mapping::value_set_hash`]), absent attributes included.
    pub hashes: [u64; ATTRIBUTE_COUNT],
    /// Whether writeback owns the object.
    pub owned: bool,
    /// The DN, only when it differs from the canonical one.
    pub odd_dn: Option<Box<str>>,
}

impl ObservedDevice {
    /// Reads an entry: `values(name)` gives the values of a mapped attribute (any spelling the
    /// server used). Returns the device id, or why the entry is not a usable device.
    pub fn from_entry<'e>(
        dn: &str,
        container: &Dn,
        level: SchemaLevel,
        values: impl Fn(&str) -> Option<&'e [Vec<u8>]>,
    ) -> Result<(Guid, ObservedDevice), String> {
        let id_values = values(DeviceAttribute::DeviceId.ldap_name()).unwrap_or(&[]);
        let device_id = match id_values {
            [one] => Guid::from_ad_bytes(one)
                .map_err(|e| format!("{dn}: msDS-DeviceID is not a GUID: {e}"))?,
            [] => return Err(format!("{dn}: msDS-Device without msDS-DeviceID")),
            _ => return Err(format!("{dn}: several msDS-DeviceID values")),
        };
        let mut hashes = [0u64; ATTRIBUTE_COUNT];
        for spec in MAPPING.iter() {
            let attribute_values = if level >= spec.minimum_schema {
                values(spec.ldap_name).unwrap_or(&[])
            } else {
                &[]
            };
            hashes[spec.attribute.index()] = value_set_hash(spec.attribute, attribute_values);
        }
        let anchor = values(DeviceAttribute::CloudAnchor.ldap_name())
            .and_then(|v| v.first())
            .map(Vec::as_slice);
        let odd_dn = if is_canonical_dn(dn, container, &device_id) {
            None
        } else {
            Some(Box::from(dn))
        };
        Ok((
            device_id,
            ObservedDevice {
                hashes,
                owned: mapping::is_owned_by_writeback(anchor),
                odd_dn,
            },
        ))
    }

    /// The object's DN.
    pub fn dn(&self, container: &Dn, device_id: &Guid) -> String {
        match &self.odd_dn {
            Some(dn) => dn.to_string(),
            None => device_dn(container, device_id).to_string(),
        }
    }

    /// The attributes whose values differ from `desired`, with the desired values (empty: remove
    /// the attribute). `msDS-DeviceID` is the key and never differs.
    pub fn changes_to(&self, desired: &AttributeValues) -> Vec<AttributeChange> {
        MAPPING
            .iter()
            .filter(|spec| spec.attribute != DeviceAttribute::DeviceId)
            .filter(|spec| self.hashes[spec.attribute.index()] != desired.hash_of(spec.attribute))
            .map(|spec| AttributeChange {
                attribute: spec.attribute,
                values: desired.get(spec.attribute).to_vec(),
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Not (yet) met in the export: deleted at the end if owned.
    Unclaimed,
    /// Wanted by a device of the export (or protected by a bad record): kept.
    Claimed,
    /// Met in the export but out of scope: deleted if owned, with the reason.
    OutOfScope,
    /// Named as gone by a partial round (Graph delta's `@removed`): deleted if owned.
    Removed,
}

#[derive(Clone, Debug)]
struct Slot {
    device: ObservedDevice,
    fate: Fate,
    scope_reason: Option<SkipReason>,
}

/// The device objects of the container, keyed by device id (see the module documentation).
#[derive(Clone, Debug)]
pub struct ObservedDevices {
    container: Dn,
    level: SchemaLevel,
    by_id: HashMap<u128, Slot>,
    /// Owned objects that repeat a device id already held by another object: deleted.
    duplicates: Vec<(Guid, String)>,
    /// Entries that are not usable devices (no or bad msDS-DeviceID), left alone, for the report.
    unusable: Vec<String>,
}

impl ObservedDevices {
    /// An empty index for a container in a forest at `level`.
    pub fn new(container: Dn, level: SchemaLevel) -> ObservedDevices {
        ObservedDevices {
            container,
            level,
            by_id: HashMap::new(),
            duplicates: Vec::new(),
            unusable: Vec::new(),
        }
    }

    /// Adds one entry of the container search (see [`ObservedDevice::from_entry`]).
    pub fn insert_entry<'e>(&mut self, dn: &str, values: impl Fn(&str) -> Option<&'e [Vec<u8>]>) {
        match ObservedDevice::from_entry(dn, &self.container, self.level, values) {
            Ok((id, device)) => self.insert(id, device),
            Err(why) => self.unusable.push(why),
        }
    }

    /// Adds one observed device. When the id is already present, the object at the canonical DN
    /// wins and an owned other is planned for deletion (writeback never leaves duplicates).
    pub fn insert(&mut self, id: Guid, device: ObservedDevice) {
        let slot = Slot {
            device,
            fate: Fate::Unclaimed,
            scope_reason: None,
        };
        match self.by_id.get_mut(&id.as_u128()) {
            None => {
                self.by_id.insert(id.as_u128(), slot);
            }
            Some(existing) => {
                let prefer_new = existing.device.odd_dn.is_some() && slot.device.odd_dn.is_none();
                let drop = if prefer_new {
                    std::mem::replace(existing, slot)
                } else {
                    slot
                };
                let dn = drop.device.dn(&self.container, &id);
                if drop.device.owned {
                    self.duplicates.push((id, dn));
                } else {
                    self.unusable.push(format!(
                        "{dn}: repeats device id {id}, not owned, left alone"
                    ));
                }
            }
        }
    }

    /// How many device objects are indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no device object is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The observed device with this id.
    pub fn get(&self, id: &Guid) -> Option<&ObservedDevice> {
        self.by_id.get(&id.as_u128()).map(|slot| &slot.device)
    }
}

/// One attribute of a modify: replace its values with these (none: remove it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeChange {
    /// The attribute.
    pub attribute: DeviceAttribute,
    /// Its new values.
    pub values: Vec<Vec<u8>>,
}

/// A device to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAdd {
    /// `CN=<deviceId>,<container>`.
    pub dn: String,
    /// The device.
    pub device: DesiredDevice,
}

impl DeviceAdd {
    /// The add's attributes, `objectClass` first, absent attributes left out.
    pub fn attributes(&self) -> Vec<(&'static str, Vec<Vec<u8>>)> {
        let mut attributes = vec![("objectClass", vec![DEVICE_CLASS.as_bytes().to_vec()])];
        for spec in MAPPING.iter() {
            let values = self.device.values.get(spec.attribute);
            if !values.is_empty() {
                attributes.push((spec.ldap_name, values.to_vec()));
            }
        }
        attributes
    }
}

/// A device to bring up to date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceModify {
    /// The object's DN.
    pub dn: String,
    /// Its device id.
    pub device_id: Guid,
    /// The attributes that differ, each replaced whole.
    pub changes: Vec<AttributeChange>,
}

/// Why a device object is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum DeleteReason {
    /// Its device is no longer in the export.
    LeftEntra,
    /// Its device is in the export but out of scope.
    LeftScope {
        /// Why it is out of scope.
        reason: SkipReason,
    },
    /// Another object holds the same device id at the canonical DN.
    Duplicate,
}

impl std::fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeleteReason::LeftEntra => f.write_str("left Entra"),
            DeleteReason::LeftScope { reason } => write!(f, "left scope: {reason}"),
            DeleteReason::Duplicate => f.write_str("duplicate of the device at its canonical DN"),
        }
    }
}

/// A device object to delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceDelete {
    /// The object's DN.
    pub dn: String,
    /// Its device id.
    pub device_id: Guid,
    /// Why.
    pub reason: DeleteReason,
}

/// A device of the export that is not written, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedDevice {
    /// Where it is in the export.
    pub record: RecordRef,
    /// Its device id.
    pub device_id: Guid,
    /// Why it is skipped.
    pub reason: SkipReason,
}

/// Counts of a plan, for the summary and `--json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    /// Records in the export.
    pub source_records: u64,
    /// Device objects found in the container.
    pub observed: u64,
    /// Devices in scope and already up to date.
    pub unchanged: u64,
    /// Planned adds.
    pub adds: u64,
    /// Planned modifies.
    pub modifies: u64,
    /// Planned deletes.
    pub deletes: u64,
    /// Deletes the run would have made but withheld (see [`DeletesWithheld`]).
    pub deletes_withheld: u64,
    /// Devices skipped with a reason.
    pub skipped: u64,
    /// Records reported as bad.
    pub bad_records: u64,
}

/// The plan of one writeback run: plain data, printed by `--dry-run`, applied by [`crate::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritebackPlan {
    /// The device container.
    pub container: Dn,
    /// The forest's schema level.
    pub schema_level: SchemaLevel,
    /// Devices to create.
    pub adds: Vec<DeviceAdd>,
    /// Devices to bring up to date.
    pub modifies: Vec<DeviceModify>,
    /// Device objects to delete.
    pub deletes: Vec<DeviceDelete>,
    /// Devices of the export not written, with the reason.
    pub skipped: Vec<SkippedDevice>,
    /// Records of the export that failed their checks.
    pub bad_records: Vec<RecordError>,
    /// Why deletes were not planned, when they were withheld (or `--no-delete`).
    pub deletes_withheld: Option<DeletesWithheld>,
    /// The deletes the run would have made had they not been withheld (empty otherwise).
    pub withheld_deletes: Vec<DeviceDelete>,
    /// Entries of the container that are not usable devices, left alone.
    pub ignored_entries: Vec<String>,
    /// The counts.
    pub counts: PlanCounts,
}

/// The machine-readable summary of a plan (`--json`): counts and every skipped or bad record.
#[derive(Clone, Debug, Serialize)]
pub struct PlanReport<'p> {
    /// The device container.
    pub container: String,
    /// Counts.
    pub counts: &'p PlanCounts,
    /// Every skipped device with its reason.
    pub skipped: &'p [SkippedDevice],
    /// Every bad record with its problems.
    pub bad_records: &'p [RecordError],
    /// Every planned delete with its reason.
    pub deletes: &'p [DeviceDelete],
    /// Why deletes were withheld, if they were.
    pub deletes_withheld: Option<&'p DeletesWithheld>,
    /// The deletes withheld.
    pub withheld_deletes: &'p [DeviceDelete],
    /// Entries left alone.
    pub ignored_entries: &'p [String],
}

impl WritebackPlan {
    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.modifies.is_empty() && self.deletes.is_empty()
    }

    /// The number of LDAP operations the plan makes.
    pub fn operation_count(&self) -> usize {
        self.adds.len() + self.modifies.len() + self.deletes.len()
    }

    /// The serialisable summary.
    pub fn report(&self) -> PlanReport<'_> {
        PlanReport {
            container: self.container.to_string(),
            counts: &self.counts,
            skipped: &self.skipped,
            bad_records: &self.bad_records,
            deletes: &self.deletes,
            deletes_withheld: self.deletes_withheld.as_ref(),
            withheld_deletes: &self.withheld_deletes,
            ignored_entries: &self.ignored_entries,
        }
    }

    /// Writes the plan as LDIF change records (RFC 2849), binary values in base64, each preceded
    /// by a comment saying why. OpenLDAP's `ldapmodify` can apply the output.
    pub fn write_ldif(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# devwb writeback plan for {}", self.container)?;
        writeln!(
            out,
            "# {} adds, {} modifies, {} deletes, {} unchanged, {} skipped, {} bad records",
            self.counts.adds,
            self.counts.modifies,
            self.counts.deletes,
            self.counts.unchanged,
            self.counts.skipped,
            self.counts.bad_records
        )?;
        for add in &self.adds {
            writeln!(out, "\n# add device {}", add.device.device_id)?;
            write_ldif_value(out, "dn", add.dn.as_bytes())?;
            writeln!(out, "changetype: add")?;
            for (name, values) in add.attributes() {
                for value in &values {
                    write_ldif_value(out, name, value)?;
                }
            }
        }
        for modify in &self.modifies {
            writeln!(out, "\n# modify device {}", modify.device_id)?;
            write_ldif_value(out, "dn", modify.dn.as_bytes())?;
            writeln!(out, "changetype: modify")?;
            for change in &modify.changes {
                let name = change.attribute.ldap_name();
                writeln!(out, "replace: {name}")?;
                for value in &change.values {
                    write_ldif_value(out, name, value)?;
                }
                writeln!(out, "-")?;
            }
        }
        for delete in &self.deletes {
            writeln!(
                out,
                "\n# delete device {} ({})",
                delete.device_id, delete.reason
            )?;
            write_ldif_value(out, "dn", delete.dn.as_bytes())?;
            writeln!(out, "changetype: delete")?;
        }
        for skipped in &self.skipped {
            writeln!(
                out,
                "\n# skipped {} ({}): {}",
                skipped.device_id, skipped.record, skipped.reason
            )?;
        }
        for bad in &self.bad_records {
            writeln!(out, "\n# bad record {bad}")?;
        }
        if let Some(why) = &self.deletes_withheld {
            writeln!(out, "\n# deletes withheld: {why}")?;
            for delete in &self.withheld_deletes {
                writeln!(
                    out,
                    "# withheld: delete {} (device {}, {})",
                    delete.dn, delete.device_id, delete.reason
                )?;
            }
        }
        Ok(())
    }
}

/// One `name: value` line of LDIF (RFC 2849: base64 unless the value is a SAFE-STRING).
pub(crate) fn write_ldif_value(out: &mut dyn Write, name: &str, value: &[u8]) -> io::Result<()> {
    writeln!(out, "{}", devwb_model::ldif::value_line(name, value))
}

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

/// Why a run's deletes were withheld. Every reason but [`DeletesWithheld::NoDeleteRequested`] is
/// a guard: the run could not tell that the devices it would delete really left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeletesWithheld {
    /// `--no-delete` was given.
    NoDeleteRequested,
    /// The export holds no device at all: an empty tenant is far less likely than a failed export.
    EmptyExport,
    /// Devices of the export carry no `registeredOwners`: it was made without the expansion.
    OwnersNotExpanded {
        /// Devices without the property.
        devices: u64,
        /// Devices in the export.
        of: u64,
    },
    /// No registered owner in the export carries `onPremisesSecurityIdentifier`.
    OwnerSidsMissing,
    /// The source found the export incomplete (a broken page chain, no end line, ...).
    IncompleteExport {
        /// What the source found.
        detail: String,
    },
    /// Bad records whose deviceId could not be read: their devices look like devices that left.
    UnidentifiedBadRecords {
        /// How many.
        count: u64,
    },
    /// More deletes than the run's limit.
    OverLimit {
        /// Deletes the run would make.
        planned: u64,
        /// The limit.
        limit: u64,
    },
}

impl DeletesWithheld {
    /// Whether this is a guard (the run could not be sure), not the user's `--no-delete`.
    pub fn is_guard(&self) -> bool {
        !matches!(self, DeletesWithheld::NoDeleteRequested)
    }
}

impl std::fmt::Display for DeletesWithheld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const EXPAND: &str = "$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)";
        match self {
            DeletesWithheld::NoDeleteRequested => f.write_str("--no-delete was given"),
            DeletesWithheld::EmptyExport => f.write_str(
                "the export holds no device: an empty export cannot tell which devices left \
                 Entra (check how it was made; an export of an empty tenant deletes nothing)",
            ),
            DeletesWithheld::OwnersNotExpanded { devices, of } => write!(
                f,
                "{devices} of {of} devices in the export carry no registeredOwners: the export was \
                 made without the owners' expansion, so no device can be placed in or out of \
                 scope; export again with {EXPAND}"
            ),
            DeletesWithheld::OwnerSidsMissing => write!(
                f,
                "no registered owner in the export carries onPremisesSecurityIdentifier: select it \
                 in the expansion ({EXPAND}) or give a users export with --users"
            ),
            DeletesWithheld::IncompleteExport { detail } => {
                write!(f, "the export looks incomplete: {detail}")
            }
            DeletesWithheld::UnidentifiedBadRecords { count } => write!(
                f,
                "{count} bad record(s) without a readable deviceId: their devices cannot be told \
                 apart from devices that left Entra"
            ),
            DeletesWithheld::OverLimit { planned, limit } => write!(
                f,
                "{planned} deletes exceed this run's limit of {limit}: look at the planned \
                 deletes (--dry-run), then allow them with --max-deletes {planned} (or \
                 --max-deletes none)"
            ),
        }
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
    /// The container's DN as text, formatted once: every add's DN is `CN=<deviceId>,` + this
    /// (a GUID's text needs no escaping).
    container_text: String,
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
}

impl Planner {
    /// A planner over the observed state of a container.
    pub fn new(observed: ObservedDevices, scope: ForestScope, options: PlanOptions) -> Planner {
        let observed_count = (observed.by_id.len() + observed.duplicates.len()) as u64;
        let container_text = observed.container.to_string();
        Planner {
            container_text,
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
                mapped,
                owners,
            } => {
                self.devices += 1;
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
            None => self.adds.push(DeviceAdd {
                dn: format!(
                    "CN={},{}",
                    mapping::device_rdn_value(&id),
                    self.container_text
                ),
                device: desired,
            }),
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
    use crate::source::{DeviceSource, SourceFormat};
    use crate::synthetic::{SyntheticConfig, SyntheticDevice, SyntheticDevices};
    use devwb_model::Sid;

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
            .map(|a| (a.dn, a.device.values))
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
            first.adds[0].dn,
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
        assert_eq!(p.adds[0].device.device_id, new.device_id);
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
    fn canonical_dns_are_recognised_in_any_spelling_and_others_are_not() {
        let id = Guid::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let cases = [
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff,CN=RegisteredDevices,DC=contoso,DC=lab",
                true,
            ),
            (
                "cn=00112233-4455-6677-8899-AABBCCDDEEFF,cn=registereddevices,dc=CONTOSO,dc=lab",
                true,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff, CN=RegisteredDevices, DC=contoso, DC=lab",
                true,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeef0,CN=RegisteredDevices,DC=contoso,DC=lab",
                false,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff,CN=Computers,DC=contoso,DC=lab",
                false,
            ),
            ("CN=laptop,CN=RegisteredDevices,DC=contoso,DC=lab", false),
        ];
        for (dn, expected) in cases {
            assert_eq!(is_canonical_dn(dn, &container(), &id), expected, "{dn}");
        }
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
