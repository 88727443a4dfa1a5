//! Fills [`Observed`] from a live directory, through the client crate.
//!
//! The forest's device registration setup comes from
//! [`devwb_ldap::observe_device_registration_in`] (given the rootDSE and domains read here to
//! resolve the connector, so they are read once), the same reading prepare plans from; this module adds what only verify needs: the connector
//! account's lookup outcome (a name that resolves nowhere is a finding, not an error), a bind as
//! the connector when its password is given, the names of the accounts that hold ACEs on the
//! containers, and the device ids in the device container.
//!
//! It only reads. Errors are returned only when the basics cannot be read (connection,
//! rootDSE, crossRefs); everything else is recorded in the observation.

use std::collections::BTreeMap;

use devwb_ldap::observe::{self, ForestObservation};
use devwb_ldap::{Client, Credentials, ErrorKind as LdapErrorKind, ForestDomains, Password, Scope};
use devwb_model::schema::{attr, DEVICE};
use devwb_model::{Dn, Guid, Sid};

use crate::error::Error;
use crate::observed::{
    BindAttempt, ConnectorAccount, ConnectorObservation, ForestNames, Observed, ObservedObject,
    RegistrationService, SchemaObservation,
};

/// What to read besides the forest's setup.
#[derive(Clone, Debug, Default)]
pub struct CollectOptions {
    /// The domain receiving devices; the forest root domain when `None`.
    pub domain: Option<Dn>,
    /// The connector account as the user named it.
    pub connector_account: Option<String>,
    /// The connector's password, to try a bind (its `Debug` prints `********`).
    pub connector_password: Option<Password>,
    /// Read the `msDS-DeviceID`s of the devices in the device container.
    pub read_devices: bool,
}

/// What was read: the client crate's observation (which prepare can plan from, for
/// `verify --fix`) and verify's view of it.
#[derive(Clone, Debug)]
pub struct Collected {
    /// The shared observation.
    pub forest: ForestObservation,
    /// The input of [`crate::run`].
    pub observed: Observed,
}

/// Reads everything the checks need through `client`.
pub fn collect(client: &Client, options: &CollectOptions) -> Result<Collected, Error> {
    let span = tracing::info_span!("verify_collect");
    let _entered = span.enter();
    let root_dse = client
        .root_dse()
        .map_err(|e| Error::directory("the rootDSE", e))?;
    let domains = client
        .forest_domains(&root_dse)
        .map_err(|e| Error::directory("the forest's domains (crossRef objects)", e))?;

    let mut connector = None;
    let mut account = None;
    if let Some(named) = &options.connector_account {
        let (found, note) = match client.resolve_account(named, &domains) {
            Ok(found) => (Some(found), None),
            Err(error) if is_lookup_miss(&error) => (None, Some(error.to_string())),
            Err(error) => {
                return Err(Error::directory(
                    format!("the connector account {named:?}"),
                    error,
                ))
            }
        };
        let bind = match &options.connector_password {
            None => BindAttempt::NotTried,
            Some(password) => {
                let bind_name = found
                    .as_ref()
                    .map(|a| a.dn.to_string())
                    .unwrap_or_else(|| named.clone());
                try_bind(client, &bind_name, password)
            }
        };
        connector = Some(ConnectorObservation {
            named: named.clone(),
            account: found.as_ref().map(|a| ConnectorAccount {
                dn: a.dn.clone(),
                sid: a.sid,
            }),
            lookup_note: note,
            bind,
        });
        account = found;
    }

    let forest = observe::observe_device_registration_in(
        client,
        root_dse,
        domains,
        options.domain.as_ref(),
        account.as_ref(),
    )
    .map_err(|e| Error::directory("the device registration configuration", e))?;
    let mut observed = to_observed(&forest, connector);
    observed.account_names = account_names(client, &forest.forest, &observed);
    if options.read_devices {
        observed.devices = read_device_ids(client, &observed);
    }
    Ok(Collected { forest, observed })
}

/// Name lookups that found nothing (or found the name outside this forest): findings for the
/// `connector-account-forest` check, not reasons to stop.
fn is_lookup_miss(error: &devwb_ldap::Error) -> bool {
    matches!(
        error.kind(),
        LdapErrorKind::AccountNotFound { .. }
            | LdapErrorKind::NotInForest { .. }
            | LdapErrorKind::AmbiguousAccount { .. }
            | LdapErrorKind::InvalidInput { .. }
            | LdapErrorKind::NoSuchObject { .. }
    )
}

fn try_bind(client: &Client, bind_name: &str, password: &Password) -> BindAttempt {
    let credentials = Credentials::new(bind_name, password.clone());
    match Client::connect(client.options(), Some(&credentials)) {
        Ok(_) => BindAttempt::Succeeded,
        Err(error) => BindAttempt::Failed {
            code: error.result_code(),
            message: error
                .server_message()
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string()),
        },
    }
}

fn object(observed: &observe::ObservedObject) -> Option<ObservedObject> {
    observed.exists.then(|| ObservedObject {
        dn: observed.dn.clone(),
        object_classes: observed.object_classes.clone(),
        dacl: observed
            .security_descriptor
            .as_ref()
            .and_then(|sd| sd.dacl.clone()),
    })
}

/// Verify's view of the shared observation.
pub fn to_observed(
    forest: &ForestObservation,
    connector: Option<ConnectorObservation>,
) -> Observed {
    let registration_services: Vec<RegistrationService> = forest
        .registration_services
        .iter()
        .map(|service| RegistrationService {
            dn: service.dn.clone(),
            device_location: service.device_location.clone(),
            is_enabled: service.is_enabled.clone(),
            maximum_inactivity_period: service.maximum_inactivity_period.clone(),
        })
        .collect();
    let mut observed = Observed {
        forest: ForestNames {
            root_domain: forest.root_dse.root_domain_nc.clone(),
            configuration: forest.root_dse.configuration_nc.clone(),
            schema: forest.root_dse.schema_nc.clone(),
            domains: domain_heads(forest),
        },
        domain: forest.domain.clone(),
        schema: SchemaObservation {
            object_version: forest.schema.object_version,
            device_container_class: forest.schema.device_container_class,
        },
        configuration_container: object(&forest.device_registration_configuration),
        service_container: object(&forest.device_registration_services),
        registration_services,
        location_target: None,
        registered_devices: object(&forest.device_container),
        connector,
        account_names: BTreeMap::new(),
        devices: None,
    };
    let location = observed
        .primary_service()
        .and_then(|service| service.device_location.as_deref())
        .and_then(|text| Dn::parse(text).ok());
    observed.location_target = location.and_then(|location| {
        std::iter::once(&forest.device_container)
            .chain(forest.location_targets.iter())
            .find(|target| target.dn == location)
            .and_then(object)
    });
    observed
}

/// The forest's domain heads: the crossRefs' naming contexts, the root and default naming
/// contexts of the rootDSE, and the parents of the observed containers that are `domainDNS`
/// objects (so a server whose crossRefs cannot be read still gets "directly under a domain
/// head" right).
fn domain_heads(forest: &ForestObservation) -> Vec<Dn> {
    let mut heads: Vec<Dn> = forest
        .forest
        .domains
        .iter()
        .map(|domain| domain.nc.clone())
        .collect();
    heads.push(forest.root_dse.root_domain_nc.clone());
    heads.push(forest.root_dse.default_nc.clone());
    for object in std::iter::once(&forest.device_container).chain(forest.location_targets.iter()) {
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

/// Names (`DOMAIN\sAMAccountName`) of the ordinary accounts holding ACEs on the containers
/// verify looks at, looked up by `objectSid` in the forest's domains. Unresolvable SIDs are
/// left out: the report then shows the SID alone.
fn account_names(
    client: &Client,
    domains: &ForestDomains,
    observed: &Observed,
) -> BTreeMap<Sid, String> {
    let mut sids: Vec<Sid> = Vec::new();
    let objects = [
        &observed.configuration_container,
        &observed.location_target,
        &observed.registered_devices,
    ];
    for acl in objects
        .into_iter()
        .flatten()
        .filter_map(|object| object.dacl.as_ref())
    {
        for ace in &acl.aces {
            if ace.sid.sub_authorities().first() == Some(&21) && !sids.contains(&ace.sid) {
                sids.push(ace.sid);
            }
        }
    }
    let mut names = BTreeMap::new();
    for sid in sids {
        let Some(domain) = domains.domain_of_sid(&sid) else {
            continue;
        };
        let filter = format!(
            "(objectSid={})",
            devwb_ldap::rootdse::escape_filter_bytes(&sid.to_bytes())
        );
        match client.search(&domain.nc, Scope::Subtree, &filter, &["sAMAccountName"]) {
            Ok(entries) => {
                if let Some(sam) = entries
                    .first()
                    .and_then(|entry| entry.first_str("sAMAccountName"))
                {
                    let name = match &domain.netbios_name {
                        Some(netbios) => format!("{netbios}\\{sam}"),
                        None => sam.to_string(),
                    };
                    names.insert(sid, name);
                }
            }
            Err(error) => tracing::debug!(%sid, %error, "cannot name the SID"),
        }
    }
    names
}

/// The `msDS-DeviceID`s under the device container (one level), or `None` when it cannot be read.
/// The entries are streamed page by page and only the ids kept: a container of 100,000 devices
/// is never held as entries.
fn read_device_ids(client: &Client, observed: &Observed) -> Option<Vec<Guid>> {
    let container = crate::checks::device_container(observed)?;
    let filter = format!("(objectClass={})", DEVICE.name);
    let mut ids = Vec::new();
    let mut keep_id = |entry: devwb_ldap::Entry| match entry
        .first_bytes(attr::DEVICE_ID)
        .map(Guid::from_ad_bytes)
    {
        Some(Ok(id)) => ids.push(id),
        _ => tracing::warn!(dn = %entry.dn, "device without a 16-byte msDS-DeviceID"),
    };
    match client.search_each(
        &container.dn,
        Scope::OneLevel,
        &filter,
        &[attr::DEVICE_ID],
        &mut keep_id,
    ) {
        Ok(_) => Some(ids),
        Err(error) => {
            tracing::warn!(container = %container.dn, %error, "cannot list the devices");
            None
        }
    }
}
