//! The plan: what must change in a forest, computed from what was observed. Pure: no IO.
//!
//! [`plan`] reads a [`ForestObservation`] and returns the ordered [`Step`]s that bring the forest
//! to the state of the reference's table (device-writeback.md sections 1 and 2), or a
//! [`Refusal`] naming what was found and what to do. Objects that exist are kept and repaired in
//! place (an attribute set, an ACE added). The one exception: a DeviceRegistrationService whose
//! `msDS-DeviceLocation` is wrong or missing is re-created, because that attribute is
//! system-only and cannot be modified. A forest that is already prepared gets an empty plan.

use devwb_ldap::observe::{ForestObservation, ObservedObject, PreparationDns};
use devwb_ldap::{Account, ForestDomains};
use devwb_model::schema::{self, attr, SchemaLevel};
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl, SddlContext, SecurityDescriptor};
use devwb_model::{Dn, Sid};

/// The value devwb writes in `adminDescription` of the DeviceRegistrationService it creates, so
/// that a later run can tell its own object from one made by AD FS or by hand.
pub const CREATED_BY_MARKER: &str = "created by devwb prepare";

/// The connector's rights on `CN=RegisteredDevices` (CC DC LC SW RP WP DT LO SD RC).
pub const DEVICE_CONTAINER_MASK: AccessMask = schema::connector_rights::DEVICE_CONTAINER;
/// The connector's rights on `CN=Device Registration Configuration` (LC SW RP WP LO RC).
pub const REGISTRATION_CONFIGURATION_MASK: AccessMask =
    schema::connector_rights::REGISTRATION_CONFIGURATION;

/// What the user asked for beyond the observation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanOptions {
    /// Repoint a DeviceRegistrationService that devwb did not create and that names another
    /// valid device container.
    pub allow_repoint: bool,
}

/// Why preparation will not go ahead. Each message names what was found and what to do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The schema is older than Windows Server 2012 R2 or lacks the device classes.
    #[error("the forest schema is {found}; device writeback needs objectVersion 69 (Windows Server 2012 R2) or later with the msDS-DeviceContainer class: extend the schema with adprep /forestprep from Windows Server 2012 R2 or later, then run prepare again")]
    SchemaTooOld {
        /// The schema head's objectVersion, when readable.
        object_version: Option<u32>,
        /// Whether classSchema msDS-DeviceContainer exists.
        device_container_class: bool,
        /// Both, described.
        found: String,
    },
    /// The domain asked for is not a domain of the connected forest.
    #[error("the domain {domain} is not a domain of this forest (its domains: {forest_domains}); device writeback targets one forest: name one of its domains, or connect to the forest that holds {domain}")]
    DomainNotInForest {
        /// The domain asked for.
        domain: String,
        /// The forest's domains.
        forest_domains: String,
    },
    /// No connector account was given.
    #[error("no connector account was given: name the account Entra Connect's AD connector uses (DOMAIN\\name, UPN or DN)")]
    NoConnector,
    /// The connector account is not in this forest.
    #[error("the connector account {account} ({sid}) is not in this forest (its domains: {forest_domains}); devices must be written back into the forest of the users and the connector account must belong to it: use that forest's AD connector account")]
    ConnectorNotInForest {
        /// The account as given or found.
        account: String,
        /// Its SID, or "unknown".
        sid: String,
        /// The forest's domains.
        forest_domains: String,
    },
    /// No object of the forest has the connector account's name.
    #[error("the connector account {account} was not found in this forest (searched {searched}): name the account Entra Connect's AD connector uses (DOMAIN\\name, UPN or DN), or create it first")]
    ConnectorNotFound {
        /// The account as given.
        account: String,
        /// Where and how it was looked for.
        searched: String,
    },
    /// The connector account's name matches more than one object.
    #[error("the connector account {account} names more than one object: {}; name it by its DN or as DOMAIN\\name", dns.join("; "))]
    ConnectorAmbiguous {
        /// The account as given.
        account: String,
        /// Every DN it matched.
        dns: Vec<String>,
    },
    /// More than one DeviceRegistrationService exists.
    #[error("found {} msDS-DeviceRegistrationService objects where only one is supported per forest: {}; delete all but the one at {expected} (after checking nothing else, such as AD FS, still uses them), then run prepare again", dns.len(), dns.join("; "))]
    DuplicateRegistrationServices {
        /// Every DN found.
        dns: Vec<String>,
        /// Where devwb expects the one.
        expected: String,
    },
    /// The one DeviceRegistrationService is not where Microsoft's tools put it.
    #[error("found the msDS-DeviceRegistrationService at {found}, not at {expected}; creating the expected one would make two: move it to {expected} or delete it, then run prepare again")]
    RegistrationServiceMisplaced {
        /// Where it is.
        found: String,
        /// Where it should be.
        expected: String,
    },
    /// The DeviceRegistrationService points at another valid device container and devwb did not make it.
    #[error("{service} points msDS-DeviceLocation at {location}, an existing device container, and was not created by devwb; devices already registered there would be orphaned: pass --allow-repoint to point it at {wanted}, or prepare the domain of {location} instead")]
    RegistrationServicePointsElsewhere {
        /// The service object.
        service: String,
        /// Where it points.
        location: String,
        /// Where this preparation would point it.
        wanted: String,
    },
    /// An object at a DN preparation needs exists with another class.
    #[error("{dn} exists with objectClass {found} instead of {expected}: rename or delete it, then run prepare again")]
    WrongClass {
        /// The object.
        dn: String,
        /// Its most specific class.
        found: String,
        /// The class preparation needs there.
        expected: String,
    },
    /// Something the plan needs could not be read.
    #[error("cannot plan: {what}")]
    Unobservable {
        /// What, and why it matters.
        what: String,
    },
}

/// The connector account the ACEs are for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connector {
    /// Its DN.
    pub dn: Dn,
    /// Its SID (the ACE's trustee).
    pub sid: Sid,
    /// `DOMAIN\name` when known (dsacls needs it), else the DN.
    pub down_level_name: String,
}

/// One attribute value change of an existing object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeChange {
    /// The attribute.
    pub attribute: String,
    /// The value found, `None` when absent.
    pub found: Option<String>,
    /// The value to set.
    pub wanted: String,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Create an object.
    Create {
        /// Its DN.
        dn: Dn,
        /// Its structural class.
        object_class: String,
        /// Attributes besides objectClass, text values.
        attributes: Vec<(String, String)>,
        /// The DACL to create it with (the class default plus the connector's ACE), when it
        /// needs the connector's ACE. The server adds the parent's inheritable ACEs to it.
        security_descriptor: Option<SecurityDescriptor>,
        /// The ACE included in `security_descriptor`, for display.
        ace: Option<Ace>,
    },
    /// Set attributes of an existing object.
    SetAttributes {
        /// The object.
        dn: Dn,
        /// The values to set.
        changes: Vec<AttributeChange>,
    },
    /// Delete an object and create it again with these attributes. Only for the
    /// DeviceRegistrationService when its `msDS-DeviceLocation` is wrong or missing: that attribute
    /// is system-only (`systemOnly: TRUE` in Microsoft's schema), so AD refuses to modify it.
    /// Other attributes the old object had are not carried over.
    Recreate {
        /// The object.
        dn: Dn,
        /// Its structural class.
        object_class: String,
        /// The attributes of the new object besides objectClass.
        attributes: Vec<(String, String)>,
        /// What differs from the object found, for display.
        changes: Vec<AttributeChange>,
    },
    /// Add the connector's ACE to the DACL of an existing object, in canonical position.
    GrantAce {
        /// The object.
        dn: Dn,
        /// The ACE.
        ace: Ace,
        /// Owner, group and DACL as observed, the ACE inserted: what the LDIF writes. `apply`
        /// re-reads the DACL instead, so that a change made since the observation is kept.
        security_descriptor: SecurityDescriptor,
    },
}

impl Step {
    /// The DN the step changes.
    pub fn dn(&self) -> &Dn {
        match self {
            Step::Create { dn, .. }
            | Step::SetAttributes { dn, .. }
            | Step::Recreate { dn, .. }
            | Step::GrantAce { dn, .. } => dn,
        }
    }
}

/// A plan: where, for whom, and the steps in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// The forest (its root domain's DNS name when known, else its DN).
    pub forest: String,
    /// The forest root domain.
    pub root_domain: Dn,
    /// The configuration NC.
    pub configuration_nc: Dn,
    /// The domain that receives devices.
    pub domain: Dn,
    /// The connector account.
    pub connector: Connector,
    /// The SDDL alias context of the domain (to show SIDs as `DA`, `EA`...).
    #[serde(skip)]
    pub sddl_context: SddlContext,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Whether there is nothing to do (the forest is prepared).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans the preparation of the observed forest.
pub fn plan(observation: &ForestObservation, options: &PlanOptions) -> Result<Plan, Refusal> {
    check_schema(observation)?;
    let forest_domains = describe_domains(&observation.forest);
    if observation.forest.by_nc(&observation.domain).is_none() {
        return Err(Refusal::DomainNotInForest {
            domain: observation.domain.to_string(),
            forest_domains: forest_domains.clone(),
        });
    }
    let connector = check_connector(observation.connector.as_ref(), observation, &forest_domains)?;
    let dns = PreparationDns::new(&observation.root_dse.configuration_nc, &observation.domain)
        .map_err(|e| Refusal::Unobservable {
            what: e.to_string(),
        })?;
    check_registration_services(observation, &dns, options)?;

    let mut steps = Vec::new();
    let device_ace = connector_ace(connector.sid, DEVICE_CONTAINER_MASK);
    let configuration_ace = connector_ace(connector.sid, REGISTRATION_CONFIGURATION_MASK);

    // 1. CN=RegisteredDevices,<domain>.
    plan_container_with_ace(
        &mut steps,
        &observation.device_container,
        schema::DEVICE_CONTAINER.name,
        device_ace,
        observation,
        &observation.sddl_context(),
    )?;
    // 2. CN=Device Registration Configuration,CN=Services,<configuration NC>.
    plan_container_with_ace(
        &mut steps,
        &observation.device_registration_configuration,
        schema::CONTAINER.name,
        configuration_ace,
        observation,
        &observation.configuration_sddl_context(),
    )?;
    // 3. CN=Device Registration Services.
    let services_container = &observation.device_registration_services;
    if services_container.exists {
        expect_class(
            services_container,
            schema::DEVICE_REGISTRATION_SERVICE_CONTAINER.name,
        )?;
    } else {
        steps.push(Step::Create {
            dn: services_container.dn.clone(),
            object_class: schema::DEVICE_REGISTRATION_SERVICE_CONTAINER
                .name
                .to_string(),
            attributes: Vec::new(),
            security_descriptor: None,
            ace: None,
        });
    }
    // 4. CN=DeviceRegistrationService with msDS-DeviceLocation.
    let location = dns.device_container.to_string();
    let service_attributes = vec![
        (attr::DEVICE_LOCATION.to_string(), location.clone()),
        (attr::IS_ENABLED.to_string(), "TRUE".to_string()),
        (
            attr::MAXIMUM_REGISTRATION_INACTIVITY_PERIOD.to_string(),
            "0".to_string(),
        ),
        (
            "adminDescription".to_string(),
            CREATED_BY_MARKER.to_string(),
        ),
    ];
    match observation.registration_services.first() {
        None => steps.push(Step::Create {
            dn: dns.registration_service.clone(),
            object_class: schema::DEVICE_REGISTRATION_SERVICE.name.to_string(),
            attributes: service_attributes,
            security_descriptor: None,
            ace: None,
        }),
        Some(service) => {
            let points_right = service
                .device_location_dn()
                .is_some_and(|dn| dn == dns.device_container);
            if !points_right {
                // msDS-DeviceLocation is system-only (systemOnly TRUE in Microsoft's schema): AD
                // refuses to modify it, so the one way to repoint the service is to re-create it.
                steps.push(Step::Recreate {
                    dn: service.dn.clone(),
                    object_class: schema::DEVICE_REGISTRATION_SERVICE.name.to_string(),
                    attributes: service_attributes,
                    changes: vec![AttributeChange {
                        attribute: attr::DEVICE_LOCATION.to_string(),
                        found: service.device_location.clone(),
                        wanted: location,
                    }],
                });
            } else {
                let mut changes = Vec::new();
                let enabled = service
                    .is_enabled
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
                if !enabled {
                    changes.push(AttributeChange {
                        attribute: attr::IS_ENABLED.to_string(),
                        found: service.is_enabled.clone(),
                        wanted: "TRUE".to_string(),
                    });
                }
                if service.maximum_inactivity_period.is_none() {
                    changes.push(AttributeChange {
                        attribute: attr::MAXIMUM_REGISTRATION_INACTIVITY_PERIOD.to_string(),
                        found: None,
                        wanted: "0".to_string(),
                    });
                }
                if !changes.is_empty() {
                    steps.push(Step::SetAttributes {
                        dn: service.dn.clone(),
                        changes,
                    });
                }
            }
        }
    }

    Ok(Plan {
        forest: domain_name(&observation.forest, &observation.root_dse.root_domain_nc),
        root_domain: observation.root_dse.root_domain_nc.clone(),
        configuration_nc: observation.root_dse.configuration_nc.clone(),
        domain: observation.domain.clone(),
        connector,
        sddl_context: observation.sddl_context(),
        steps,
    })
}

/// The connector's ACE: `(A;CI;<mask>;;;<sid>)`, no object type.
pub fn connector_ace(sid: Sid, mask: AccessMask) -> Ace {
    Ace::allow(sid, mask, AceFlags::CONTAINER_INHERIT)
}

fn check_schema(observation: &ForestObservation) -> Result<(), Refusal> {
    let schema = &observation.schema;
    let version_ok = schema
        .object_version
        .is_some_and(|v| v >= SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK.object_version());
    if version_ok && schema.device_container_class {
        return Ok(());
    }
    let version = match schema.object_version {
        Some(v) => match SchemaLevel::from_object_version(v) {
            Some(level) => format!("at objectVersion {v} ({})", level.product_name()),
            None => format!("at objectVersion {v} (older than Windows Server 2008 R2)"),
        },
        None => "at an unreadable objectVersion".to_string(),
    };
    let class = if schema.device_container_class {
        "with the msDS-DeviceContainer class"
    } else {
        "without the msDS-DeviceContainer class"
    };
    Err(Refusal::SchemaTooOld {
        object_version: schema.object_version,
        device_container_class: schema.device_container_class,
        found: format!("{version}, {class}"),
    })
}

fn check_connector(
    connector: Option<&Account>,
    observation: &ForestObservation,
    forest_domains: &str,
) -> Result<Connector, Refusal> {
    let account = connector.ok_or(Refusal::NoConnector)?;
    let forest = &observation.forest;
    let sids_known = forest.domains.iter().any(|d| d.sid.is_some());
    let in_forest =
        forest.contains_dn(&account.dn) && (!sids_known || forest.contains_sid(&account.sid));
    if !in_forest {
        return Err(Refusal::ConnectorNotInForest {
            account: account.name.clone(),
            sid: account.sid.to_string(),
            forest_domains: forest_domains.to_string(),
        });
    }
    Ok(Connector {
        dn: account.dn.clone(),
        sid: account.sid,
        down_level_name: account.down_level_name(),
    })
}

fn check_registration_services(
    observation: &ForestObservation,
    dns: &PreparationDns,
    options: &PlanOptions,
) -> Result<(), Refusal> {
    let services = &observation.registration_services;
    if services.len() > 1 {
        return Err(Refusal::DuplicateRegistrationServices {
            dns: services.iter().map(|s| s.dn.to_string()).collect(),
            expected: dns.registration_service.to_string(),
        });
    }
    let Some(service) = services.first() else {
        return Ok(());
    };
    if service.dn != dns.registration_service {
        return Err(Refusal::RegistrationServiceMisplaced {
            found: service.dn.to_string(),
            expected: dns.registration_service.to_string(),
        });
    }
    let made_by_us = service.admin_description.as_deref() == Some(CREATED_BY_MARKER);
    if let Some(location) = service.device_location_dn() {
        let elsewhere = location != dns.device_container;
        let target_is_valid = observation
            .location_targets
            .iter()
            .any(|t| t.dn == location && t.exists && t.is_a(schema::DEVICE_CONTAINER.name));
        if elsewhere && target_is_valid && !made_by_us && !options.allow_repoint {
            return Err(Refusal::RegistrationServicePointsElsewhere {
                service: service.dn.to_string(),
                location: location.to_string(),
                wanted: dns.device_container.to_string(),
            });
        }
    }
    Ok(())
}

fn expect_class(object: &ObservedObject, expected: &str) -> Result<(), Refusal> {
    if object
        .structural_class()
        .is_some_and(|c| c.eq_ignore_ascii_case(expected))
    {
        Ok(())
    } else {
        Err(Refusal::WrongClass {
            dn: object.dn.to_string(),
            found: object
                .structural_class()
                .unwrap_or("(none readable)")
                .to_string(),
            expected: expected.to_string(),
        })
    }
}

/// Plans a container that must carry the connector's ACE: create it with the class default DACL
/// plus the ACE, or add the ACE to the existing DACL when the connector lacks those rights.
fn plan_container_with_ace(
    steps: &mut Vec<Step>,
    object: &ObservedObject,
    class: &str,
    ace: Ace,
    observation: &ForestObservation,
    context: &SddlContext,
) -> Result<(), Refusal> {
    if object.exists {
        expect_class(object, class)?;
        let descriptor =
            object
                .security_descriptor
                .as_ref()
                .ok_or_else(|| Refusal::Unobservable {
                    what: format!(
                        "the security descriptor of {} ({}); prepare needs READ_CONTROL there",
                        object.dn,
                        object
                            .security_descriptor_error
                            .as_deref()
                            .unwrap_or("not returned")
                    ),
                })?;
        let granted = descriptor
            .dacl
            .as_ref()
            .is_some_and(|dacl| dacl.grants(&ace.sid, ace.mask, ace.flags));
        if !granted {
            let mut updated = descriptor.clone();
            updated
                .dacl
                .get_or_insert_with(Acl::new)
                .insert_explicit(ace);
            steps.push(Step::GrantAce {
                dn: object.dn.clone(),
                ace,
                security_descriptor: updated,
            });
        }
        return Ok(());
    }
    let default_sddl = observation.schema.default_security_descriptors.get(class).ok_or_else(|| {
        Refusal::Unobservable {
            what: format!("the defaultSecurityDescriptor of class {class} (needed to create {} with the connector's ACE)", object.dn),
        }
    })?;
    let default = SecurityDescriptor::from_sddl(default_sddl, context).map_err(|e| {
        Refusal::Unobservable {
            what: format!("the defaultSecurityDescriptor of class {class} does not parse: {e}"),
        }
    })?;
    // Only the DACL is given: owner and group default as for any new object of this creator.
    let mut dacl = default.dacl.unwrap_or_default();
    dacl.insert_explicit(ace);
    let descriptor = SecurityDescriptor {
        control: default.control,
        owner: None,
        group: None,
        dacl: Some(dacl),
        sacl: None,
    };
    steps.push(Step::Create {
        dn: object.dn.clone(),
        object_class: class.to_string(),
        attributes: Vec::new(),
        security_descriptor: Some(descriptor),
        ace: Some(ace),
    });
    Ok(())
}

/// The forest's domains by DNS name, for refusals: `contoso.lab, emea.contoso.lab`.
pub(crate) fn describe_domains(forest: &ForestDomains) -> String {
    let names: Vec<String> = forest
        .domains
        .iter()
        .map(|d| domain_name(forest, &d.nc))
        .collect();
    if names.is_empty() {
        "none found".to_string()
    } else {
        names.join(", ")
    }
}

fn domain_name(forest: &ForestDomains, nc: &Dn) -> String {
    forest
        .by_nc(nc)
        .and_then(|d| d.dns_root.clone())
        .or_else(|| nc.to_dns_domain())
        .unwrap_or_else(|| nc.to_string())
}
