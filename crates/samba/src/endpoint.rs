//! Where a started Samba DC answers and how to bind to it.

use std::fmt;

use devwb_model::{Dn, DnError};

use crate::{Error, SambaDc};

/// The addresses and names of a running Samba DC. The password is never shown by `Debug`.
#[derive(Clone)]
pub struct Endpoint {
    ldaps_url: String,
    ldap_url: String,
    realm: String,
    netbios_domain: String,
    base_dn: Dn,
    configuration_dn: Dn,
    schema_dn: Dn,
    admin_bind_dn: Dn,
    admin_password: String,
}

impl Endpoint {
    /// Builds the endpoint of `image` published on `host` (an IP address or name) at the given host ports.
    pub fn new(
        image: &SambaDc,
        host: &str,
        ldaps_port: u16,
        ldap_port: u16,
    ) -> Result<Endpoint, Error> {
        let realm = image.realm().to_string();
        let invalid_realm = |error: DnError| Error::InvalidSetting {
            setting: "realm",
            reason: error.to_string(),
        };
        let base_dn = Dn::from_dns_domain(&realm.to_ascii_lowercase()).map_err(invalid_realm)?;
        let under_base =
            |relative: &str| Dn::parse(&format!("{relative},{base_dn}")).map_err(invalid_realm);
        let configuration_dn = under_base("CN=Configuration")?;
        let schema_dn = under_base("CN=Schema,CN=Configuration")?;
        let admin_bind_dn = under_base("CN=Administrator,CN=Users")?;
        Ok(Endpoint {
            ldaps_url: format!("ldaps://{host}:{ldaps_port}"),
            ldap_url: format!("ldap://{host}:{ldap_port}"),
            realm,
            netbios_domain: image.netbios_domain(),
            base_dn,
            configuration_dn,
            schema_dn,
            admin_bind_dn,
            admin_password: image.admin_password().to_string(),
        })
    }

    /// `ldaps://127.0.0.1:<port>`. The certificate is self-signed: clients must skip verification
    /// explicitly (ldap3: `LdapConnSettings::set_no_tls_verify(true)`; OpenLDAP: `LDAPTLS_REQCERT=never`).
    pub fn ldaps_url(&self) -> &str {
        &self.ldaps_url
    }

    /// `ldap://127.0.0.1:<port>`, for StartTLS. Samba refuses simple binds here without it.
    pub fn ldap_url(&self) -> &str {
        &self.ldap_url
    }

    /// The realm in upper case, such as `DEVWB.TEST`.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The forest's DNS name in lower case, such as `devwb.test`.
    pub fn dns_domain(&self) -> String {
        self.realm.to_ascii_lowercase()
    }

    /// The NetBIOS domain name, such as `DEVWB`.
    pub fn netbios_domain(&self) -> &str {
        &self.netbios_domain
    }

    /// The domain naming context, such as `DC=devwb,DC=test`.
    pub fn base_dn(&self) -> &Dn {
        &self.base_dn
    }

    /// `CN=Configuration,<base DN>` (a one-domain forest).
    pub fn configuration_dn(&self) -> &Dn {
        &self.configuration_dn
    }

    /// `CN=Schema,CN=Configuration,<base DN>`.
    pub fn schema_dn(&self) -> &Dn {
        &self.schema_dn
    }

    /// `CN=Administrator,CN=Users,<base DN>`: a simple-bind name for the domain administrator.
    pub fn admin_bind_dn(&self) -> &Dn {
        &self.admin_bind_dn
    }

    /// `Administrator@<dns domain>`: the same account as a UPN, which Samba also accepts as bind name.
    pub fn admin_upn(&self) -> String {
        format!("Administrator@{}", self.dns_domain())
    }

    /// The administrator's password.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("ldaps_url", &self.ldaps_url)
            .field("ldap_url", &self.ldap_url)
            .field("realm", &self.realm)
            .field("netbios_domain", &self.netbios_domain)
            .field("base_dn", &self.base_dn.to_string())
            .field("admin_bind_dn", &self.admin_bind_dn.to_string())
            .field("admin_password", &"********")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_realm() -> Result<(), Error> {
        let image = SambaDc::default()
            .with_realm("corp.example.net")
            .with_admin_password("Xx-Secret-1");
        let endpoint = Endpoint::new(&image, "127.0.0.1", 40636, 40389)?;
        let shown = [
            endpoint.ldaps_url().to_string(),
            endpoint.ldap_url().to_string(),
            endpoint.realm().to_string(),
            endpoint.netbios_domain().to_string(),
            endpoint.base_dn().to_string(),
            endpoint.configuration_dn().to_string(),
            endpoint.schema_dn().to_string(),
            endpoint.admin_bind_dn().to_string(),
            endpoint.admin_upn(),
        ];
        assert_eq!(
            shown,
            [
                "ldaps://127.0.0.1:40636",
                "ldap://127.0.0.1:40389",
                "CORP.EXAMPLE.NET",
                "CORP",
                "DC=corp,DC=example,DC=net",
                "CN=Configuration,DC=corp,DC=example,DC=net",
                "CN=Schema,CN=Configuration,DC=corp,DC=example,DC=net",
                "CN=Administrator,CN=Users,DC=corp,DC=example,DC=net",
                "Administrator@corp.example.net",
            ]
        );
        let debug = format!("{endpoint:?}");
        assert!(!debug.contains("Xx-Secret-1"), "{debug}");
        Ok(())
    }
}
