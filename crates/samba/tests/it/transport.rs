use devwb_samba::SambaDc;
use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};
use testcontainers::runners::SyncRunner;

use crate::{samba_suite_skip_reason, TestResult};

/// Plain LDAP refuses a simple bind with strongerAuthRequired (8); StartTLS on the same port and LDAPS
/// accept it, with the DN and with the UPN. Uses the blocking API, as synchronous suites would.
#[test]
fn simple_bind_needs_tls_and_accepts_dn_and_upn() -> TestResult {
    if samba_suite_skip_reason("simple_bind_needs_tls_and_accepts_dn_and_upn").is_some() {
        return Ok(());
    }
    let dc = SambaDc::default()
        .with_realm("corp.example")
        .with_admin_password("Other-Passw0rd")
        .start_blocking()?;
    let endpoint = dc.endpoint();
    let admin_dn = endpoint.admin_bind_dn().to_string();

    let mut plain = LdapConn::new(endpoint.ldap_url())?;
    let refused = plain.simple_bind(&admin_dn, endpoint.admin_password())?;
    assert_eq!(refused.rc, 8, "{refused:?}");

    let starttls = LdapConnSettings::new()
        .set_starttls(true)
        .set_no_tls_verify(true);
    let mut tls = LdapConn::with_settings(starttls, endpoint.ldap_url())?;
    tls.simple_bind(&admin_dn, endpoint.admin_password())?
        .success()?;

    let ldaps = LdapConnSettings::new().set_no_tls_verify(true);
    let mut secure = LdapConn::with_settings(ldaps, endpoint.ldaps_url())?;
    secure
        .simple_bind(&endpoint.admin_upn(), endpoint.admin_password())?
        .success()?;

    let wrong = secure.simple_bind(&admin_dn, "Wrong-Passw0rd")?;
    assert_eq!(wrong.rc, 49, "{wrong:?}");
    Ok(())
}

/// A bad setting fails before any container starts, naming the setting.
#[test]
fn invalid_realm_fails_before_docker() {
    let error = SambaDc::default()
        .with_realm("nodots")
        .start_blocking()
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        error,
        Err("invalid Samba DC setting realm: \"NODOTS\" is not a dotted DNS name such as DEVWB.TEST".to_string())
    );
}

/// The community-module contract: `SambaDc::default()` started by testcontainers' own runner (no
/// helper of this crate) comes up ready and answers LDAPS on its mapped port.
#[test]
fn default_image_runs_with_the_plain_testcontainers_runner() -> TestResult {
    if samba_suite_skip_reason("default_image_runs_with_the_plain_testcontainers_runner").is_some()
    {
        return Ok(());
    }
    let container = SyncRunner::start(SambaDc::default())?;
    let port = container.get_host_port_ipv4(devwb_samba::LDAPS_PORT)?;
    let settings = LdapConnSettings::new().set_no_tls_verify(true);
    let mut ldap = LdapConn::with_settings(settings, &format!("ldaps://127.0.0.1:{port}"))?;
    let (entries, _) = ldap
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["defaultNamingContext"],
        )?
        .success()?;
    let naming: Vec<Vec<String>> = entries
        .into_iter()
        .map(|entry| {
            SearchEntry::construct(entry)
                .attrs
                .remove("defaultNamingContext")
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(naming, vec![vec!["DC=devwb,DC=test".to_string()]]);
    Ok(())
}
