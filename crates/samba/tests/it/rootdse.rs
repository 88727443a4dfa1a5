use std::process::Command;

use devwb_samba::{BaseSchema, Endpoint, SambaDc};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use crate::{samba_suite_skip_reason, TestResult};

/// What a forest of a given base schema must show.
struct Expected {
    object_version: &'static str,
    device_container_class: bool,
}

/// Starts a DC with `base_schema`, reads the rootDSE anonymously over LDAPS, then as the administrator
/// reads the schema's objectVersion and looks for the `msDS-DeviceContainer` classSchema.
async fn check(test: &str, base_schema: BaseSchema, expected: Expected) -> TestResult {
    if samba_suite_skip_reason(test).is_some() {
        return Ok(());
    }
    let dc = SambaDc::default()
        .with_base_schema(base_schema)
        .start()
        .await?;
    let endpoint = dc.endpoint();
    assert!(
        endpoint.ldaps_url().starts_with("ldaps://127.0.0.1:"),
        "{endpoint:?}"
    );

    let settings = LdapConnSettings::new().set_no_tls_verify(true);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, endpoint.ldaps_url()).await?;
    ldap3::drive!(conn);

    let root_dse = one_entry(&mut ldap, "", Scope::Base, "(objectClass=*)", &["*"]).await?;
    let naming = |name: &str| {
        root_dse
            .attrs
            .get(name)
            .and_then(|values| values.first())
            .cloned()
    };
    assert_eq!(
        naming("defaultNamingContext"),
        Some(endpoint.base_dn().to_string())
    );
    assert_eq!(
        naming("configurationNamingContext"),
        Some(endpoint.configuration_dn().to_string())
    );
    assert_eq!(
        naming("schemaNamingContext"),
        Some(endpoint.schema_dn().to_string())
    );
    assert_eq!(
        naming("dnsHostName"),
        Some(format!("dc1.{}", endpoint.dns_domain()))
    );

    ldap.simple_bind(
        &endpoint.admin_bind_dn().to_string(),
        endpoint.admin_password(),
    )
    .await?
    .success()?;
    let schema = one_entry(
        &mut ldap,
        &endpoint.schema_dn().to_string(),
        Scope::Base,
        "(objectClass=*)",
        &["objectVersion"],
    )
    .await?;
    assert_eq!(
        schema.attrs.get("objectVersion"),
        Some(&vec![expected.object_version.to_string()]),
        "{base_schema:?}"
    );

    let (classes, _) = ldap
        .search(
            &endpoint.schema_dn().to_string(),
            Scope::OneLevel,
            "(&(objectClass=classSchema)(lDAPDisplayName=msDS-DeviceContainer))",
            vec!["lDAPDisplayName"],
        )
        .await?
        .success()?;
    assert_eq!(
        classes.len(),
        usize::from(expected.device_container_class),
        "{base_schema:?}"
    );
    ldap.unbind().await?;

    check_with_ldapsearch(endpoint, expected.object_version)?;
    Ok(())
}

/// The same objectVersion read with OpenLDAP's ldapsearch, as a user would (skipped without ldap-utils).
fn check_with_ldapsearch(endpoint: &Endpoint, object_version: &str) -> TestResult {
    let output = match Command::new("ldapsearch")
        .env("LDAPTLS_REQCERT", "never")
        .args([
            "-LLL",
            "-x",
            "-H",
            endpoint.ldaps_url(),
            "-D",
            &endpoint.admin_upn(),
            "-w",
            endpoint.admin_password(),
        ])
        .args([
            "-b",
            &endpoint.schema_dn().to_string(),
            "-s",
            "base",
            "objectVersion",
        ])
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            eprintln!(
                "ldapsearch part not run: cannot run ldapsearch ({error}); install ldap-utils"
            );
            return Ok(());
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ldapsearch: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|line| line == format!("objectVersion: {object_version}")),
        "{stdout}"
    );
    Ok(())
}

async fn one_entry(
    ldap: &mut ldap3::Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> Result<SearchEntry, Box<dyn std::error::Error + Send + Sync>> {
    let (mut entries, _) = ldap
        .search(base, scope, filter, attrs.to_vec())
        .await?
        .success()?;
    match (entries.pop(), entries.is_empty()) {
        (Some(entry), true) => Ok(SearchEntry::construct(entry)),
        _ => Err(format!("expected exactly one entry under {base:?} for {filter}").into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_2012_r2_has_the_device_classes() -> TestResult {
    let expected = Expected {
        object_version: "69",
        device_container_class: true,
    };
    check(
        "schema_2012_r2_has_the_device_classes",
        BaseSchema::W2012R2,
        expected,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_2008_r2_has_no_device_classes() -> TestResult {
    let expected = Expected {
        object_version: "47",
        device_container_class: false,
    };
    check(
        "schema_2008_r2_has_no_device_classes",
        BaseSchema::W2008R2,
        expected,
    )
    .await
}
