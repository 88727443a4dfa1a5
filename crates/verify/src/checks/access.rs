//! Checklist items 4 and 5: the connector account's ACEs on the device container
//! (`0x000300FF`, container inherit) and on the Device Registration Configuration container
//! (`0x000200BC`, container inherit), and whether the account holding them is the connector
//! account the user named.
//!
//! An ACE counts when it is an allow ACE for exactly the account's SID, applies to every class
//! and attribute (no object type), applies to the object itself (not inherit-only) and is
//! container-inherit. Generic bits are mapped first, so dsacls's `GRGWCCDCSDDT` and the
//! stored `0x000300FF` are the same grant (device-writeback.md section 2: which form AD stores
//! is not known, so both are accepted). Membership of the account in a group that holds the
//! grant is not followed: the wizard grants the account itself.

use devwb_model::schema::connector_rights;
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl};
use devwb_model::Sid;

use super::service::prepare_remedy;
use super::{ids, schema_blocks, CheckBuilder};
use crate::observed::{Observed, ObservedObject};
use crate::remedies;
use crate::report::{Check, Fixable, Remedy};

/// The rights the connector needs on the device container: CC DC LC SW RP WP DT LO SD RC.
pub const DEVICE_CONTAINER_RIGHTS: AccessMask = connector_rights::DEVICE_CONTAINER;
/// The rights the connector needs on the Device Registration Configuration container: LC SW RP WP LO RC.
pub const CONFIGURATION_CONTAINER_RIGHTS: AccessMask = connector_rights::REGISTRATION_CONFIGURATION;

/// The device container whose ACL matters: the object `msDS-DeviceLocation` names when it is
/// an `msDS-DeviceContainer`, else `CN=RegisteredDevices,<domain>`.
pub(crate) fn device_container(observed: &Observed) -> Option<&ObservedObject> {
    observed
        .location_target()
        .filter(|target| target.is_a(devwb_model::schema::DEVICE_CONTAINER.name))
        .or(observed.registered_devices())
}

fn connector_sid(observed: &Observed) -> Option<Sid> {
    observed.connector.as_ref()?;
    observed.connector_account().map(|account| account.sid)
}

/// True for SIDs that are not an ordinary domain account: well-known and builtin SIDs and the
/// domain's own built-in accounts and groups (RID below 1000: Administrator, Domain Admins,
/// Enterprise Admins...), which hold broad rights by default and are never "the connector".
fn is_builtin(sid: &Sid) -> bool {
    sid.sub_authorities().first() != Some(&21) || sid.rid().is_none_or(|rid| rid < 1000)
}

/// Ordinary accounts that hold `rights` (container inherit) on this ACL, in ACL order.
pub(crate) fn holders(acl: &Acl, rights: AccessMask) -> Vec<Sid> {
    let mut found: Vec<Sid> = Vec::new();
    for ace in &acl.aces {
        if !is_builtin(&ace.sid)
            && !found.contains(&ace.sid)
            && acl.grants(&ace.sid, rights, AceFlags::CONTAINER_INHERIT)
        {
            found.push(ace.sid);
        }
    }
    found
}

/// An ACE in SDDL's shape, with the trustee named when known:
/// `(A;CI;CCDCLCSWRPWPDTLOSDRC;;;CONTOSO\svc (S-1-5-21-...))`.
pub(crate) fn describe_ace(ace: &Ace, observed: &Observed) -> String {
    devwb_model::sd::format_ace_with_trustee(ace, &observed.describe_sid(&ace.sid))
}

/// The rights of a mask as SDDL letters (`CCDCLCSWRPWPDTLOSDRC`), for evidence.
fn rights_letters(mask: AccessMask) -> String {
    if mask.is_empty() {
        "none".to_string()
    } else {
        devwb_model::sd::format_rights(mask)
    }
}

/// Which container an ACE check is about.
#[derive(Clone, Copy)]
enum Target {
    DeviceContainer,
    ConfigurationContainer,
}

impl Target {
    fn rights(self) -> AccessMask {
        match self {
            Target::DeviceContainer => DEVICE_CONTAINER_RIGHTS,
            Target::ConfigurationContainer => CONFIGURATION_CONTAINER_RIGHTS,
        }
    }

    fn dsacls(self, dn: &devwb_model::Dn, connector: Option<&str>) -> String {
        match self {
            Target::DeviceContainer => remedies::dsacls_device_container(dn, connector),
            Target::ConfigurationContainer => {
                remedies::dsacls_configuration_container(dn, connector)
            }
        }
    }
}

fn ace_check(
    observed: &Observed,
    target: Target,
    check: CheckBuilder,
    object: Option<&ObservedObject>,
    absent: String,
) -> Check {
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    let Some(object) = object else {
        return check.skip(absent);
    };
    let rights = target.rights();
    let mut check = check.evidence("object", &object.dn).evidence(
        "required",
        format!(
            "{:#010x} ({}), container inherit",
            rights.0,
            rights_letters(rights)
        ),
    );
    let Some(acl) = object.dacl() else {
        return check.evidence("DACL", "could not be read").warn(Remedy::new(
            "Run verify as an account that can read the container's security descriptor (READ_CONTROL), for example a Domain Admin.",
        ));
    };
    let connector_name = observed
        .connector
        .as_ref()
        .map(|connector| connector.named.as_str());
    let remedy = |summary: String| {
        prepare_remedy(observed, &summary, "").command(target.dsacls(&object.dn, connector_name))
    };
    let Some(sid) = connector_sid(observed) else {
        // No connector to check against: say who holds the grant, if anyone.
        let holders = holders(acl, rights);
        if holders.is_empty() {
            return check
                .evidence("holders", "no ordinary account holds these rights")
                .fail(
                    remedy(format!(
                        "Grant the connector account {:#010x} on {} (container inherit).",
                        rights.0, object.dn
                    )),
                    Fixable::ByPrepare,
                );
        }
        for holder in &holders {
            check.push_evidence("held by", observed.describe_sid(holder));
        }
        let summary = match &observed.connector {
            Some(connector) => format!(
                "{} was not found in this forest (see {}), so verify cannot tell whether these grants are the connector's.",
                connector.named,
                ids::CONNECTOR_ACCOUNT_FOREST
            ),
            None => "Name the connector account (--connector-account) so verify can tell whether these grants are the connector's.".to_string(),
        };
        return check.warn(Remedy::new(summary));
    };
    let own: Vec<&Ace> = acl.aces.iter().filter(|ace| ace.sid == sid).collect();
    for ace in &own {
        check.push_evidence("connector ACE", describe_ace(ace, observed));
    }
    let denied = own
        .iter()
        .filter(|ace| {
            ace.ace_type.is_deny()
                && ace.is_effective()
                && ace.mask.map_generic().intersects(rights)
        })
        .fold(AccessMask::NONE, |mask, ace| {
            mask | (ace.mask.map_generic() & rights)
        });
    if !denied.is_empty() {
        let account = connector_name.unwrap_or("<DOMAIN\\connector-account>");
        return check.fail(
            Remedy::new(format!(
                "Remove the deny ACE for the connector account on {} (it denies {}), then grant the rights again.",
                object.dn,
                rights_letters(denied)
            ))
            .command(remedies::dsacls_remove(&object.dn, account))
            .command(target.dsacls(&object.dn, connector_name)),
            Fixable::No,
        );
    }
    if acl.grants(&sid, rights, AceFlags::CONTAINER_INHERIT) {
        return check.pass();
    }
    let inheritable = acl.allowed_mask(&sid, AceFlags::CONTAINER_INHERIT);
    let anywhere = acl.allowed_mask(&sid, AceFlags::NONE);
    let problem = if own.is_empty() {
        "the connector account has no ACE here".to_string()
    } else if anywhere.contains(rights) {
        "the connector account has the rights but not container-inherit, so devices do not inherit them".to_string()
    } else {
        format!(
            "the connector account lacks {}",
            rights_letters(rights & !inheritable)
        )
    };
    check.push_evidence("problem", &problem);
    if matches!(target, Target::ConfigurationContainer) {
        if let Some(diagnosis) = script_bug_diagnosis(observed, &sid) {
            check.push_evidence("diagnosis", diagnosis);
        }
    }
    check.fail(
        remedy(format!(
            "Grant the connector account {:#010x} on {} (container inherit): {problem}.",
            rights.0, object.dn
        )),
        Fixable::ByPrepare,
    )
}

/// The known bug of Microsoft's `CreateDeviceContainer.ps1`: when it creates the configuration
/// container it calls `dsacls $dn / G ... / I:T` (with spaces), which grants nothing, while the
/// device container gets its ACE. That pattern is recognised here.
fn script_bug_diagnosis(observed: &Observed, connector: &Sid) -> Option<&'static str> {
    let device_acl = device_container(observed)?.dacl()?;
    device_acl
        .grants(connector, DEVICE_CONTAINER_RIGHTS, AceFlags::CONTAINER_INHERIT)
        .then_some(
            "the device container has the connector's ACE but this container does not: the pattern of the known bug in Microsoft's CreateDeviceContainer.ps1, whose grant on a newly created Device Registration Configuration is written `dsacls $dn / G ... / I:T` and applies nothing",
        )
}

/// `device-container-ace`.
pub(super) fn device_container_ace(observed: &Observed) -> Check {
    let check = CheckBuilder::new(
        ids::DEVICE_CONTAINER_ACE,
        "Connector account has 0x000300FF (container inherit) on the device container",
    );
    let absent = format!(
        "no device container exists (see {} and {})",
        ids::DEVICE_LOCATION_TARGET,
        ids::REGISTRATION_SERVICE_ATTRIBUTES
    );
    ace_check(
        observed,
        Target::DeviceContainer,
        check,
        device_container(observed),
        absent,
    )
}

/// `configuration-container-ace`.
pub(super) fn configuration_container_ace(observed: &Observed) -> Check {
    let check = CheckBuilder::new(
        ids::CONFIGURATION_CONTAINER_ACE,
        "Connector account has 0x000200BC (container inherit) on Device Registration Configuration",
    );
    let absent = format!(
        "the container does not exist (see {})",
        ids::CONFIGURATION_CONTAINERS
    );
    ace_check(
        observed,
        Target::ConfigurationContainer,
        check,
        observed.configuration_container(),
        absent,
    )
}

/// `connector-account-grant`: when the connector lacks a grant that another ordinary account
/// holds, preparation was run with another account than the connector's.
pub(super) fn connector_grant(observed: &Observed) -> Check {
    let mut check = CheckBuilder::new(
        ids::CONNECTOR_ACCOUNT_GRANT,
        "The account holding the grants is the connector account named",
    );
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    let Some(connector) = &observed.connector else {
        return check.skip("no connector account named (--connector-account)");
    };
    let Some(sid) = connector_sid(observed) else {
        return check.skip(format!(
            "the connector account was not found (see {})",
            ids::CONNECTOR_ACCOUNT_FOREST
        ));
    };
    let targets = [
        (device_container(observed), DEVICE_CONTAINER_RIGHTS),
        (
            observed.configuration_container(),
            CONFIGURATION_CONTAINER_RIGHTS,
        ),
    ];
    let mut connector_everywhere = true;
    let mut others: Vec<(Sid, devwb_model::Dn)> = Vec::new();
    let mut looked = false;
    for (object, rights) in targets {
        let Some(object) = object else { continue };
        let Some(acl) = object.dacl() else { continue };
        looked = true;
        let connector_holds = acl.grants(&sid, rights, AceFlags::CONTAINER_INHERIT);
        connector_everywhere &= connector_holds;
        for holder in holders(acl, rights)
            .into_iter()
            .filter(|holder| *holder != sid)
        {
            check.push_evidence(
                "also granted",
                format!("{} on {}", observed.describe_sid(&holder), object.dn),
            );
            others.push((holder, object.dn.clone()));
        }
    }
    if !looked {
        return check.skip("no container ACL could be read (see the ACE checks)");
    }
    check.push_evidence("connector", format!("{} ({sid})", connector.named));
    if connector_everywhere {
        return check.pass();
    }
    if others.is_empty() {
        return check.skip(format!(
            "neither the connector nor another account holds the grants (see {} and {})",
            ids::DEVICE_CONTAINER_ACE,
            ids::CONFIGURATION_CONTAINER_ACE
        ));
    }
    // Each account once, in the order met: `others` lists a holder once per container, so two
    // holders of both containers come as A, B, A, B (which dedup() would keep).
    let mut names: Vec<String> = Vec::new();
    for (holder, _) in &others {
        let name = observed.describe_sid(holder);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut remedy = prepare_remedy(
        observed,
        &format!(
            "The grants went to {} instead of {}: preparation was run with another account than the connector's. Prepare again naming the connector account; then remove the stray grants if that account is not used by Entra Connect.",
            names.join(", "),
            connector.named
        ),
        "",
    );
    for (holder, dn) in &others {
        let name = observed
            .account_names
            .get(holder)
            .cloned()
            .unwrap_or_else(|| holder.to_string());
        remedy = remedy.command(remedies::dsacls_remove(dn, &name));
    }
    check.fail(remedy, Fixable::ByPrepare)
}
