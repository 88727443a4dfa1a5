//! The commands a remedy tells the user to run, in one place so every check words them the
//! same way.
//!
//! Each remedy offers devwb's own command first and the Microsoft tool second (PowerShell's
//! ActiveDirectory module or `dsacls`), so an administrator who does not run devwb on the
//! domain controller can still paste a line. The dsacls grants are those of the wizard's
//! `CreateDeviceContainer.ps1` (device-writeback.md section 2).

use devwb_model::Dn;

/// A domain as people name it: its DNS name (`contoso.lab`), or the DN when it has no DC= form.
pub(crate) fn domain_name(domain: &Dn) -> String {
    domain.to_dns_domain().unwrap_or_else(|| domain.to_string())
}

/// `devwb prepare` for this domain and connector account (connection options left to the user).
pub fn devwb_prepare(domain: &Dn, connector: Option<&str>, extra: &str) -> String {
    let domain_name = domain_name(domain);
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!("devwb prepare --domain {domain_name} --connector-account '{connector}'{extra}")
}

/// Microsoft's documented equivalent of `devwb prepare`.
pub fn initialize_adsync_device_writeback(domain: &Dn, connector: Option<&str>) -> String {
    let domain_name = domain_name(domain);
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!("Initialize-ADSyncDeviceWriteback -DomainName {domain_name} -AdConnectorAccount '{connector}'")
}

/// The dsacls grant on the device container: `GRGWCCDCSDDT`, container inherit.
pub fn dsacls_device_container(container: &Dn, connector: Option<&str>) -> String {
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!("dsacls \"{container}\" /G \"{connector}:GRGWCCDCSDDT\" /I:T")
}

/// The dsacls grant on the Device Registration Configuration container: `GRGW`, container inherit.
pub fn dsacls_configuration_container(container: &Dn, connector: Option<&str>) -> String {
    let connector = connector.unwrap_or("<DOMAIN\\connector-account>");
    format!("dsacls \"{container}\" /G \"{connector}:GRGW\" /I:T")
}

/// Removes every ACE of `account` from `dn` (for a grant that went to the wrong account).
pub fn dsacls_remove(dn: &Dn, account: &str) -> String {
    format!("dsacls \"{dn}\" /R \"{account}\"")
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
        format!("Remove-ADObject -Identity \"{service}\" -Confirm:$false"),
        format!(
            "New-ADObject -Name '{name}' -Type msDS-DeviceRegistrationService -Path \"{parent}\" -OtherAttributes @{{'msDS-DeviceLocation'='{container}';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}}"
        ),
    ]
}

/// Sets `msDS-IsEnabled` to TRUE on the service object.
pub fn set_is_enabled(service: &Dn) -> String {
    format!("Set-ADObject -Identity \"{service}\" -Replace @{{'msDS-IsEnabled'=$true}}")
}

/// Deletes one duplicate configuration object, with PowerShell and with devwb.
pub fn delete_duplicate(dn: &Dn) -> [String; 2] {
    [
        format!("devwb verify --fix --delete-duplicate \"{dn}\""),
        format!("Remove-ADObject -Identity \"{dn}\" -Recursive -Confirm"),
    ]
}
