//! The plan of one writeback run, as plain data: the adds, the minimal modifies, the deletes with
//! their reasons (or why they were withheld), the skipped devices and bad records, and the
//! counts; its machine-readable report (`--json`) and its LDIF (`--dry-run`).
//!
//! [`crate::diff`] makes a plan, [`crate::apply`] applies one; this module does neither.

use std::io::{self, Write};

use devwb_model::{Dn, Guid, SchemaLevel};
use serde::Serialize;

use crate::error::{RecordError, RecordRef};
use crate::mapping::{
    device_dn, AttributeValues, DesiredDevice, DeviceAttribute, PackedValues, SkipReason,
    DEVICE_CLASS, MAPPING,
};

/// One attribute of a modify: replace its values with these (none: remove it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeChange {
    /// The attribute.
    pub attribute: DeviceAttribute,
    /// Its new values.
    pub values: Vec<Vec<u8>>,
}

/// A device to create: its id and its values, packed (see [`PackedValues`]); its DN is
/// `CN=<deviceId>,<container>` ([`DeviceAdd::dn`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAdd {
    /// Its device id.
    pub device_id: Guid,
    values: PackedValues,
}

impl DeviceAdd {
    /// The add of a desired device.
    pub fn new(device: &DesiredDevice) -> DeviceAdd {
        DeviceAdd {
            device_id: device.device_id,
            values: PackedValues::pack(&device.values),
        }
    }

    /// Its DN in `container`.
    pub fn dn(&self, container: &Dn) -> Dn {
        device_dn(container, &self.device_id)
    }

    /// Every mapped attribute's values.
    pub fn values(&self) -> AttributeValues {
        self.values.unpack()
    }

    /// The add's attributes, `objectClass` first, absent attributes left out.
    pub fn attributes(&self) -> Vec<(&'static str, Vec<Vec<u8>>)> {
        let mut values = self.values();
        let mut attributes = vec![("objectClass", vec![DEVICE_CLASS.as_bytes().to_vec()])];
        for spec in MAPPING.iter() {
            let values = std::mem::take(&mut values.0[spec.attribute.index()]);
            if !values.is_empty() {
                attributes.push((spec.ldap_name, values));
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
            writeln!(out, "\n# add device {}", add.device_id)?;
            write_ldif_value(out, "dn", add.dn(&self.container).to_string().as_bytes())?;
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
