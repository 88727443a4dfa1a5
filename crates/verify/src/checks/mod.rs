//! The checks: pure functions from [`Observed`] (and what the user expects) to [`Check`]s.
//!
//! Each check is one function returning one [`Check`]; [`run`] calls them in a fixed order and
//! builds the [`Report`]. A check whose precondition failed earlier (no device classes in the
//! schema, no service object) is skipped and says which check to look at, so one root cause
//! gives one failure rather than ten.
//!
//! The checks cover Microsoft's troubleshooting list (device-writeback.md section 6) and the
//! failure modes seen in the field: schema too old, duplicate or partial service objects
//! (AD FS), a wrong `msDS-DeviceLocation`, missing ACEs (including the known bug of Microsoft's
//! script on a freshly created configuration container), a grant to another account than the
//! connector's, a connector account from another forest or with a bad password, and devices
//! that do not match the Entra list. Nothing here reads the directory.

mod access;
mod connector;
mod devices;
mod schema;
mod service;

pub(crate) use access::device_container;
pub use access::{CONFIGURATION_CONTAINER_RIGHTS, DEVICE_CONTAINER_RIGHTS};

use devwb_model::Guid;

use crate::observed::Observed;
pub use crate::remedies::Invocation;
use crate::report::{Check, Evidence, Fixable, Remedy, Report, Status};

/// The stable ids of every check, in report order.
pub mod ids {
    /// Schema `objectVersion` is 69 (2012 R2) or later.
    pub const SCHEMA_LEVEL: &str = "schema-level";
    /// The `msDS-DeviceContainer` class exists.
    pub const SCHEMA_DEVICE_CONTAINER_CLASS: &str = "schema-device-container-class";
    /// The two configuration containers exist with their classes.
    pub const CONFIGURATION_CONTAINERS: &str = "configuration-containers";
    /// Exactly one `msDS-DeviceRegistrationService` object.
    pub const REGISTRATION_SERVICE_COUNT: &str = "registration-service-count";
    /// The service object is where the wizard puts it.
    pub const REGISTRATION_SERVICE_PLACEMENT: &str = "registration-service-placement";
    /// The service object has `msDS-DeviceLocation` and `msDS-IsEnabled`.
    pub const REGISTRATION_SERVICE_ATTRIBUTES: &str = "registration-service-attributes";
    /// `msDS-DeviceLocation` names an existing device container under a domain head.
    pub const DEVICE_LOCATION_TARGET: &str = "device-location-target";
    /// The connector account exists in this forest.
    pub const CONNECTOR_ACCOUNT_FOREST: &str = "connector-account-forest";
    /// The connector account can bind with the password given.
    pub const CONNECTOR_ACCOUNT_BIND: &str = "connector-account-bind";
    /// The connector ACE on the device container.
    pub const DEVICE_CONTAINER_ACE: &str = "device-container-ace";
    /// The connector ACE on the Device Registration Configuration container.
    pub const CONFIGURATION_CONTAINER_ACE: &str = "configuration-container-ace";
    /// The account holding the grants is the connector account named.
    pub const CONNECTOR_ACCOUNT_GRANT: &str = "connector-account-grant";
    /// The devices in the container match the Entra export.
    pub const DEVICES_MATCH: &str = "devices-match";

    /// Every id, in report order.
    pub const ALL: [&str; 13] = [
        SCHEMA_LEVEL,
        SCHEMA_DEVICE_CONTAINER_CLASS,
        CONFIGURATION_CONTAINERS,
        REGISTRATION_SERVICE_COUNT,
        REGISTRATION_SERVICE_PLACEMENT,
        REGISTRATION_SERVICE_ATTRIBUTES,
        DEVICE_LOCATION_TARGET,
        CONNECTOR_ACCOUNT_FOREST,
        CONNECTOR_ACCOUNT_BIND,
        DEVICE_CONTAINER_ACE,
        CONFIGURATION_CONTAINER_ACE,
        CONNECTOR_ACCOUNT_GRANT,
        DEVICES_MATCH,
    ];
}

/// What the user expects, beyond what the directory says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// The Entra device ids that should be in the device container (from an export), when
    /// the device comparison is wanted.
    pub devices: Option<Vec<Guid>>,
    /// How this run reached the directory and where its export is, so that a remedy's devwb
    /// command can be pasted as printed; placeholders stand in where it is `None`.
    pub invocation: Option<Invocation>,
}

/// Runs every check over `observed` and builds the report.
pub fn run(observed: &Observed, expected: &Expected) -> Report {
    let checks = vec![
        schema::level(observed),
        schema::device_container_class(observed),
        service::configuration_containers(observed),
        service::count(observed),
        service::placement(observed),
        service::attributes(observed),
        service::location_target(observed),
        connector::forest(observed),
        connector::bind(observed),
        access::device_container_ace(observed),
        access::configuration_container_ace(observed),
        access::connector_grant(observed),
        devices::matches(observed, expected),
    ];
    Report::new(
        crate::remedies::domain_name(observed.root_domain()),
        observed.domain().to_string(),
        observed
            .connector
            .as_ref()
            .map(|connector| connector.named.clone()),
        checks,
    )
}

/// A check under construction: the id and title are fixed, the rest is filled by the rule.
pub(crate) struct CheckBuilder {
    check: Check,
}

impl CheckBuilder {
    pub(crate) fn new(id: &str, title: &str) -> CheckBuilder {
        CheckBuilder {
            check: Check {
                id: id.to_string(),
                title: title.to_string(),
                status: Status::Pass,
                evidence: Vec::new(),
                remedy: None,
                fixable: Fixable::No,
            },
        }
    }

    pub(crate) fn evidence(mut self, label: &str, value: impl ToString) -> CheckBuilder {
        self.check.evidence.push(Evidence::new(label, value));
        self
    }

    pub(crate) fn push_evidence(&mut self, label: &str, value: impl ToString) {
        self.check.evidence.push(Evidence::new(label, value));
    }

    pub(crate) fn pass(self) -> Check {
        self.finish(Status::Pass, None, Fixable::No)
    }

    pub(crate) fn warn(self, remedy: Remedy) -> Check {
        self.finish(Status::Warn, Some(remedy), Fixable::No)
    }

    pub(crate) fn fail(self, remedy: Remedy, fixable: Fixable) -> Check {
        self.finish(Status::Fail, Some(remedy), fixable)
    }

    pub(crate) fn skip(self, why: impl Into<String>) -> Check {
        self.finish(Status::Skipped { why: why.into() }, None, Fixable::No)
    }

    fn finish(mut self, status: Status, remedy: Option<Remedy>, fixable: Fixable) -> Check {
        self.check.status = status;
        self.check.remedy = remedy;
        self.check.fixable = fixable;
        self.check
    }
}

/// Why the checks after the schema checks are skipped, when the schema has no device classes.
pub(crate) fn schema_blocks(observed: &Observed) -> Option<String> {
    let too_old = observed
        .forest
        .schema
        .object_version
        .is_some_and(|version| {
            version < devwb_model::SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK.object_version()
        });
    if too_old || !observed.forest.schema.device_container_class {
        Some(format!(
            "the schema has no device classes (see {} and {})",
            ids::SCHEMA_LEVEL,
            ids::SCHEMA_DEVICE_CONTAINER_CLASS
        ))
    } else {
        None
    }
}
