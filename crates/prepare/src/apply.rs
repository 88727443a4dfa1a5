//! Observing a forest for preparation and applying a plan through the client crate.
//!
//! [`observe`] resolves the connector account and reads the forest (a connector account from
//! another forest, or a name no account or several accounts have, becomes a [`Refusal`], as the
//! plan's other refusals). [`apply`] runs the steps
//! in order and stops at the first failure, naming the step; running prepare again converges,
//! because the next plan starts from what is there.

use devwb_ldap::{Attributes, Client, ErrorKind as LdapErrorKind, Modification};
use devwb_model::sd::SecurityInformation;
use devwb_model::sd::{Acl, SecurityDescriptor};
use devwb_model::Dn;

use crate::error::{Error, ErrorKind};
use crate::plan::{describe_domains, Plan, Refusal, Step};

/// What the user asked to prepare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrepareRequest {
    /// The domain that receives devices; the forest root domain when `None`.
    pub domain: Option<Dn>,
    /// The connector account: `DOMAIN\name`, UPN or DN.
    pub connector: String,
}

/// Resolves the connector account and observes the forest.
pub fn observe(
    client: &Client,
    request: &PrepareRequest,
) -> Result<devwb_ldap::ForestObservation, Error> {
    let root_dse = client
        .root_dse()
        .map_err(|e| Error::from(ErrorKind::Observe(e)))?;
    let forest = client
        .forest_domains(&root_dse)
        .map_err(|e| Error::from(ErrorKind::Observe(e)))?;
    let connector = match client.resolve_account(&request.connector, &forest) {
        Ok(account) => account,
        // A name that resolves to no account of this forest, or to several, is a refusal like
        // the plan's own (exit status 1 on the command line), not a failure to run.
        Err(error) => {
            let refusal = match error.kind() {
                LdapErrorKind::NotInForest { name, reason } => Refusal::ConnectorNotInForest {
                    account: name.clone(),
                    sid: format!("unknown: {reason}"),
                    forest_domains: describe_domains(&forest),
                },
                LdapErrorKind::AccountNotFound { name, searched } => Refusal::ConnectorNotFound {
                    account: name.clone(),
                    searched: searched.clone(),
                },
                LdapErrorKind::AmbiguousAccount { name, dns } => Refusal::ConnectorAmbiguous {
                    account: name.clone(),
                    dns: dns.clone(),
                },
                _ => {
                    return Err(ErrorKind::Connector {
                        name: request.connector.clone(),
                        source: error,
                    }
                    .into())
                }
            };
            return Err(ErrorKind::Refused(refusal).into());
        }
    };
    devwb_ldap::observe_device_registration_in(
        client,
        root_dse,
        forest,
        request.domain.as_ref(),
        Some(&connector),
    )
    .map_err(|e| ErrorKind::Observe(e).into())
}

/// What [`apply`] did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// The steps applied, in order (all of the plan's).
    pub steps: usize,
    /// ACE grants found already in place when re-read (someone else added them meanwhile).
    pub already_granted: usize,
}

/// The attributes of an add: objectClass, the text attributes, and the security descriptor.
fn add_attributes(
    dn: &Dn,
    object_class: &str,
    attributes: &[(String, String)],
    descriptor: Option<&SecurityDescriptor>,
) -> Result<Attributes, Error> {
    let mut attrs: Attributes = vec![(
        "objectClass".to_string(),
        vec![object_class.as_bytes().to_vec()],
    )];
    for (name, value) in attributes {
        attrs.push((name.clone(), vec![value.as_bytes().to_vec()]));
    }
    if let Some(descriptor) = descriptor {
        let bytes = descriptor.to_bytes().map_err(|e| {
            Error::from(ErrorKind::Encode {
                dn: dn.clone(),
                what: e.to_string(),
            })
        })?;
        attrs.push((
            devwb_ldap::sd::NT_SECURITY_DESCRIPTOR.to_string(),
            vec![bytes],
        ));
    }
    Ok(attrs)
}

/// Applies the plan's steps in order; stops at the first failure.
pub fn apply(client: &Client, plan: &Plan) -> Result<Applied, Error> {
    let mut already_granted = 0;
    for (index, step) in plan.steps.iter().enumerate() {
        let span = tracing::info_span!("prepare.step", number = index + 1, dn = %step.dn());
        let _entered = span.enter();
        // An object of another domain of the forest (the device container when devices go to a
        // child domain) is written through the DC of that domain, which the connected DC's
        // referral names; the configuration objects through the connected DC, which holds them.
        let holder = match client.holder_of(step.dn()) {
            Ok(holder) => holder,
            Err(source) => {
                return Err(ErrorKind::Step {
                    number: index + 1,
                    total: plan.steps.len(),
                    dn: step.dn().clone(),
                    source,
                }
                .into())
            }
        };
        let client: &Client = holder.as_deref().unwrap_or(client);
        let result = match step {
            Step::Create {
                dn,
                object_class,
                attributes,
                security_descriptor,
                ..
            } => {
                let attrs =
                    add_attributes(dn, object_class, attributes, security_descriptor.as_ref())?;
                client.add(dn, attrs)
            }
            Step::Recreate {
                dn,
                object_class,
                attributes,
                ..
            } => {
                let attrs = add_attributes(dn, object_class, attributes, None)?;
                tracing::warn!(%dn, "deleting and re-creating: msDS-DeviceLocation is system-only");
                match client.delete(dn) {
                    Ok(()) => client.add(dn, attrs),
                    Err(error) => Err(error),
                }
            }
            Step::SetAttributes { dn, changes } => {
                let mods = changes
                    .iter()
                    .map(|c| Modification::replace_str(&c.attribute, &c.wanted))
                    .collect();
                client.modify(dn, mods)
            }
            Step::GrantAce { dn, ace, .. } => {
                // Re-read: keep whatever changed in the DACL since the observation.
                match client.read_security_descriptor(dn, SecurityInformation::DACL) {
                    Ok(mut descriptor) => {
                        let dacl = descriptor.dacl.get_or_insert_with(Acl::new);
                        if dacl.grants(&ace.sid, ace.mask, ace.flags) {
                            already_granted += 1;
                            Ok(())
                        } else {
                            dacl.insert_explicit(*ace);
                            client.write_security_descriptor(
                                dn,
                                &descriptor,
                                SecurityInformation::DACL,
                            )
                        }
                    }
                    Err(error) => Err(error),
                }
            }
        };
        if let Err(source) = result {
            return Err(ErrorKind::Step {
                number: index + 1,
                total: plan.steps.len(),
                dn: step.dn().clone(),
                source,
            }
            .into());
        }
        tracing::info!("done");
    }
    Ok(Applied {
        steps: plan.steps.len(),
        already_granted,
    })
}
