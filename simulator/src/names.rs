//! The names of a forest (DNS and NetBIOS names, the naming contexts' DNs, the domain SID,
//! the domain controller's and the administrator's DNs), derived from its DNS name, and those
//! of each domain of a multi-domain forest ([`DomainNames`]: child domains such as
//! `emea.contoso.lab` and new trees such as `fabrikam.lab`). Plain data that the forest, the
//! semantics layer and the server share; it knows nothing of the directory's contents.

use devwb_model::{Dn, Rdn, Sid};

use crate::error::SimError;

/// The names of a forest, derived from its DNS name. The fields are the forest root domain's
/// (and the forest-wide configuration and schema DNs); [`ForestNames::domains`] lists every
/// domain, the root first (its entry repeats the root's fields).
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
    /// Every domain of the forest, the root first. One entry in a single-domain forest.
    pub domains: Vec<DomainNames>,
}

/// The names of one domain of a forest and of its (one) domain controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainNames {
    /// `emea.contoso.lab`.
    pub dns_name: String,
    /// `EMEA`.
    pub netbios_name: String,
    /// `DC=emea,DC=contoso,DC=lab`: the domain NC.
    pub domain_dn: Dn,
    /// The domain's SID, `S-1-5-21-x-y-z`.
    pub domain_sid: Sid,
    /// The domain controller's host name, `dc2.emea.contoso.lab`.
    pub dc_host_name: String,
    /// `CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,<config>`.
    pub server_dn: Dn,
    /// `CN=NTDS Settings,<server>`: this DC's rootDSE `dsServiceName`.
    pub ds_service_name: Dn,
    /// `CN=Administrator,CN=Users,<domain>`.
    pub admin_dn: Dn,
}

impl DomainNames {
    /// The names of the domain `dns_name` whose DC is the `dc_number`th of the forest (its
    /// server object is `CN=DC<n>`), in the forest whose configuration NC is `config_dn`.
    fn new(
        dns_name: &str,
        domain_sid: Sid,
        dc_number: usize,
        config_dn: &Dn,
    ) -> Result<DomainNames, SimError> {
        let domain_dn = Dn::from_dns_domain(dns_name).map_err(|e| SimError::ForestName {
            name: dns_name.to_string(),
            reason: e.kind.to_string(),
        })?;
        let dns_name = dns_name.trim_end_matches('.').to_ascii_lowercase();
        let first_label = dns_name.split('.').next().unwrap_or("DOMAIN");
        let netbios_name: String = first_label.to_ascii_uppercase().chars().take(15).collect();
        let server_dn = config_dn
            .child(rdn("CN", "Sites"))
            .child(rdn("CN", "Default-First-Site-Name"))
            .child(rdn("CN", "Servers"))
            .child(rdn("CN", &format!("DC{dc_number}")));
        let ds_service_name = server_dn.child(rdn("CN", "NTDS Settings"));
        let admin_dn = domain_dn
            .child(rdn("CN", "Users"))
            .child(rdn("CN", "Administrator"));
        Ok(DomainNames {
            dc_host_name: format!("dc{dc_number}.{dns_name}"),
            dns_name,
            netbios_name,
            domain_dn,
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

    /// The DC's computer account, `CN=DC<n>,OU=Domain Controllers,<domain>`.
    pub fn dc_account_dn(&self) -> Dn {
        let server = self
            .server_dn
            .rdn()
            .map(|r| r.value().to_string())
            .unwrap_or_else(|| "DC1".to_string());
        self.domain_dn
            .child(rdn("OU", "Domain Controllers"))
            .child(rdn("CN", &server))
    }
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
        let root_dn = Dn::from_dns_domain(dns_name).map_err(|e| SimError::ForestName {
            name: dns_name.to_string(),
            reason: e.kind.to_string(),
        })?;
        let config_dn = root_dn.child(rdn("CN", "Configuration"));
        let schema_dn = config_dn.child(rdn("CN", "Schema"));
        let root = DomainNames::new(dns_name, domain_sid, 1, &config_dn)?;
        Ok(ForestNames {
            dns_name: root.dns_name.clone(),
            netbios_name: root.netbios_name.clone(),
            domain_dn: root.domain_dn.clone(),
            config_dn,
            schema_dn,
            domain_sid,
            dc_host_name: root.dc_host_name.clone(),
            server_dn: root.server_dn.clone(),
            ds_service_name: root.ds_service_name.clone(),
            admin_dn: root.admin_dn.clone(),
            domains: vec![root],
        })
    }

    /// Adds the domain `dns_name` to the forest: a child domain (its parent DNS name is a
    /// domain of the forest, `emea.contoso.lab`) or the root of a new tree (under no domain of
    /// the forest, `fabrikam.lab`). Refused, with the reason: a name already in the forest, a
    /// name under a domain of the forest whose parent is not a domain (`a.b.contoso.lab`
    /// without `b.contoso.lab`), a name above a domain of the forest (`lab`), and a NetBIOS
    /// name (the first label) another domain already has.
    pub fn add_domain(
        &mut self,
        dns_name: &str,
        domain_sid: Sid,
    ) -> Result<&DomainNames, SimError> {
        let refuse = |reason: String| SimError::DomainName {
            name: dns_name.to_string(),
            reason,
        };
        let domain = DomainNames::new(
            dns_name,
            domain_sid,
            self.domains.len() + 1,
            &self.config_dn,
        )
        .map_err(|error| match error {
            SimError::ForestName { name, reason } => SimError::DomainName { name, reason },
            other => other,
        })?;
        for existing in &self.domains {
            if existing.domain_dn == domain.domain_dn {
                return Err(refuse(format!(
                    "{} is already a domain of the forest",
                    existing.dns_name
                )));
            }
            if existing.domain_dn.is_descendant_of(&domain.domain_dn) {
                return Err(refuse(format!(
                    "a domain cannot be above {}, a domain of the forest: give a child (NAME.{}) or a new tree",
                    existing.dns_name, self.dns_name
                )));
            }
            if existing.netbios_name == domain.netbios_name {
                return Err(refuse(format!(
                    "its NetBIOS name {} is {}'s already: the first labels of the domains must differ",
                    domain.netbios_name, existing.dns_name
                )));
            }
        }
        let under_forest = self
            .domains
            .iter()
            .any(|d| domain.domain_dn.is_descendant_of(&d.domain_dn));
        let parent_is_domain = domain
            .domain_dn
            .parent()
            .is_some_and(|parent| self.domains.iter().any(|d| d.domain_dn == parent));
        if under_forest && !parent_is_domain {
            return Err(refuse(
                "a child domain's parent must be a domain of the forest (add the parent first, or give a new tree)".to_string(),
            ));
        }
        self.domains.push(domain);
        Ok(&self.domains[self.domains.len() - 1])
    }

    /// The domain whose NC holds `dn` (the deepest domain NC above or at it), if any. A DN of
    /// the configuration or schema NC is in no domain.
    pub fn domain_of(&self, dn: &Dn) -> Option<&DomainNames> {
        if dn.is_within(&self.config_dn) {
            return None;
        }
        self.domains
            .iter()
            .filter(|d| dn.is_within(&d.domain_dn))
            .max_by_key(|d| d.domain_dn.depth())
    }

    /// The domain named `name`: its DNS name or NetBIOS name, any case.
    pub fn domain_named(&self, name: &str) -> Option<&DomainNames> {
        let name = name.trim_end_matches('.');
        self.domains.iter().find(|d| {
            d.dns_name.eq_ignore_ascii_case(name) || d.netbios_name.eq_ignore_ascii_case(name)
        })
    }

    /// The naming context that holds `dn`: a domain's (by its index in
    /// [`ForestNames::domains`]), the configuration or the schema NC; `None` for a DN in no NC
    /// of the forest.
    pub fn naming_context_of(&self, dn: &Dn) -> Option<NamingContext> {
        if dn.is_within(&self.schema_dn) {
            return Some(NamingContext::Schema);
        }
        if dn.is_within(&self.config_dn) {
            return Some(NamingContext::Configuration);
        }
        self.domains
            .iter()
            .enumerate()
            .filter(|(_, d)| dn.is_within(&d.domain_dn))
            .max_by_key(|(_, d)| d.domain_dn.depth())
            .map(|(index, _)| NamingContext::Domain(index))
    }

    /// The DN of `CN=<cn>,CN=Users,<domain>`.
    pub fn user_dn(&self, cn: &str) -> Dn {
        self.domain_dn
            .child(rdn("CN", "Users"))
            .child(rdn("CN", cn))
    }
}

/// One naming context of a forest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamingContext {
    /// The schema NC, which every DC holds.
    Schema,
    /// The configuration NC, which every DC holds.
    Configuration,
    /// A domain NC, by its index in [`ForestNames::domains`] (0 is the forest root domain).
    Domain(usize),
}
