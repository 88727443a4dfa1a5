//! Schema facts of device writeback: the classes and attributes Microsoft added for device
//! registration, their OIDs and schemaIDGUIDs, and the schema levels (`objectVersion`) at
//! which they exist.
//!
//! The values come from Microsoft's published AD schema LDF files (shared/reference,
//! device-writeback.md section 3). This module holds only what the client side needs to plan
//! and check; the simulator's full schema table is generated separately and a test checks that
//! the two agree.

use std::fmt;
use std::str::FromStr;

use crate::guid::Guid;

/// A forest's schema level, as the schema NC head's `objectVersion` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SchemaLevel {
    /// Windows Server 2008 R2, objectVersion 47: no device classes.
    W2008R2,
    /// Windows Server 2012, objectVersion 56.
    W2012,
    /// Windows Server 2012 R2, objectVersion 69: the device classes appear.
    W2012R2,
    /// Windows Server 2016, objectVersion 87: adds msDS-IsCompliant, msDS-KeyCredentialLink and others.
    W2016,
    /// Windows Server 2019 and 2022, objectVersion 88.
    W2019,
    /// Windows Server 2025, objectVersion 91.
    W2025,
}

impl SchemaLevel {
    /// Every level, oldest first.
    pub const ALL: [SchemaLevel; 6] = [
        SchemaLevel::W2008R2,
        SchemaLevel::W2012,
        SchemaLevel::W2012R2,
        SchemaLevel::W2016,
        SchemaLevel::W2019,
        SchemaLevel::W2025,
    ];

    /// The oldest level that supports device writeback.
    pub const MINIMUM_FOR_DEVICE_WRITEBACK: SchemaLevel = SchemaLevel::W2012R2;

    /// The `objectVersion` of the schema NC head at this level.
    pub fn object_version(self) -> u32 {
        match self {
            SchemaLevel::W2008R2 => 47,
            SchemaLevel::W2012 => 56,
            SchemaLevel::W2012R2 => 69,
            SchemaLevel::W2016 => 87,
            SchemaLevel::W2019 => 88,
            SchemaLevel::W2025 => 91,
        }
    }

    /// The newest known level whose objectVersion is at most `version`; `None` below 2008 R2.
    /// An unknown newer version maps to the newest level we know.
    pub fn from_object_version(version: u32) -> Option<SchemaLevel> {
        SchemaLevel::ALL
            .iter()
            .rev()
            .copied()
            .find(|level| level.object_version() <= version)
    }

    /// Whether the device classes (`msDS-Device`, `msDS-DeviceContainer`, ...) exist.
    pub fn has_device_classes(self) -> bool {
        self >= SchemaLevel::W2012R2
    }

    /// Whether the 2016 device attributes (`msDS-IsCompliant`, `msDS-KeyCredentialLink`, ...) exist.
    pub fn has_2016_device_attributes(self) -> bool {
        self >= SchemaLevel::W2016
    }

    /// The name Samba's `--base-schema` option and our command lines use: `2008r2`, `2012r2`, ...
    pub fn short_name(self) -> &'static str {
        match self {
            SchemaLevel::W2008R2 => "2008r2",
            SchemaLevel::W2012 => "2012",
            SchemaLevel::W2012R2 => "2012r2",
            SchemaLevel::W2016 => "2016",
            SchemaLevel::W2019 => "2019",
            SchemaLevel::W2025 => "2025",
        }
    }
}

impl SchemaLevel {
    /// The Windows Server release(s) of this level: `Windows Server 2012 R2`.
    pub fn product_name(self) -> &'static str {
        match self {
            SchemaLevel::W2008R2 => "Windows Server 2008 R2",
            SchemaLevel::W2012 => "Windows Server 2012",
            SchemaLevel::W2012R2 => "Windows Server 2012 R2",
            SchemaLevel::W2016 => "Windows Server 2016",
            SchemaLevel::W2019 => "Windows Server 2019/2022",
            SchemaLevel::W2025 => "Windows Server 2025",
        }
    }
}

impl fmt::Display for SchemaLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (objectVersion {})",
            self.product_name(),
            self.object_version()
        )
    }
}

/// An unknown schema level name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema level {0:?}: expected one of 2008r2, 2012, 2012r2, 2016, 2019, 2025")]
pub struct SchemaLevelError(pub String);

impl FromStr for SchemaLevel {
    type Err = SchemaLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | ' ' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        let key = key.trim_start_matches('w');
        match key {
            "2008r2" => Ok(SchemaLevel::W2008R2),
            "2012" => Ok(SchemaLevel::W2012),
            "2012r2" => Ok(SchemaLevel::W2012R2),
            "2016" => Ok(SchemaLevel::W2016),
            "2019" | "2022" => Ok(SchemaLevel::W2019),
            "2025" => Ok(SchemaLevel::W2025),
            _ => Err(SchemaLevelError(s.to_string())),
        }
    }
}

/// A structural class of device registration, with its identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassFact {
    /// The lDAPDisplayName.
    pub name: &'static str,
    /// The governsID.
    pub governs_id: &'static str,
    /// The schemaIDGUID, as text.
    pub schema_id_guid: &'static str,
}

impl ClassFact {
    /// The schemaIDGUID parsed; the constants below are checked by a test.
    pub fn guid(&self) -> Guid {
        Guid::parse(self.schema_id_guid).unwrap_or(Guid::from_u128(0))
    }
}

/// `msDS-DeviceRegistrationServiceContainer`: `CN=Device Registration Services`.
pub const DEVICE_REGISTRATION_SERVICE_CONTAINER: ClassFact = ClassFact {
    name: "msDS-DeviceRegistrationServiceContainer",
    governs_id: "1.2.840.113556.1.5.287",
    schema_id_guid: "310b55ce-3dcd-4392-a96d-c9e35397c24f",
};

/// `msDS-DeviceRegistrationService`: the object carrying `msDS-DeviceLocation`.
pub const DEVICE_REGISTRATION_SERVICE: ClassFact = ClassFact {
    name: "msDS-DeviceRegistrationService",
    governs_id: "1.2.840.113556.1.5.284",
    schema_id_guid: "96bc3a1a-e3d2-49d3-af11-7b0df79d67f5",
};

/// `msDS-DeviceContainer`: `CN=RegisteredDevices`, directly under a domain head.
pub const DEVICE_CONTAINER: ClassFact = ClassFact {
    name: "msDS-DeviceContainer",
    governs_id: "1.2.840.113556.1.5.289",
    schema_id_guid: "7c9e8c58-901b-4ea8-b6ec-4eb9e9fc0e11",
};

/// `msDS-Device`: one registered device.
pub const DEVICE: ClassFact = ClassFact {
    name: "msDS-Device",
    governs_id: "1.2.840.113556.1.5.286",
    schema_id_guid: "5df2b673-6d41-4774-b3e8-d52e8ee9ff99",
};

/// `container`: the class of `CN=Device Registration Configuration`.
pub const CONTAINER: ClassFact = ClassFact {
    name: "container",
    governs_id: "1.2.840.113556.1.3.23",
    schema_id_guid: "bf967a8b-0de6-11d0-a285-00aa003049e2",
};

/// `serviceConnectionPoint`: the class of the hybrid-join SCP.
pub const SERVICE_CONNECTION_POINT: ClassFact = ClassFact {
    name: "serviceConnectionPoint",
    governs_id: "1.2.840.113556.1.5.126",
    schema_id_guid: "28630ec1-41d5-11d1-a9c1-0000f80367c1",
};

/// `domainDNS`: a domain head, the only possible superior of `msDS-DeviceContainer`.
pub const DOMAIN_DNS: ClassFact = ClassFact {
    name: "domainDNS",
    governs_id: "1.2.840.113556.1.5.67",
    schema_id_guid: "19195a5b-6da0-11d0-afd3-00c04fd930c9",
};

/// Attribute names of the device classes, spelled as their lDAPDisplayName.
pub mod attr {
    pub const DEVICE_ID: &str = "msDS-DeviceID";
    pub const IS_ENABLED: &str = "msDS-IsEnabled";
    pub const ALT_SECURITY_IDENTITIES: &str = "altSecurityIdentities";
    pub const DISPLAY_NAME: &str = "displayName";
    pub const DEVICE_OS_TYPE: &str = "msDS-DeviceOSType";
    pub const DEVICE_OS_VERSION: &str = "msDS-DeviceOSVersion";
    pub const DEVICE_PHYSICAL_IDS: &str = "msDS-DevicePhysicalIDs";
    pub const DEVICE_OBJECT_VERSION: &str = "msDS-DeviceObjectVersion";
    pub const REGISTERED_OWNER: &str = "msDS-RegisteredOwner";
    pub const REGISTERED_USERS: &str = "msDS-RegisteredUsers";
    pub const APPROXIMATE_LAST_LOGON: &str = "msDS-ApproximateLastLogonTimeStamp";
    pub const CLOUD_ANCHOR: &str = "msDS-CloudAnchor";
    pub const IS_MANAGED: &str = "msDS-IsManaged";
    pub const CLOUD_IS_MANAGED: &str = "msDS-CloudIsManaged";
    /// 2016 schema only.
    pub const IS_COMPLIANT: &str = "msDS-IsCompliant";
    /// 2016 schema only.
    pub const DEVICE_TRUST_TYPE: &str = "msDS-DeviceTrustType";
    /// 2016 schema only.
    pub const KEY_CREDENTIAL_LINK: &str = "msDS-KeyCredentialLink";
    /// On the DeviceRegistrationService object: the DN of the device container.
    pub const DEVICE_LOCATION: &str = "msDS-DeviceLocation";
    pub const MAXIMUM_REGISTRATION_INACTIVITY_PERIOD: &str =
        "msDS-MaximumRegistrationInactivityPeriod";
}

/// The rights the AD connector account is granted, container inherit, for device writeback
/// (device-writeback.md section 2). `prepare` grants them and `verify` checks them: they are
/// stated once, here.
pub mod connector_rights {
    use crate::sd::AccessMask;

    /// On `CN=RegisteredDevices`: CC DC LC SW RP WP DT LO SD RC (dsacls `GRGWCCDCSDDT`).
    pub const DEVICE_CONTAINER: AccessMask = AccessMask(0x0003_00FF);
    /// On `CN=Device Registration Configuration`: LC SW RP WP LO RC (dsacls `GRGW`).
    pub const REGISTRATION_CONFIGURATION: AccessMask = AccessMask(0x0002_00BC);
}

/// The fixed names of the preparation's objects (device-writeback.md section 1).
pub mod names {
    /// RDN value of the device container under the domain head.
    pub const REGISTERED_DEVICES: &str = "RegisteredDevices";
    /// RDN value of the configuration container under `CN=Services`.
    pub const DEVICE_REGISTRATION_CONFIGURATION: &str = "Device Registration Configuration";
    /// RDN value of the service container.
    pub const DEVICE_REGISTRATION_SERVICES: &str = "Device Registration Services";
    /// RDN value of the service object.
    pub const DEVICE_REGISTRATION_SERVICE: &str = "DeviceRegistrationService";
    /// RDN value of the hybrid-join service connection point.
    pub const HYBRID_JOIN_SCP: &str = "62a0ff2e-97b9-4513-943f-0d221bd30080";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_versions_round_trip() {
        for level in SchemaLevel::ALL {
            assert_eq!(
                SchemaLevel::from_object_version(level.object_version()),
                Some(level)
            );
            assert_eq!(level.short_name().parse::<SchemaLevel>(), Ok(level));
        }
        assert_eq!(SchemaLevel::from_object_version(30), None);
        assert_eq!(
            SchemaLevel::from_object_version(68),
            Some(SchemaLevel::W2012)
        );
        assert_eq!(
            SchemaLevel::from_object_version(120),
            Some(SchemaLevel::W2025)
        );
        assert_eq!("2012_R2".parse::<SchemaLevel>(), Ok(SchemaLevel::W2012R2));
        assert!("2003".parse::<SchemaLevel>().is_err());
    }

    #[test]
    fn display_is_the_product_name_and_the_object_version() {
        assert_eq!(
            SchemaLevel::W2012R2.product_name(),
            "Windows Server 2012 R2"
        );
        assert_eq!(
            SchemaLevel::W2012R2.to_string(),
            "Windows Server 2012 R2 (objectVersion 69)"
        );
    }

    #[test]
    fn device_classes_appear_at_2012_r2() {
        assert!(!SchemaLevel::W2012.has_device_classes());
        assert!(SchemaLevel::W2012R2.has_device_classes());
        assert!(!SchemaLevel::W2012R2.has_2016_device_attributes());
        assert!(SchemaLevel::W2016.has_2016_device_attributes());
    }

    #[test]
    fn class_guids_parse() {
        for class in [
            DEVICE_REGISTRATION_SERVICE_CONTAINER,
            DEVICE_REGISTRATION_SERVICE,
            DEVICE_CONTAINER,
            DEVICE,
            CONTAINER,
            SERVICE_CONNECTION_POINT,
            DOMAIN_DNS,
        ] {
            let guid = Guid::parse(class.schema_id_guid).expect("valid GUID");
            assert_eq!(guid.to_string(), class.schema_id_guid);
            assert_eq!(class.guid(), guid);
        }
    }
}
