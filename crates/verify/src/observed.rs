//! What verify checks: the state of one forest, as plain data.
//!
//! [`Observed`] is the client crate's [`ForestObservation`] (the same reading prepare plans
//! from, in the same vocabulary: [`ObservedObject`], [`RegistrationService`],
//! [`SchemaObservation`]) plus what only verify reads: the connector account's lookup and bind,
//! the names of the accounts holding ACEs, and the device ids. It is filled by the collector (see
//! the crate docs) or built by hand in tests. Every "not found" is a value here (`None`, an empty
//! list, an object that does not exist), never an error: a missing object is exactly what verify
//! exists to report.
//!
//! This module holds data and the views the checks share; the rules live in the `checks` module.

use std::collections::BTreeMap;

pub use devwb_ldap::observe::{
    ForestObservation, ObservedObject, RegistrationService, SchemaObservation,
};
use devwb_ldap::Account;
use devwb_model::{Dn, Guid, Sid};
use serde::{Deserialize, Serialize};

/// An RDN `attr=value` for the constant names of this crate.
pub(crate) fn rdn(attr: &str, value: &str) -> devwb_model::Rdn {
    // Only constant attribute types (`CN`) reach here, and `Rdn::new` fails only on a bad
    // attribute type, so this cannot fail on any input from the directory or the user.
    #[allow(clippy::expect_used)]
    devwb_model::Rdn::new(attr, value).expect("constant attribute types are valid")
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

/// The connector account the user named, and what became of looking it up. The account found
/// is the forest observation's [`ForestObservation::connector`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorObservation {
    /// The name as the user gave it (`CONTOSO\svc-aadc`, a UPN or a DN).
    pub named: String,
    /// Why the lookup found nothing, when the collector knows (for example "domain FABRIKAM
    /// is not a domain of this forest").
    pub lookup_note: Option<String>,
    /// A bind as the account, when its password was given.
    pub bind: BindAttempt,
}

/// Everything verify checks, for one forest and one target domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The forest's device registration setup, as the client crate reads it.
    pub forest: ForestObservation,
    /// The connector account, when the user named one.
    pub connector: Option<ConnectorObservation>,
    /// Names of SIDs met in the ACLs (`CONTOSO\admin`), where the collector could resolve them.
    pub account_names: BTreeMap<Sid, String>,
    /// The `msDS-DeviceID`s of the devices in the device container, when they were read.
    pub devices: Option<Vec<Guid>>,
}

impl Observed {
    /// The observation of `forest` alone: no connector named, no names, no device ids.
    pub fn new(forest: ForestObservation) -> Observed {
        Observed {
            forest,
            connector: None,
            account_names: BTreeMap::new(),
            devices: None,
        }
    }

    /// The domain that receives devices (default: the forest root domain).
    pub fn domain(&self) -> &Dn {
        &self.forest.domain
    }

    /// The forest root domain's naming context, for example `DC=contoso,DC=lab`.
    pub fn root_domain(&self) -> &Dn {
        &self.forest.root_dse.root_domain_nc
    }

    /// The schema naming context.
    pub fn schema_nc(&self) -> &Dn {
        &self.forest.root_dse.schema_nc
    }

    /// `CN=Services,<configuration NC>`.
    pub fn services_dn(&self) -> Dn {
        self.forest
            .root_dse
            .configuration_nc
            .child(rdn("CN", "Services"))
    }

    /// `CN=Device Registration Configuration,CN=Services,<configuration NC>`.
    pub fn configuration_container_dn(&self) -> Dn {
        self.forest.device_registration_configuration.dn.clone()
    }

    /// `CN=Device Registration Services,<configuration container>`.
    pub fn service_container_dn(&self) -> Dn {
        self.forest.device_registration_services.dn.clone()
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
        self.forest.device_container.dn.clone()
    }

    /// `CN=Device Registration Configuration,...`, if it exists.
    pub fn configuration_container(&self) -> Option<&ObservedObject> {
        existing(&self.forest.device_registration_configuration)
    }

    /// `CN=Device Registration Services,...`, if it exists.
    pub fn service_container(&self) -> Option<&ObservedObject> {
        existing(&self.forest.device_registration_services)
    }

    /// `CN=RegisteredDevices,<domain>`, if it exists.
    pub fn registered_devices(&self) -> Option<&ObservedObject> {
        existing(&self.forest.device_container)
    }

    /// Every object the wizard's query found, in the server's order.
    pub fn registration_services(&self) -> &[RegistrationService] {
        &self.forest.registration_services
    }

    /// The service object the other checks look at: the one at the expected DN, else the
    /// first found.
    pub fn primary_service(&self) -> Option<&RegistrationService> {
        let expected = self.expected_service_dn();
        self.forest
            .registration_services
            .iter()
            .find(|service| service.dn == expected)
            .or_else(|| self.forest.registration_services.first())
    }

    /// The object that the primary service's `msDS-DeviceLocation` names, if that value is a DN
    /// and the object exists.
    pub fn location_target(&self) -> Option<&ObservedObject> {
        let location = self.primary_service()?.device_location_dn()?;
        std::iter::once(&self.forest.device_container)
            .chain(self.forest.location_targets.iter())
            .find(|target| target.dn == location)
            .and_then(existing)
    }

    /// Why the object the primary service's `msDS-DeviceLocation` names could not be looked at,
    /// when its domain's DC could not be reached.
    pub fn location_target_unreachable(&self) -> Option<&str> {
        let location = self.primary_service()?.device_location_dn()?;
        std::iter::once(&self.forest.device_container)
            .chain(self.forest.location_targets.iter())
            .find(|target| target.dn == location)
            .and_then(|target| target.unreachable.as_deref())
    }

    /// The connector account found in this forest, when one was named and found.
    pub fn connector_account(&self) -> Option<&Account> {
        self.forest.connector.as_ref()
    }

    /// The forest's domain heads: the crossRefs' naming contexts, the root and default naming
    /// contexts of the rootDSE, and the parents of the observed containers that are `domainDNS`
    /// objects (so a server whose crossRefs cannot be read still gets "directly under a domain
    /// head" right).
    pub fn domain_heads(&self) -> Vec<Dn> {
        let forest = &self.forest;
        let mut heads: Vec<Dn> = forest
            .forest
            .domains
            .iter()
            .map(|domain| domain.nc.clone())
            .collect();
        heads.push(forest.root_dse.root_domain_nc.clone());
        heads.push(forest.root_dse.default_nc.clone());
        for object in
            std::iter::once(&forest.device_container).chain(forest.location_targets.iter())
        {
            if object.parent_is_domain_head() {
                heads.extend(object.dn.parent());
            }
        }
        let mut unique: Vec<Dn> = Vec::new();
        for head in heads {
            if !unique.contains(&head) {
                unique.push(head);
            }
        }
        unique
    }

    /// True when `dn` is one of the forest's domain heads.
    pub fn is_domain_head(&self, dn: &Dn) -> bool {
        self.domain_heads().iter().any(|domain| domain == dn)
    }

    /// The domain head that holds `dn`, if any.
    pub fn domain_of(&self, dn: &Dn) -> Option<Dn> {
        // The deepest domain head wins: a child domain is also under its parent's DN.
        self.domain_heads()
            .into_iter()
            .filter(|domain| dn.is_within(domain))
            .max_by_key(|domain| domain.depth())
    }

    /// A SID with its name when known: `CONTOSO\admin (S-1-5-21-...-1104)`.
    pub fn describe_sid(&self, sid: &Sid) -> String {
        match self.account_names.get(sid) {
            Some(name) => format!("{name} ({sid})"),
            None => sid.to_string(),
        }
    }
}

/// The object, when it exists.
fn existing(object: &ObservedObject) -> Option<&ObservedObject> {
    object.exists.then_some(object)
}

/// The most specific class of an object, for evidence (`(no objectClass)` when none was read).
pub(crate) fn class_name(object: &ObservedObject) -> &str {
    object.structural_class().unwrap_or("(no objectClass)")
}
