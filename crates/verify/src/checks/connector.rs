//! The connector account: it exists in this forest (device writeback serves one forest, the
//! users' forest) and, when its password is given, it can bind.

use super::{ids, CheckBuilder};
use crate::observed::{BindAttempt, Observed};
use crate::remedies;
use crate::report::{Check, Fixable, Remedy};

/// `connector-account-forest`: the named account resolves to an account of this forest.
pub(super) fn forest(observed: &Observed) -> Check {
    let check = CheckBuilder::new(
        ids::CONNECTOR_ACCOUNT_FOREST,
        "Connector account exists in this forest",
    );
    let Some(connector) = &observed.connector else {
        return check.skip("no connector account named (--connector-account)");
    };
    let forest_name = remedies::domain_name(observed.root_domain());
    let check = check.evidence("named", &connector.named);
    let Some(account) = observed.connector_account() else {
        let check = match &connector.lookup_note {
            Some(note) => check.evidence("lookup", note),
            None => check.evidence("lookup", "no account of this forest has that name"),
        };
        return check.fail(
            Remedy::new(format!(
                "Name the AD connector account of forest {forest_name} (DOMAIN\\name, UPN or DN). Device writeback serves one forest, the forest of the users: an account from another forest is unsupported."
            ))
            .command(format!(
                "Get-ADUser -Identity {} -Server {}",
                devwb_model::powershell::single_quoted(&connector.named),
                devwb_model::powershell::argument(&forest_name)
            )),
            Fixable::No,
        );
    };
    let check = check
        .evidence("account", &account.dn)
        .evidence("objectSid", account.sid);
    let foreign = account.dn.rdns().iter().any(|rdn| {
        rdn.value()
            .eq_ignore_ascii_case("ForeignSecurityPrincipals")
    });
    match observed.domain_of(&account.dn) {
        Some(_) if foreign => check.evidence("diagnosis", "a foreign security principal: the account belongs to another forest").fail(
            Remedy::new(format!(
                "Use the AD connector account of forest {forest_name} itself, not an account of a trusted forest."
            )),
            Fixable::No,
        ),
        Some(domain) => check.evidence("domain", domain).pass(),
        None => check.fail(
            Remedy::new(format!("{} is outside the domains of forest {forest_name}; name an account of this forest.", account.dn)),
            Fixable::No,
        ),
    }
}

/// `connector-account-bind`: a simple bind as the connector account works.
pub(super) fn bind(observed: &Observed) -> Check {
    let check = CheckBuilder::new(
        ids::CONNECTOR_ACCOUNT_BIND,
        "Connector account can bind with its password",
    );
    let Some(connector) = &observed.connector else {
        return check.skip("no connector account named (--connector-account)");
    };
    let check = check.evidence("named", &connector.named);
    match &connector.bind {
        BindAttempt::NotTried => {
            check.skip("no connector password given (--connector-password-file)")
        }
        BindAttempt::Succeeded => check.evidence("bind", "succeeded").pass(),
        BindAttempt::Failed { code, message } => {
            let result = match code {
                Some(code) => format!("refused, LDAP result {code}: {message}"),
                None => format!("failed: {message}"),
            };
            check.evidence("bind", result).fail(
                Remedy::new(
                    "Check the connector account's password, and that it is enabled, not locked out and not expired; Entra Connect must be given the same password.",
                )
                .command(format!(
                    "Get-ADUser -Identity {} -Properties Enabled,LockedOut,PasswordExpired",
                    devwb_model::powershell::single_quoted(&connector.named)
                )),
                Fixable::No,
            )
        }
    }
}
