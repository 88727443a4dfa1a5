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

use devwb_ldap::observe;
use devwb_ldap::{Client, Credentials, ErrorKind as LdapErrorKind, ForestDomains, Password, Scope};
use devwb_model::schema::{attr, DEVICE};
use devwb_model::{Dn, Guid, Sid};

use crate::error::Error;
use crate::observed::{BindAttempt, ConnectorObservation, Observed};

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

/// Reads everything the checks need through `client`. The result's `forest` is the client
/// crate's observation, which prepare can plan from (`verify --fix`).
pub fn collect(client: &Client, options: &CollectOptions) -> Result<Observed, Error> {
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
    let mut observed = Observed::new(forest);
    observed.connector = connector;
    observed.account_names = account_names(client, &observed.forest.forest, &observed);
    if options.read_devices {
        observed.devices = read_device_ids(client, &observed);
    }
    Ok(observed)
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
        observed.configuration_container(),
        observed.location_target(),
        observed.registered_devices(),
    ];
    for acl in objects
        .into_iter()
        .flatten()
        .filter_map(|object| object.dacl())
    {
        for ace in &acl.aces {
            if ace.sid.sub_authorities().first() == Some(&21) && !sids.contains(&ace.sid) {
                sids.push(ace.sid);
            }
        }
    }
    let mut names = BTreeMap::new();
    for sid in sids {
        match client.account_of_sid(&sid, domains) {
            Ok(Some(account)) if account.sam_account_name.is_some() => {
                names.insert(sid, account.down_level_name());
            }
            Ok(_) => {}
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
    // A container in another domain of the forest is listed on that domain's DC.
    let holder = match client.holder_of(&container.dn) {
        Ok(holder) => holder,
        Err(error) => {
            tracing::warn!(container = %container.dn, %error, "cannot reach the device container's DC");
            return None;
        }
    };
    let client: &Client = holder.as_deref().unwrap_or(client);
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
