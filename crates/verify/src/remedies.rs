//! The commands a remedy tells the user to run, in one place so every check words them the
//! same way.
//!
//! Each remedy offers devwb's own command first and the Microsoft tool second (PowerShell's
//! ActiveDirectory module or `dsacls`), so an administrator who does not run devwb on the
//! domain controller can still paste a line. The dsacls grants are those of the wizard's
//! `CreateDeviceContainer.ps1` (device-writeback.md section 2).
//!
//! The commands are PowerShell. Names and DNs in them can come from the directory (a duplicate
//! service object's DN, an ACE holder's sAMAccountName), so they are quoted so that pasting a
//! command never runs something a value carries. The quoting is model's
//! ([`devwb_model::powershell`]): `quoted` keeps the familiar double quotes only for text in
//! which PowerShell expands nothing, `single_quoted` doubles every kind of single quote,
//! `argument` leaves a plain word bare.

use std::fmt::Write as _;

use devwb_model::powershell::{argument, quoted, single_quoted};
use devwb_model::Dn;

/// A domain as people name it: its DNS name (`contoso.lab`), or the DN when it has no DC= form.
pub(crate) fn domain_name(domain: &Dn) -> String {
    domain.to_dns_domain().unwrap_or_else(|| domain.to_string())
}

/// `devwb prepare` for this domain and connector account (connection options left to the user).
pub fn devwb_prepare(domain: &Dn, connector: Option<&str>, extra: &str) -> String {
    let domain_name = domain_name(domain);
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!(
        "devwb prepare --domain {} --connector-account {}{extra}",
        argument(&domain_name),
        single_quoted(connector)
    )
}

/// The command-line options of the run that a follow-up devwb command must repeat to reach the
/// same directory the same way. Never a password: a remedy is printed and may be pasted into a
/// ticket (`--password-file` names a file, which is fine).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The domain controller's URL (`--url`).
    pub url: String,
    /// The bind name (`--bind`), `None` for an anonymous run.
    pub bind: Option<String>,
    /// The other connection options as given, in order: a flag (`--ca-file`) and its value
    /// when it takes one.
    pub connection_options: Vec<(String, Option<String>)>,
    /// The Entra export the devices were compared with, as the user named it (`--devices`).
    pub export: Option<String>,
}

/// `devwb writeback` of the export, with the connection options of the run when known (so the
/// command reaches the same directory the same way), placeholders otherwise.
pub fn devwb_writeback(invocation: Option<&Invocation>) -> String {
    let Some(invocation) = invocation else {
        return "devwb writeback --url <ldaps://dc> --bind <account> --export <export.json>"
            .to_string();
    };
    let mut command = format!("devwb writeback --url {}", argument(&invocation.url));
    if let Some(bind) = &invocation.bind {
        let _ = write!(command, " --bind {}", argument(bind));
    }
    for (flag, value) in &invocation.connection_options {
        let _ = write!(command, " {flag}");
        if let Some(value) = value {
            let _ = write!(command, " {}", argument(value));
        }
    }
    let export = invocation
        .export
        .as_deref()
        .map_or_else(|| "<export.json>".to_string(), argument);
    let _ = write!(command, " --export {export}");
    command
}

/// Microsoft's documented equivalent of `devwb prepare`.
pub fn initialize_adsync_device_writeback(domain: &Dn, connector: Option<&str>) -> String {
    let domain_name = domain_name(domain);
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!(
        "Initialize-ADSyncDeviceWriteback -DomainName {} -AdConnectorAccount {}",
        argument(&domain_name),
        single_quoted(connector)
    )
}

/// The dsacls grant on the device container: `GRGWCCDCSDDT`, container inherit.
pub fn dsacls_device_container(container: &Dn, connector: Option<&str>) -> String {
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!(
        "dsacls {} /G {} /I:T",
        quoted(&container.to_string()),
        quoted(&format!("{connector}:GRGWCCDCSDDT"))
    )
}

/// The dsacls grant on the Device Registration Configuration container: `GRGW`, container inherit.
pub fn dsacls_configuration_container(container: &Dn, connector: Option<&str>) -> String {
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!(
        "dsacls {} /G {} /I:T",
        quoted(&container.to_string()),
        quoted(&format!("{connector}:GRGW"))
    )
}

/// Removes every ACE of `account` from `dn` (for a grant that went to the wrong account).
pub fn dsacls_remove(dn: &Dn, account: &str) -> String {
    format!("dsacls {} /R {}", quoted(&dn.to_string()), quoted(account))
}

/// Deletes and re-creates the service object pointing at `container`. `msDS-DeviceLocation`
/// is `systemOnly` in Microsoft's schema: it can be given when the object is created, and a
/// later modify is refused (constraintViolation), which is why Microsoft's script re-creates the
/// object on every run.
pub fn recreate_service(service: &Dn, container: &Dn) -> [String; 2] {
    let name = service
        .rdn()
        .map(|rdn| rdn.value().to_string())
        .unwrap_or_else(|| "DeviceRegistrationService".to_string());
    let parent = service
        .parent()
        .map(|parent| parent.to_string())
        .unwrap_or_default();
    [
        format!(
            "Remove-ADObject -Identity {} -Confirm:$false",
            quoted(&service.to_string())
        ),
        format!(
            "New-ADObject -Name {} -Type msDS-DeviceRegistrationService -Path {} -OtherAttributes @{{'msDS-DeviceLocation'={};'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}}",
            single_quoted(&name),
            quoted(&parent),
            single_quoted(&container.to_string())
        ),
    ]
}

/// Sets `msDS-IsEnabled` to TRUE on the service object.
pub fn set_is_enabled(service: &Dn) -> String {
    format!(
        "Set-ADObject -Identity {} -Replace @{{'msDS-IsEnabled'=$true}}",
        quoted(&service.to_string())
    )
}

/// Deletes one duplicate configuration object, with PowerShell and with devwb.
pub fn delete_duplicate(dn: &Dn) -> [String; 2] {
    [
        format!(
            "devwb verify --fix --delete-duplicate {}",
            quoted(&dn.to_string())
        ),
        format!(
            "Remove-ADObject -Identity {} -Recursive -Confirm",
            quoted(&dn.to_string())
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dn_from_the_directory_never_lands_in_an_expanding_powershell_string() {
        let hostile = Dn::parse(
            "CN=$(Invoke-Expression calc),CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab",
        )
        .expect("a valid DN");
        for command in delete_duplicate(&hostile)
            .into_iter()
            .chain(recreate_service(
                &hostile,
                &Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").expect("valid"),
            ))
        {
            assert!(
                !command.contains("\"CN=$(") && !command.contains("\"$("),
                "{command}"
            );
            assert!(
                command.contains("'CN=$(Invoke-Expression calc),CN=Device Registration Services,")
                    || command.contains("-Name '$(Invoke-Expression calc)'"),
                "{command}"
            );
        }
        assert_eq!(
            dsacls_remove(&hostile.parent().expect("parent"), "CONTOSO\\PC01$"),
            "dsacls \"CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab\" /R 'CONTOSO\\PC01$'"
        );
    }

    #[test]
    fn the_writeback_command_repeats_how_the_run_connected() {
        assert_eq!(
            devwb_writeback(None),
            "devwb writeback --url <ldaps://dc> --bind <account> --export <export.json>"
        );
        let invocation = Invocation {
            url: "ldaps://dc1.contoso.lab".into(),
            bind: Some("CN=Administrator,CN=Users,DC=contoso,DC=lab".into()),
            connection_options: vec![
                ("--ca-file".into(), Some("C:\\certs\\lab ca.pem".into())),
                ("--starttls".into(), None),
            ],
            export: Some("devices.json".into()),
        };
        assert_eq!(
            devwb_writeback(Some(&invocation)),
            "devwb writeback --url ldaps://dc1.contoso.lab --bind \"CN=Administrator,CN=Users,DC=contoso,DC=lab\" --ca-file \"C:\\certs\\lab ca.pem\" --starttls --export devices.json"
        );
    }
}
