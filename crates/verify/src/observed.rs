//! What verify checks: the state of one forest, as plain data.
//!
//! [`Observed`] is filled from the directory by the collector (see the crate docs) or built by
//! hand in tests. Every "not found" is a value here (`None`, an empty list), never an error:
//! a missing object is exactly what verify exists to report.
//!
//! This module holds data only; the rules live in the `checks` module.

use std::collections::BTreeMap;

use devwb_model::sd::Acl;
use devwb_model::{Dn, Guid, Sid};
use serde::{Deserialize, Serialize};

/// The forest's naming contexts, from the rootDSE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForestNames {
    /// `rootDomainNamingContext`, for example `DC=contoso,DC=lab`.
    pub root_domain: Dn,
    /// `configurationNamingContext`.
    pub configuration: Dn,
    /// `schemaNamingContext`.
    pub schema: Dn,
    /// The domain naming contexts of the forest (domain heads), the root domain included.
    pub domains: Vec<Dn>,
}

impl ForestNames {
    /// The names of a one-domain forest rooted at `root_domain`, as AD lays them out.
    pub fn single_domain(root_domain: Dn) -> ForestNames {
        let configuration = root_domain.child(rdn("CN", "Configuration"));
        let schema = configuration.child(rdn("CN", "Schema"));
        ForestNames {
            domains: vec![root_domain.clone()],
            root_domain,
            configuration,
            schema,
        }
    }

    /// `CN=Services,<configuration NC>`.
    pub fn services(&self) -> Dn {
        self.configuration.child(rdn("CN", "Services"))
    }

    /// True when `dn` is one of the forest's domain heads.
    pub fn is_domain_head(&self, dn: &Dn) -> bool {
        self.domains.iter().any(|domain| domain == dn)
    }

    /// The domain head that holds `dn`, if any.
    pub fn domain_of(&self, dn: &Dn) -> Option<&Dn> {
        // The deepest domain head wins: a child domain is also under its parent's DN.
        self.domains
            .iter()
            .filter(|domain| dn.is_within(domain))
            .max_by_key(|domain| domain.depth())
    }
}

/// An RDN `attr=value` for the constant names of this crate.
pub(crate) fn rdn(attr: &str, value: &str) -> devwb_model::Rdn {
    // Only constant attribute types (`CN`) reach here, and `Rdn::new` fails only on a bad
    // attribute type, so this cannot fail on any input from the directory or the user.
    #[allow(clippy::expect_used)]
    devwb_model::Rdn::new(attr, value).expect("constant attribute types are valid")
}

/// The schema facts verify needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaObservation {
    /// `objectVersion` of the schema NC head; `None` when it could not be read.
    pub object_version: Option<u32>,
    /// Whether a classSchema with `lDAPDisplayName=msDS-DeviceContainer` exists.
    pub device_container_class: bool,
}

/// One object read back: where it is, what it is, and its DACL when it could be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedObject {
    /// The object's DN as the server returned it.
    pub dn: Dn,
    /// `objectClass`, in the server's order (most specific last).
    pub object_classes: Vec<String>,
    /// The DACL of `nTSecurityDescriptor`, read with the SD flags control; `None` when the
    /// descriptor could not be read (no READ_CONTROL) or had no DACL.
    pub dacl: Option<Acl>,
}

impl ObservedObject {
    /// True when `class` is one of the object's classes (case-insensitive, as AD compares).
    pub fn has_class(&self, class: &str) -> bool {
        self.object_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(class))
    }

    /// The most specific class: the last value, as AD orders `objectClass`.
    pub fn structural_class(&self) -> &str {
        self.object_classes
            .last()
            .map(String::as_str)
            .unwrap_or("(no objectClass)")
    }
}

/// One object the wizard's query found: `(objectClass=msDS-DeviceRegistrationService)` under
/// `CN=Services,<configuration NC>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationService {
    /// Where it is.
    pub dn: Dn,
    /// `msDS-DeviceLocation` as text (a DN, unparsed: a bad value is evidence too).
    pub device_location: Option<String>,
    /// `msDS-IsEnabled` as text (`TRUE` or `FALSE`).
    pub is_enabled: Option<String>,
    /// `msDS-MaximumRegistrationInactivityPeriod` as text.
    pub maximum_inactivity_period: Option<String>,
}

/// The outcome of a bind as the connector account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum BindAttempt {
    /// No password was given, so no bind was tried.
    NotTried,
    /// The bind succeeded.
    Succeeded,
    /// The server refused the bind or the connection failed.
    Failed {
        /// The LDAP result code, when the server answered.
        code: Option<u32>,
        /// The server's diagnostic text or the connection error.
        message: String,
    },
}

/// The connector account as the directory knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorAccount {
    /// Its DN.
    pub dn: Dn,
    /// Its `objectSid`.
    pub sid: Sid,
}

/// The connector account the user named, and what the forest says about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorObservation {
    /// The name as the user gave it (`CONTOSO\svc-aadc`, a UPN or a DN).
    pub named: String,
    /// The account found in this forest; `None` when the name matched nothing here.
    pub account: Option<ConnectorAccount>,
    /// Why the lookup found nothing, when the collector knows (for example "domain FABRIKAM
    /// is not a domain of this forest").
    pub lookup_note: Option<String>,
    /// A bind as the account, when its password was given.
    pub bind: BindAttempt,
}

/// Everything verify checks, for one forest and one target domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The forest's naming contexts.
    pub forest: ForestNames,
    /// The domain that receives devices (default: the forest root domain).
    pub domain: Dn,
    /// Schema level and classes.
    pub schema: SchemaObservation,
    /// `CN=Device Registration Configuration,CN=Services,<configuration NC>`, if it exists.
    pub configuration_container: Option<ObservedObject>,
    /// `CN=Device Registration Services,<configuration container>`, if it exists.
    pub service_container: Option<ObservedObject>,
    /// Every object the wizard's query found, in the server's order.
    pub registration_services: Vec<RegistrationService>,
    /// The object that the (first well-placed) service's `msDS-DeviceLocation` names, if that
    /// value is a DN and the object exists.
    pub location_target: Option<ObservedObject>,
    /// `CN=RegisteredDevices,<domain>`, if it exists.
    pub registered_devices: Option<ObservedObject>,
    /// The connector account, when the user named one.
    pub connector: Option<ConnectorObservation>,
    /// Names of SIDs met in the ACLs (`CONTOSO\admin`), where the collector could resolve them.
    pub account_names: BTreeMap<Sid, String>,
    /// The `msDS-DeviceID`s of the devices in the device container, when they were read.
    pub devices: Option<Vec<Guid>>,
}

impl Observed {
    /// `CN=Device Registration Configuration,CN=Services,<configuration NC>`.
    pub fn configuration_container_dn(&self) -> Dn {
        self.forest.services().child(rdn(
            "CN",
            devwb_model::schema::names::DEVICE_REGISTRATION_CONFIGURATION,
        ))
    }

    /// `CN=Device Registration Services,<configuration container>`.
    pub fn service_container_dn(&self) -> Dn {
        self.configuration_container_dn().child(rdn(
            "CN",
            devwb_model::schema::names::DEVICE_REGISTRATION_SERVICES,
        ))
    }

    /// Where the one DeviceRegistrationService object belongs.
    pub fn expected_service_dn(&self) -> Dn {
        self.service_container_dn().child(rdn(
            "CN",
            devwb_model::schema::names::DEVICE_REGISTRATION_SERVICE,
        ))
    }

    /// `CN=RegisteredDevices,<domain>`.
    pub fn expected_device_container_dn(&self) -> Dn {
        self.domain
            .child(rdn("CN", devwb_model::schema::names::REGISTERED_DEVICES))
    }

    /// The service object the other checks look at: the one at the expected DN, else the
    /// first found.
    pub fn primary_service(&self) -> Option<&RegistrationService> {
        let expected = self.expected_service_dn();
        self.registration_services
            .iter()
            .find(|service| service.dn == expected)
            .or_else(|| self.registration_services.first())
    }

    /// A SID with its name when known: `CONTOSO\admin (S-1-5-21-...-1104)`.
    pub fn describe_sid(&self, sid: &Sid) -> String {
        match self.account_names.get(sid) {
            Some(name) => format!("{name} ({sid})"),
            None => sid.to_string(),
        }
    }
}
