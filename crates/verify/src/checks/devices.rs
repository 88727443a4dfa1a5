//! Checklist item 6: the devices in the device container match the Entra list.
//!
//! The expected ids come in as plain GUIDs (the command line reads the Entra export through the
//! writeback crate, which this crate does not depend on). Both directions count: a device
//! missing in AD was not written back, a device in AD that is not in the list is stale.

use std::collections::BTreeSet;

use devwb_model::Guid;

use super::{ids, schema_blocks, CheckBuilder, Expected};
use crate::observed::Observed;
use crate::report::{Check, Fixable, Remedy};

/// How many ids of each kind the evidence lists before summarising.
const LISTED_IDS: usize = 10;

fn list(ids: &[&Guid]) -> String {
    let mut text: Vec<String> = ids
        .iter()
        .take(LISTED_IDS)
        .map(|id| id.to_string())
        .collect();
    if ids.len() > LISTED_IDS {
        text.push(format!("and {} more", ids.len() - LISTED_IDS));
    }
    text.join(", ")
}

/// `devices-match`.
pub(super) fn matches(observed: &Observed, expected: &Expected) -> Check {
    let check = CheckBuilder::new(
        ids::DEVICES_MATCH,
        "Devices in the device container match the Entra export",
    );
    let Some(expected_ids) = &expected.devices else {
        return check.skip("no Entra device export given (--devices)");
    };
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    let Some(found_ids) = &observed.devices else {
        return check.skip(format!(
            "the device container could not be read (see {})",
            ids::DEVICE_LOCATION_TARGET
        ));
    };
    let expected_set: BTreeSet<&Guid> = expected_ids.iter().collect();
    let found_set: BTreeSet<&Guid> = found_ids.iter().collect();
    let missing: Vec<&Guid> = expected_set.difference(&found_set).copied().collect();
    let stale: Vec<&Guid> = found_set.difference(&expected_set).copied().collect();
    let mut check = check
        .evidence("in the export", expected_set.len())
        .evidence("in the container", found_set.len());
    if missing.is_empty() && stale.is_empty() {
        return check.pass();
    }
    if !missing.is_empty() {
        check.push_evidence(
            "missing in AD",
            format!("{}: {}", missing.len(), list(&missing)),
        );
    }
    if !stale.is_empty() {
        check.push_evidence(
            "not in the export",
            format!("{}: {}", stale.len(), list(&stale)),
        );
    }
    check.fail(
        Remedy::new(
            "Write the devices back (devwb converges in one run; Entra Connect can take up to 3 hours, or start a delta cycle).",
        )
        .command(crate::remedies::devwb_writeback(expected.invocation.as_ref()))
        .command("Start-ADSyncSyncCycle -PolicyType Delta"),
        Fixable::No,
    )
}
