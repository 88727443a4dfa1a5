//! The names of a forest (DNS and NetBIOS names, the naming contexts' DNs, the domain SID,
//! the domain controller's and the administrator's DNs), derived from its DNS name. Plain
//! data that the forest, the semantics layer and the server share; it knows nothing of the
//! directory's contents.

use devwb_model::{Dn, Rdn, Sid};

use crate::error::SimError;

/// The names of a forest, derived from its DNS name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForestNames {
    /// `contoso.lab`.
    pub dns_name: String,
    /// `CONTOSO`.
    pub netbios_name: String,
    /// `DC=contoso,DC=lab`.
    pub domain_dn: Dn,
    /// `CN=Configuration,DC=contoso,DC=lab`.
    pub config_dn: Dn,
    /// `CN=Schema,CN=Configuration,DC=contoso,DC=lab`.
    pub schema_dn: Dn,
    /// The domain's SID, `S-1-5-21-x-y-z`.
    pub domain_sid: Sid,
    /// The domain controller's host name, `dc1.contoso.lab`.
    pub dc_host_name: String,
    /// `CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,<config>`.
    pub server_dn: Dn,
    /// `CN=NTDS Settings,<server>`: the rootDSE's `dsServiceName`.
    pub ds_service_name: Dn,
    /// `CN=Administrator,CN=Users,<domain>`.
    pub admin_dn: Dn,
}

/// An RDN with a constant attribute type. `Rdn::new` fails only for an invalid type, and
/// every caller passes `CN`, `OU` or `DC`; values of any text are escaped.
#[allow(clippy::expect_used)]
pub(crate) fn rdn(attr: &str, value: &str) -> Rdn {
    Rdn::new(attr, value).expect("constant RDN attribute types are valid")
}

impl ForestNames {
    /// The names of the forest `dns_name`, with the given domain SID.
    pub fn new(dns_name: &str, domain_sid: Sid) -> Result<ForestNames, SimError> {
        let domain_dn = Dn::from_dns_domain(dns_name).map_err(|e| SimError::ForestName {
            name: dns_name.to_string(),
            reason: e.kind.to_string(),
        })?;
        let dns_name = dns_name.trim_end_matches('.').to_ascii_lowercase();
        let first_label = dns_name.split('.').next().unwrap_or("DOMAIN");
        let netbios_name: String = first_label.to_ascii_uppercase().chars().take(15).collect();
        let config_dn = domain_dn.child(rdn("CN", "Configuration"));
        let schema_dn = config_dn.child(rdn("CN", "Schema"));
        let server_dn = config_dn
            .child(rdn("CN", "Sites"))
            .child(rdn("CN", "Default-First-Site-Name"))
            .child(rdn("CN", "Servers"))
            .child(rdn("CN", "DC1"));
        let ds_service_name = server_dn.child(rdn("CN", "NTDS Settings"));
        let admin_dn = domain_dn
            .child(rdn("CN", "Users"))
            .child(rdn("CN", "Administrator"));
        Ok(ForestNames {
            dc_host_name: format!("dc1.{dns_name}"),
            dns_name,
            netbios_name,
            domain_dn,
            config_dn,
            schema_dn,
            domain_sid,
            server_dn,
            ds_service_name,
            admin_dn,
        })
    }

    /// The DN of `CN=<cn>,CN=Users,<domain>`.
    pub fn user_dn(&self, cn: &str) -> Dn {
        self.domain_dn
            .child(rdn("CN", "Users"))
            .child(rdn("CN", cn))
    }
}
