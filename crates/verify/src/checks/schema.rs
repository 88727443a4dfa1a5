//! Checklist item 1: the forest schema is at 2012 R2 or later and has the device classes.

use devwb_model::SchemaLevel;

use super::{ids, CheckBuilder};
use crate::observed::Observed;
use crate::report::{Check, Fixable, Remedy};

fn schema_upgrade_remedy(summary: &str) -> Remedy {
    Remedy::new(summary)
        .command("adprep /forestprep   (from Windows Server 2012 R2 or later media, as a Schema Admin on the schema master)")
        .command("samba-tool domain schemaupgrade --schema=2012_R2   (on a Samba AD DC)")
}

/// `schema-level`: `objectVersion` of the schema NC head is at least 69.
pub(super) fn level(observed: &Observed) -> Check {
    let minimum = SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK;
    let check = CheckBuilder::new(
        ids::SCHEMA_LEVEL,
        "Forest schema is Windows Server 2012 R2 (objectVersion 69) or later",
    )
    .evidence("schema", observed.schema_nc());
    match observed.forest.schema.object_version {
        None => check.evidence("objectVersion", "could not be read").fail(
            Remedy::new("Bind as an account that can read the schema naming context head and run verify again."),
            Fixable::No,
        ),
        Some(version) => {
            let level = match SchemaLevel::from_object_version(version) {
                Some(level) if level.object_version() == version => level.to_string(),
                Some(level) => format!("objectVersion {version}, newer than {level}"),
                None => format!("objectVersion {version}, older than Windows Server 2008 R2"),
            };
            let check = check.evidence("schema level", level);
            if version >= minimum.object_version() {
                check.pass()
            } else {
                check.fail(
                    schema_upgrade_remedy(&format!(
                        "Extend the schema to {minimum} or later: objectVersion {version} has no device classes."
                    )),
                    Fixable::No,
                )
            }
        }
    }
}

/// `schema-device-container-class`: a classSchema `msDS-DeviceContainer` exists (the wizard's
/// second schema test).
pub(super) fn device_container_class(observed: &Observed) -> Check {
    let check = CheckBuilder::new(
        ids::SCHEMA_DEVICE_CONTAINER_CLASS,
        "Schema has the msDS-DeviceContainer class",
    );
    if observed.forest.schema.device_container_class {
        check
            .evidence("classSchema", "msDS-DeviceContainer found")
            .pass()
    } else {
        check
            .evidence("classSchema", format!("no lDAPDisplayName=msDS-DeviceContainer under {}", observed.schema_nc()))
            .fail(
                schema_upgrade_remedy("Extend the schema to Windows Server 2012 R2 or later: the device classes are missing."),
                Fixable::No,
            )
    }
}
