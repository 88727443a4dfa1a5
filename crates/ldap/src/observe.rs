//! What a forest looks like for device registration, read once as plain data.
//!
//! [`observe_device_registration`] is shared by `prepare` (which plans from it) and `verify`
//! (which checks it, adding only what verify alone reads): the two must not depend on each
//! other, so the reading and its vocabulary live here, once. It reads
//! and never writes. What it cannot read (a security descriptor without READ_CONTROL, say) is
//! recorded in the observation, not raised, so both callers can say precisely what was missing.
//!
//! It does not judge: whether a schema is too old, a location wrong or an ACE missing is for
//! the callers to decide.

use std::collections::BTreeMap;

use devwb_model::schema::{self, attr, names};
use devwb_model::sd::{Acl, SddlContext, SecurityDescriptor};
use devwb_model::{Dn, Rdn, Sid};
use ldap3::Scope;

use crate::account::{Account, ForestDomains};
use crate::client::Client;
use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::rootdse::RootDse;
use devwb_model::sd::SecurityInformation;

/// The classes whose `defaultSecurityDescriptor` the observation reads: those prepare creates.
pub const OBSERVED_CLASSES: [&str; 4] = [
    schema::DEVICE_CONTAINER.name,
    schema::CONTAINER.name,
    schema::DEVICE_REGISTRATION_SERVICE_CONTAINER.name,
    schema::DEVICE_REGISTRATION_SERVICE.name,
];

/// The wizard's attributes for the DeviceRegistrationService query (KB 3085068), plus the ones
/// prepare and verify need.
pub const REGISTRATION_SERVICE_ATTRIBUTES: [&str; 9] = [
    "msDS-DeviceLocation",
    "name",
    "displayName",
    "distinguishedName",
    "objectClass",
    "msDS-IsEnabled",
    "msDS-MaximumRegistrationInactivityPeriod",
    "adminDescription",
    "whenCreated",
];

/// Everything prepare and verify need to know about a forest's device registration setup.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForestObservation {
    /// The rootDSE.
    pub root_dse: RootDse,
    /// The schema's level and device classes.
    pub schema: SchemaObservation,
    /// The forest's domains (crossRefs).
    pub forest: ForestDomains,
    /// The domain that receives devices (as asked; default the forest root domain).
    pub domain: Dn,
    /// That domain's SID, when readable.
    pub domain_sid: Option<Sid>,
    /// The forest root domain's SID, when readable.
    pub root_domain_sid: Option<Sid>,
    /// Every `msDS-DeviceRegistrationService` under `CN=Services,<configuration NC>` (the wizard's query).
    pub registration_services: Vec<RegistrationService>,
    /// `CN=Device Registration Configuration,CN=Services,<configuration NC>`.
    pub device_registration_configuration: ObservedObject,
    /// `CN=Device Registration Services,CN=Device Registration Configuration,...`.
    pub device_registration_services: ObservedObject,
    /// `CN=RegisteredDevices,<domain>`: where prepare puts the device container.
    pub device_container: ObservedObject,
    /// The objects the services' `msDS-DeviceLocation` values name, other than `device_container`.
    pub location_targets: Vec<ObservedObject>,
    /// The connector account, when one was given.
    pub connector: Option<Account>,
}

/// The schema facts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaObservation {
    /// The schema head's `objectVersion`, when readable.
    pub object_version: Option<u32>,
    /// Whether classSchema `msDS-DeviceContainer` exists.
    pub device_container_class: bool,
    /// Whether classSchema `msDS-DeviceRegistrationService` exists.
    pub registration_service_class: bool,
    /// `defaultSecurityDescriptor` (SDDL) by class name, for the classes in [`OBSERVED_CLASSES`] that exist.
    pub default_security_descriptors: BTreeMap<String, String>,
}

/// One `msDS-DeviceRegistrationService` object, its attributes as found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistrationService {
    /// Its DN.
    pub dn: Dn,
    /// `msDS-DeviceLocation` as text (it may not parse as a DN: that is for the caller to report).
    pub device_location: Option<String>,
    /// `msDS-IsEnabled` as text (`TRUE` / `FALSE`).
    pub is_enabled: Option<String>,
    /// `msDS-MaximumRegistrationInactivityPeriod` as text.
    pub maximum_inactivity_period: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `adminDescription` (devwb marks the objects it creates there).
    pub admin_description: Option<String>,
    /// `whenCreated`.
    pub when_created: Option<String>,
    /// `objectClass`, from `top` down.
    pub object_classes: Vec<String>,
}

impl RegistrationService {
    /// `msDS-DeviceLocation` parsed, when present and well formed.
    pub fn device_location_dn(&self) -> Option<Dn> {
        self.device_location
            .as_deref()
            .and_then(|text| Dn::parse(text).ok())
    }
}

/// One object at a known DN: whether it exists, its classes, its parent's classes and its
/// security descriptor (owner, group and DACL).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedObject {
    /// The DN looked at.
    pub dn: Dn,
    /// Whether it exists (is visible to the bound account).
    pub exists: bool,
    /// `objectClass`, from `top` down; empty when absent.
    pub object_classes: Vec<String>,
    /// The parent's `objectClass` (`domainDNS` for a domain head); empty when unknown.
    pub parent_object_classes: Vec<String>,
    /// Owner, group and DACL, when readable.
    pub security_descriptor: Option<SecurityDescriptor>,
    /// Why the security descriptor could not be read, when it could not.
    pub security_descriptor_error: Option<String>,
    /// Why the object could not be looked at, when it is held by a DC that cannot be reached
    /// (`exists` is then false because nothing is known).
    #[serde(default)]
    pub unreachable: Option<String>,
}

impl ObservedObject {
    /// An object that does not exist.
    pub fn absent(dn: Dn) -> ObservedObject {
        ObservedObject {
            dn,
            exists: false,
            object_classes: Vec::new(),
            parent_object_classes: Vec::new(),
            security_descriptor: None,
            security_descriptor_error: None,
            unreachable: None,
        }
    }

    /// The DACL, when the security descriptor was read and has one.
    pub fn dacl(&self) -> Option<&Acl> {
        self.security_descriptor
            .as_ref()
            .and_then(|descriptor| descriptor.dacl.as_ref())
    }

    /// The most specific class (the last of `objectClass`).
    pub fn structural_class(&self) -> Option<&str> {
        self.object_classes.last().map(String::as_str)
    }

    /// Whether `objectClass` holds `class` (case-insensitive).
    pub fn is_a(&self, class: &str) -> bool {
        self.object_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(class))
    }

    /// Whether the parent is a domain head (`domainDNS`).
    pub fn parent_is_domain_head(&self) -> bool {
        self.parent_object_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(schema::DOMAIN_DNS.name))
    }
}

impl ForestObservation {
    /// The SDDL alias context of the domain receiving devices (DA and friends in that domain,
    /// EA against the forest root).
    pub fn sddl_context(&self) -> SddlContext {
        SddlContext {
            domain_sid: self.domain_sid,
            root_domain_sid: self.root_domain_sid.or(self.domain_sid),
        }
    }

    /// The SDDL alias context of the configuration NC (aliases resolve against the forest root domain).
    pub fn configuration_sddl_context(&self) -> SddlContext {
        let root = self.root_domain_sid.or(self.domain_sid);
        SddlContext {
            domain_sid: root,
            root_domain_sid: root,
        }
    }
}

/// The DNs of the four objects of preparation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreparationDns {
    /// `CN=Services,<configuration NC>`.
    pub services: Dn,
    /// `CN=Device Registration Configuration,CN=Services,<configuration NC>`.
    pub device_registration_configuration: Dn,
    /// `CN=Device Registration Services,<the above>`.
    pub device_registration_services: Dn,
    /// `CN=DeviceRegistrationService,<the above>`.
    pub registration_service: Dn,
    /// `CN=RegisteredDevices,<domain>`.
    pub device_container: Dn,
}

impl PreparationDns {
    /// The DNs for a configuration NC and the domain receiving devices.
    pub fn new(configuration_nc: &Dn, domain: &Dn) -> Result<PreparationDns> {
        let cn =
            |value: &str| Rdn::new("CN", value).map_err(|e| Error::invalid_input(e.to_string()));
        let services = configuration_nc.child(cn("Services")?);
        let device_registration_configuration =
            services.child(cn(names::DEVICE_REGISTRATION_CONFIGURATION)?);
        let device_registration_services =
            device_registration_configuration.child(cn(names::DEVICE_REGISTRATION_SERVICES)?);
        let registration_service =
            device_registration_services.child(cn(names::DEVICE_REGISTRATION_SERVICE)?);
        let device_container = domain.child(cn(names::REGISTERED_DEVICES)?);
        Ok(PreparationDns {
            services,
            device_registration_configuration,
            device_registration_services,
            registration_service,
            device_container,
        })
    }
}

/// Reads the forest's device registration setup. `domain` defaults to the forest root domain.
/// Fails only when the basics cannot be read (rootDSE, crossRefs); the rest is recorded.
pub fn observe_device_registration(
    client: &Client,
    domain: Option<&Dn>,
    connector: Option<&Account>,
) -> Result<ForestObservation> {
    let root_dse = client.root_dse()?;
    let forest = client.forest_domains(&root_dse)?;
    observe_device_registration_in(client, root_dse, forest, domain, connector)
}

/// [`observe_device_registration`] for a caller that has already read the rootDSE and the
/// forest's domains (to resolve the connector account first): they are not read again, which
/// saves a rootDSE read, the crossRef search and one domain head read per domain.
pub fn observe_device_registration_in(
    client: &Client,
    root_dse: RootDse,
    forest: ForestDomains,
    domain: Option<&Dn>,
    connector: Option<&Account>,
) -> Result<ForestObservation> {
    let span = tracing::info_span!("observe_device_registration");
    let _entered = span.enter();
    let domain = domain
        .cloned()
        .unwrap_or_else(|| root_dse.root_domain_nc.clone());
    let dns = PreparationDns::new(&root_dse.configuration_nc, &domain)?;

    let object_version = match client.schema_version(&root_dse.schema_nc) {
        Ok(version) => Some(version.object_version),
        Err(error) => {
            tracing::warn!(%error, "cannot read the schema's objectVersion");
            None
        }
    };
    // One search for the four classes, each found entry filed under its name as asked.
    let class_entries = client.class_schemas(&root_dse.schema_nc, &OBSERVED_CLASSES)?;
    let mut default_security_descriptors = BTreeMap::new();
    let mut present_classes = Vec::new();
    for class in OBSERVED_CLASSES {
        let entry = class_entries.iter().find(|entry| {
            entry
                .first_str("lDAPDisplayName")
                .is_some_and(|name| name.eq_ignore_ascii_case(class))
        });
        if let Some(entry) = entry {
            present_classes.push(class);
            if let Some(sddl) = entry.first_str("defaultSecurityDescriptor") {
                default_security_descriptors.insert(class.to_string(), sddl.to_string());
            }
        }
    }
    let schema = SchemaObservation {
        object_version,
        device_container_class: present_classes.contains(&schema::DEVICE_CONTAINER.name),
        registration_service_class: present_classes
            .contains(&schema::DEVICE_REGISTRATION_SERVICE.name),
        default_security_descriptors,
    };

    let domain_sid = forest
        .by_nc(&domain)
        .and_then(|d| d.sid)
        .or_else(|| read_sid(client, &domain));
    let root_domain_sid = forest
        .by_nc(&root_dse.root_domain_nc)
        .and_then(|d| d.sid)
        .or_else(|| read_sid(client, &root_dse.root_domain_nc));

    let registration_services = match client.search(
        &dns.services,
        Scope::Subtree,
        "(objectClass=msDS-DeviceRegistrationService)",
        &REGISTRATION_SERVICE_ATTRIBUTES,
    ) {
        Ok(entries) => entries
            .iter()
            .map(registration_service_from_entry)
            .collect(),
        Err(error) if matches!(error.kind(), ErrorKind::NoSuchObject { .. }) => Vec::new(),
        Err(error) => return Err(error),
    };

    let device_registration_configuration =
        observe_object(client, &dns.device_registration_configuration)?;
    let device_registration_services = observe_object(client, &dns.device_registration_services)?;
    let device_container = observe_object(client, &dns.device_container)?;
    let mut location_targets: Vec<ObservedObject> = Vec::new();
    for service in &registration_services {
        if let Some(target) = service.device_location_dn() {
            if target != dns.device_container && !location_targets.iter().any(|t| t.dn == target) {
                // A DN in no domain of this forest is not read: a DC would refer to another
                // forest, which devwb has no business binding to. verify says what is wrong.
                let observed = if forest.domains.is_empty() || forest.contains_dn(&target) {
                    // A domain whose DC cannot be reached: verify says so on the check that
                    // looks at the target, and the other checks still run.
                    match observe_object(client, &target) {
                        Err(error) if crate::gc::is_unreachable_domain(&error) => {
                            let mut observed = ObservedObject::absent(target);
                            observed.unreachable = Some(error.to_string());
                            observed
                        }
                        other => other?,
                    }
                } else {
                    ObservedObject::absent(target)
                };
                location_targets.push(observed);
            }
        }
    }

    Ok(ForestObservation {
        root_dse,
        schema,
        forest,
        domain,
        domain_sid,
        root_domain_sid,
        registration_services,
        device_registration_configuration,
        device_registration_services,
        device_container,
        location_targets,
        connector: connector.cloned(),
    })
}

fn read_sid(client: &Client, dn: &Dn) -> Option<Sid> {
    client
        .read_following(dn, &["objectSid"])
        .ok()
        .flatten()
        .and_then(|entry| {
            entry
                .first_bytes("objectSid")
                .and_then(|bytes| Sid::from_bytes(bytes).ok())
        })
}

fn registration_service_from_entry(entry: &Entry) -> RegistrationService {
    let text = |name: &str| entry.first_str(name).map(str::to_string);
    RegistrationService {
        dn: entry.dn.clone(),
        device_location: text(attr::DEVICE_LOCATION),
        is_enabled: text(attr::IS_ENABLED),
        maximum_inactivity_period: text(attr::MAXIMUM_REGISTRATION_INACTIVITY_PERIOD),
        name: text("name"),
        display_name: text("displayName"),
        admin_description: text("adminDescription"),
        when_created: text("whenCreated"),
        object_classes: entry
            .strs("objectClass")
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

/// Reads one object's classes, its parent's classes and its owner, group and DACL; on the DC
/// of its domain when this one refers there (a device container in another domain of the
/// forest).
pub fn observe_object(client: &Client, dn: &Dn) -> Result<ObservedObject> {
    match client.read(dn, &["objectClass"]) {
        Err(error) if !error.referral_urls().is_empty() => {
            let referred = client.referred_for(dn, &error)?;
            observe_object_here(&referred, dn)
        }
        other => observe_entry(client, dn, other?),
    }
}

/// [`observe_object`] without following a referral (the object's own DC).
fn observe_object_here(client: &Client, dn: &Dn) -> Result<ObservedObject> {
    let entry = client.read(dn, &["objectClass"])?;
    observe_entry(client, dn, entry)
}

fn observe_entry(client: &Client, dn: &Dn, entry: Option<Entry>) -> Result<ObservedObject> {
    let Some(entry) = entry else {
        return Ok(ObservedObject::absent(dn.clone()));
    };
    let object_classes = entry
        .strs("objectClass")
        .into_iter()
        .map(str::to_string)
        .collect();
    let parent_object_classes = match dn.parent() {
        Some(parent) if !parent.is_root() => match client.read(&parent, &["objectClass"]) {
            Ok(Some(parent_entry)) => parent_entry
                .strs("objectClass")
                .into_iter()
                .map(str::to_string)
                .collect(),
            Ok(None) => Vec::new(),
            Err(error) => {
                tracing::debug!(%parent, %error, "cannot read the parent's objectClass");
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let (security_descriptor, security_descriptor_error) =
        match client.read_security_descriptor(dn, SecurityInformation::OWNER_GROUP_DACL) {
            Ok(descriptor) => (Some(descriptor), None),
            Err(error) => (None, Some(error.to_string())),
        };
    Ok(ObservedObject {
        dn: dn.clone(),
        exists: true,
        object_classes,
        parent_object_classes,
        security_descriptor,
        security_descriptor_error,
        unreachable: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preparation_dns_follow_the_reference_table() {
        let dns = PreparationDns::new(
            &Dn::parse("CN=Configuration,DC=contoso,DC=lab").unwrap(),
            &Dn::parse("DC=contoso,DC=lab").unwrap(),
        )
        .unwrap();
        assert_eq!(
            dns.device_container.to_string(),
            "CN=RegisteredDevices,DC=contoso,DC=lab"
        );
        assert_eq!(
            dns.registration_service.to_string(),
            "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab"
        );
    }
}
