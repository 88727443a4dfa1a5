//! Where a writeback goes: [`discover`] reads the rootDSE, the schema level (refusing a forest
//! below 2012 R2), the forest's domain SIDs (for the same-forest rule) and the device container,
//! which is what the `DeviceRegistrationService` object's `msDS-DeviceLocation` names (or an
//! explicit override).

use devwb_ldap::Client;
use devwb_model::{Dn, SchemaLevel, Sid};

use crate::error::WritebackError;
use crate::mapping::ForestScope;
use crate::reads::Retrying;

/// Where devices go and what the forest allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The device container.
    pub container: Dn,
    /// Domain SIDs and schema level.
    pub scope: ForestScope,
}

/// Finds the target of a writeback on the connected forest (see the module documentation).
pub fn discover(client: &Client, container: Option<Dn>) -> Result<Target, WritebackError> {
    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
    let root = reads.call("read the rootDSE", Client::root_dse)?;
    let version = reads.call("read the schema version", |c| {
        c.schema_version(&root.schema_nc)
    })?;
    let schema_level = match version.level() {
        Some(level) if level >= SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK => level,
        _ => {
            return Err(WritebackError::Forest(format!(
                "the forest's schema objectVersion is {}: device writeback needs Windows Server \
                 2012 R2 (69) or later",
                version.object_version
            )))
        }
    };
    let domains = reads.call("read the forest's domains", |c| c.forest_domains(&root))?;
    // A domain whose SID is unknown (its DC unreachable, no global catalog) would make its
    // users' devices look like another forest's: out of scope, and deleted. The run stops.
    let unknown: Vec<String> = domains
        .domains
        .iter()
        .filter(|d| d.sid.is_none())
        .map(|d| d.dns_root.clone().unwrap_or_else(|| d.nc.to_string()))
        .collect();
    if !unknown.is_empty() {
        return Err(WritebackError::Forest(format!(
            "the SID of the domain {} could not be read (the log says why): devices owned by its \
             users would be taken for another forest's and deleted, so nothing is done; make its \
             domain controller reachable from here or name a global catalog with --gc-url",
            unknown.join(", ")
        )));
    }
    let mut domain_sids: Vec<Sid> = domains.domains.iter().filter_map(|d| d.sid).collect();
    // The naming contexts this server holds that are domain heads give their SID too: a
    // fallback for a server whose crossRefs cannot be read, and never wrong.
    for nc in &root.naming_contexts {
        if let Ok(Some(head)) =
            reads.call("read a naming context head", |c| c.read(nc, &["objectSid"]))
        {
            if let Some(sid) = head
                .first_bytes("objectSid")
                .and_then(|b| Sid::from_bytes(b).ok())
            {
                if !domain_sids.contains(&sid) {
                    domain_sids.push(sid);
                }
            }
        }
    }
    if domain_sids.is_empty() {
        return Err(WritebackError::Forest(
            "no domain SID of this forest could be read: cannot decide which owners are in it"
                .to_owned(),
        ));
    }
    let container = match container {
        Some(dn) => dn,
        None => device_location(&mut reads, &root.configuration_nc, &root.root_domain_nc)?,
    };
    if reads
        .call("read the device container", |c| {
            // In another domain of the forest, on that domain's DC.
            c.read_following(&container, &["objectClass"])
        })?
        .is_none()
    {
        return Err(WritebackError::Forest(format!(
            "the device container {container} does not exist: run `devwb prepare` first"
        )));
    }
    Ok(Target {
        container,
        scope: ForestScope {
            domain_sids,
            schema_level,
        },
    })
}

/// The `msDS-DeviceLocation` of the forest's DeviceRegistrationService.
fn device_location(
    reads: &mut Retrying<'_>,
    configuration_nc: &Dn,
    root_domain: &Dn,
) -> Result<Dn, WritebackError> {
    let dns = devwb_ldap::PreparationDns::new(configuration_nc, root_domain)?;
    let attribute = devwb_model::schema::attr::DEVICE_LOCATION;
    let not_prepared = || {
        WritebackError::Forest(format!(
            "{} has no {attribute}: the forest is not prepared for device writeback; run \
             `devwb prepare` (or name the container with --container)",
            dns.registration_service
        ))
    };
    let service = reads
        .call("read the DeviceRegistrationService", |c| {
            c.read(&dns.registration_service, &[attribute])
        })?
        .ok_or_else(not_prepared)?;
    let location = service.first_dn(attribute)?.ok_or_else(not_prepared)?;
    Ok(location)
}
