//! Devices shaped as `devwb writeback` writes them, for the benches that load a directory:
//! the synthetic generator's Graph devices (`devwb-synthetic`, the same seed gives the same
//! devices) mapped to the twelve attributes of writeback's mapping table (crates/writeback
//! src/mapping.rs), written down again here because the simulator may not depend on writeback.

use devwb_synthetic::{default_owner_domain, SyntheticConfig, SyntheticDevices};

/// One device add: its DN and its attributes, `objectClass` first, as writeback sends them.
pub struct DeviceAdd {
    pub dn: String,
    pub attributes: Vec<(&'static str, Vec<Vec<u8>>)>,
}

fn flag(value: bool) -> Vec<u8> {
    if value {
        b"TRUE".to_vec()
    } else {
        b"FALSE".to_vec()
    }
}

/// `count` devices under `container`, from the generator's `seed`.
pub fn writeback_devices(
    container: &str,
    count: u64,
    seed: u64,
) -> impl Iterator<Item = DeviceAdd> + '_ {
    SyntheticDevices::new(SyntheticConfig::new(count, seed, default_owner_domain())).map(
        move |device| {
            let mut physical: Vec<Vec<u8>> = Vec::new();
            for id in &device.physical_ids {
                if !physical
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(id.as_bytes()))
                {
                    physical.push(id.as_bytes().to_vec());
                }
            }
            let mut attributes = vec![
                ("objectClass", vec![b"msDS-Device".to_vec()]),
                (
                    "msDS-DeviceID",
                    vec![device.device_id.to_ad_bytes().to_vec()],
                ),
                (
                    "displayName",
                    vec![device.display_name.clone().into_bytes()],
                ),
                ("msDS-IsEnabled", vec![flag(device.account_enabled)]),
                (
                    "msDS-DeviceOSType",
                    vec![device.operating_system.clone().into_bytes()],
                ),
                (
                    "msDS-DeviceOSVersion",
                    vec![device.operating_system_version.clone().into_bytes()],
                ),
            ];
            if !physical.is_empty() {
                attributes.push(("msDS-DevicePhysicalIDs", physical));
            }
            attributes.extend([
                (
                    "msDS-DeviceObjectVersion",
                    vec![device.device_version.to_string().into_bytes()],
                ),
                (
                    "altSecurityIdentities",
                    vec![device.alt_security_identity.clone().into_bytes()],
                ),
                ("msDS-IsManaged", vec![flag(device.is_managed)]),
                ("msDS-IsCompliant", vec![flag(device.is_compliant)]),
                (
                    "msDS-RegisteredOwner",
                    vec![device.owner_sid.to_string().into_bytes()],
                ),
                (
                    "msDS-CloudAnchor",
                    vec![format!("Device_{}", device.object_id).into_bytes()],
                ),
            ]);
            DeviceAdd {
                dn: format!("CN={},{container}", device.device_id),
                attributes,
            }
        },
    )
}

/// The attributes a writeback rerun reads back from each device (its container search).
#[allow(dead_code)] // the bench client reads them back; entry_memory does not
pub const WRITEBACK_READ: &[&str] = &[
    "msDS-DeviceID",
    "displayName",
    "msDS-IsEnabled",
    "msDS-DeviceOSType",
    "msDS-DeviceOSVersion",
    "msDS-DevicePhysicalIDs",
    "msDS-DeviceObjectVersion",
    "altSecurityIdentities",
    "msDS-IsManaged",
    "msDS-IsCompliant",
    "msDS-RegisteredOwner",
    "msDS-CloudAnchor",
];
