//! The forest's domains (from the crossRefs under `CN=Partitions`) and resolving an account
//! name to its DN and SID.
//!
//! Account names come in the three forms AD accepts for a simple bind: a DN, a UPN
//! `user@realm`, and `DOMAIN\user` (NetBIOS domain name). A name whose domain part is not a
//! domain of this forest is reported as [`ErrorKind::NotInForest`]: device writeback supports
//! one forest, and the connector account must live in it.

use devwb_model::{Dn, Sid};
use ldap3::Scope;

use crate::client::Client;
use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::gc::{is_unreachable_domain, GlobalCatalog, GlobalCatalogOrigin};
use crate::rootdse::{escape_filter_bytes, escape_filter_value, RootDse};

/// systemFlags bits of a crossRef that make it a domain of this forest:
/// FLAG_CR_NTDS_NC (1) and FLAG_CR_NTDS_DOMAIN (2).
const DOMAIN_CROSS_REF_FLAGS: i64 = 0x3;

/// One domain of the forest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForestDomain {
    /// The domain's naming context (`nCName`), `DC=contoso,DC=lab`.
    pub nc: Dn,
    /// The NetBIOS name (`nETBIOSName`), `CONTOSO`.
    pub netbios_name: Option<String>,
    /// The DNS name (`dnsRoot`), `contoso.lab`.
    pub dns_root: Option<String>,
    /// The domain SID (the domain head's `objectSid`), when this server could read it.
    pub sid: Option<Sid>,
}

/// The domains of the connected forest.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForestDomains {
    /// Every domain crossRef (systemFlags & 3 == 3), in the order the server returned them.
    pub domains: Vec<ForestDomain>,
    /// The global catalog lookups may use ([`crate::gc`]).
    #[serde(default)]
    pub global_catalog: Option<GlobalCatalog>,
}

impl ForestDomains {
    /// The domain whose naming context holds `dn` (the deepest one, for child domains).
    pub fn domain_of_dn(&self, dn: &Dn) -> Option<&ForestDomain> {
        self.domains
            .iter()
            .filter(|d| dn.is_within(&d.nc))
            .max_by_key(|d| d.nc.depth())
    }

    /// Whether `dn` lies within one of the forest's domains.
    pub fn contains_dn(&self, dn: &Dn) -> bool {
        self.domain_of_dn(dn).is_some()
    }

    /// The domain whose SID is the domain part of `sid`.
    pub fn domain_of_sid(&self, sid: &Sid) -> Option<&ForestDomain> {
        self.domains.iter().find(|d| {
            d.sid
                .is_some_and(|domain_sid| sid.is_in_domain(&domain_sid))
        })
    }

    /// Whether `sid` is an account SID of one of the forest's domains.
    pub fn contains_sid(&self, sid: &Sid) -> bool {
        self.domain_of_sid(sid).is_some()
    }

    /// The domain with this NetBIOS name (case-insensitive).
    pub fn by_netbios(&self, name: &str) -> Option<&ForestDomain> {
        self.domains.iter().find(|d| {
            d.netbios_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The domain with this DNS name (case-insensitive).
    pub fn by_dns(&self, name: &str) -> Option<&ForestDomain> {
        self.domains.iter().find(|d| {
            d.dns_root
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The domain whose naming context is `nc`.
    pub fn by_nc(&self, nc: &Dn) -> Option<&ForestDomain> {
        self.domains.iter().find(|d| d.nc == *nc)
    }
}

/// A resolved account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// The name as the user gave it.
    pub name: String,
    /// The account's DN.
    pub dn: Dn,
    /// Its `objectSid`.
    pub sid: Sid,
    /// Its `sAMAccountName`, when readable.
    pub sam_account_name: Option<String>,
    /// The domain it belongs to (naming context).
    pub domain_nc: Dn,
    /// That domain's NetBIOS name, for `DOMAIN\name` (dsacls, PowerShell).
    pub domain_netbios_name: Option<String>,
}

impl Account {
    /// `DOMAIN\sAMAccountName` when both parts are known, else the DN.
    pub fn down_level_name(&self) -> String {
        match (&self.domain_netbios_name, &self.sam_account_name) {
            (Some(domain), Some(sam)) => format!("{domain}\\{sam}"),
            _ => self.dn.to_string(),
        }
    }
}

/// The form of an account name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountName {
    /// A distinguished name.
    Dn(Dn),
    /// `user@realm`.
    Upn {
        /// The part before `@`.
        user: String,
        /// The part after `@`.
        realm: String,
    },
    /// `DOMAIN\user`.
    DownLevel {
        /// The NetBIOS domain name.
        domain: String,
        /// The sAMAccountName.
        user: String,
    },
    /// A bare sAMAccountName.
    Sam(String),
}

impl AccountName {
    /// Tells the form of `name` apart: `\` makes it down-level, `=` a DN, `@` a UPN.
    pub fn parse(name: &str) -> Result<AccountName> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid_input("empty account name"));
        }
        if let Some((domain, user)) = name.split_once('\\') {
            if domain.is_empty() || user.is_empty() || user.contains('\\') {
                return Err(Error::invalid_input(format!(
                    "account name {name:?}: expected DOMAIN\\user"
                )));
            }
            return Ok(AccountName::DownLevel {
                domain: domain.to_string(),
                user: user.to_string(),
            });
        }
        if name.contains('=') {
            return Dn::parse(name).map(AccountName::Dn).map_err(|e| {
                Error::invalid_input(format!("account name {name:?} looks like a DN but: {e}"))
            });
        }
        if let Some((user, realm)) = name.rsplit_once('@') {
            if user.is_empty() || realm.is_empty() {
                return Err(Error::invalid_input(format!(
                    "account name {name:?}: expected user@realm"
                )));
            }
            return Ok(AccountName::Upn {
                user: user.to_string(),
                realm: realm.to_string(),
            });
        }
        Ok(AccountName::Sam(name.to_string()))
    }
}

const ACCOUNT_ATTRIBUTES: [&str; 3] = ["objectSid", "sAMAccountName", "userPrincipalName"];

impl Client {
    /// The forest's domains: crossRefs under `CN=Partitions,<configuration NC>` with
    /// systemFlags & 3 == 3, with each domain head's `objectSid` where this server has it.
    pub fn forest_domains(&self, root_dse: &RootDse) -> Result<ForestDomains> {
        let partitions = partitions_dn(&root_dse.configuration_nc)?;
        let cross_refs = self.search(
            &partitions,
            Scope::OneLevel,
            "(objectClass=crossRef)",
            &["nCName", "nETBIOSName", "dnsRoot", "systemFlags"],
        )?;
        let global_catalog = self.global_catalog(root_dse);
        let mut domains = Vec::new();
        for cross_ref in cross_refs {
            let flags = cross_ref.first_i64("systemFlags")?.unwrap_or(0);
            if flags & DOMAIN_CROSS_REF_FLAGS != DOMAIN_CROSS_REF_FLAGS {
                continue;
            }
            let Some(nc) = cross_ref.first_dn("nCName")? else {
                tracing::warn!(cross_ref = %cross_ref.dn, "domain crossRef without nCName, skipped");
                continue;
            };
            // A DC holds its own domain's head only: the others' come through their referral,
            // or from the global catalog.
            let sid = match self.read_in_domain(global_catalog.as_ref(), &nc, &nc, &["objectSid"]) {
                Ok(Some(head)) => head
                    .first_bytes("objectSid")
                    .and_then(|b| Sid::from_bytes(b).ok()),
                Ok(None) => None,
                // A busy server or a lost connection: the caller's retries read it again.
                Err(error) if error.is_retryable() => return Err(error),
                Err(error) => {
                    tracing::warn!(%nc, %error, "cannot read the domain's SID: its accounts will not be recognised");
                    None
                }
            };
            domains.push(ForestDomain {
                nc,
                netbios_name: cross_ref.first_str("nETBIOSName").map(str::to_string),
                dns_root: cross_ref.first_str("dnsRoot").map(str::to_string),
                sid,
            });
        }
        Ok(ForestDomains {
            domains,
            global_catalog,
        })
    }

    /// Resolves an account name (DN, `user@realm`, `DOMAIN\user` or a bare sAMAccountName) to its
    /// DN and SID. Names whose domain part is not in this forest are `NotInForest`.
    pub fn resolve_account(&self, name: &str, forest: &ForestDomains) -> Result<Account> {
        let parsed = AccountName::parse(name)?;
        let not_in_forest = |reason: String| {
            Error::from(ErrorKind::NotInForest {
                name: name.to_string(),
                reason,
            })
        };
        let (entry, domain) = match &parsed {
            AccountName::Dn(dn) => {
                let Some(domain) = forest.domain_of_dn(dn) else {
                    return Err(not_in_forest(format!(
                        "{dn} is outside every domain of the forest ({})",
                        list_ncs(forest)
                    )));
                };
                let entry = self
                    .read_in_domain(
                        forest.global_catalog.as_ref(),
                        &domain.nc,
                        dn,
                        &ACCOUNT_ATTRIBUTES,
                    )?
                    .ok_or_else(|| {
                        Error::from(ErrorKind::AccountNotFound {
                            name: name.to_string(),
                            searched: format!("base object {dn}"),
                        })
                    })?;
                (entry, domain)
            }
            AccountName::DownLevel { domain, user } => {
                let Some(found) = forest.by_netbios(domain) else {
                    return Err(not_in_forest(format!(
                        "no domain of this forest has the NetBIOS name {domain:?} (the forest has {})",
                        list_netbios(forest)
                    )));
                };
                let filter = format!("(sAMAccountName={})", escape_filter_value(user));
                (self.find_one(name, forest, found, &filter)?, found)
            }
            AccountName::Upn { user, realm } => {
                let filter = format!(
                    "(userPrincipalName={})",
                    escape_filter_value(&format!("{user}@{realm}"))
                );
                // A UPN is unique in the forest (AD refuses a duplicate), so one hit decides:
                // the domain the realm names is searched first, and a domain whose DC cannot be
                // reached only matters when no other domain has the name.
                let (mut hits, unreachable) =
                    self.search_each_domain(forest, Some(realm), &filter)?;
                if hits.is_empty() {
                    if let Some(error) = unreachable {
                        return Err(error);
                    }
                    // AD also accepts user@dnsdomain as a bind name without a userPrincipalName.
                    if let Some(domain) = forest.by_dns(realm) {
                        let filter = format!("(sAMAccountName={})", escape_filter_value(user));
                        (self.find_one(name, forest, domain, &filter)?, domain)
                    } else {
                        return Err(not_in_forest(format!(
                            "no userPrincipalName {user}@{realm} in the forest and {realm:?} is none of its domains ({})",
                            list_dns(forest)
                        )));
                    }
                } else if hits.len() > 1 {
                    return Err(ambiguous(name, hits.iter().map(|(entry, _)| entry)));
                } else {
                    hits.swap_remove(0)
                }
            }
            AccountName::Sam(user) => {
                let filter = format!("(sAMAccountName={})", escape_filter_value(user));
                let mut hits = self.search_every_domain(forest, &filter)?;
                match hits.len() {
                    0 => {
                        return Err(ErrorKind::AccountNotFound {
                            name: name.to_string(),
                            searched: format!("{filter} in {}", list_ncs(forest)),
                        }
                        .into())
                    }
                    1 => hits.swap_remove(0),
                    _ => return Err(ambiguous(name, hits.iter().map(|(entry, _)| entry))),
                }
            }
        };
        account_from_entry(name, entry, domain)
    }

    /// The account whose `objectSid` is `sid`, looked up in the domain the SID belongs to as
    /// [`Client::resolve_account`] looks up names; `None` when the SID is of no domain of this
    /// forest or no object has it.
    pub fn account_of_sid(&self, sid: &Sid, forest: &ForestDomains) -> Result<Option<Account>> {
        let Some(domain) = forest.domain_of_sid(sid) else {
            return Ok(None);
        };
        let filter = format!("(objectSid={})", escape_filter_bytes(&sid.to_bytes()));
        let name = sid.to_string();
        match self
            .search_in_domain(forest, domain, &filter)?
            .into_iter()
            .next()
        {
            Some(entry) => account_from_entry(&name, entry, domain).map(Some),
            None => Ok(None),
        }
    }

    fn find_one(
        &self,
        name: &str,
        forest: &ForestDomains,
        domain: &ForestDomain,
        filter: &str,
    ) -> Result<Entry> {
        let mut hits = self.search_in_domain(forest, domain, filter)?;
        match hits.len() {
            0 => Err(ErrorKind::AccountNotFound {
                name: name.to_string(),
                searched: format!("{filter} under {}", domain.nc),
            }
            .into()),
            1 => Ok(hits.swap_remove(0)),
            _ => Err(ambiguous(name, &hits)),
        }
    }

    /// Every account entry matching `filter` in each of the forest's domains, with its domain.
    /// A domain whose DC cannot be reached fails the search: the name could be there too.
    fn search_every_domain<'forest>(
        &self,
        forest: &'forest ForestDomains,
        filter: &str,
    ) -> Result<Vec<(Entry, &'forest ForestDomain)>> {
        match self.search_each_domain(forest, None, filter)? {
            (_, Some(unreachable)) => Err(unreachable),
            (hits, None) => Ok(hits),
        }
    }

    /// [`Client::search_every_domain`], the domain named `first` (a DNS name) first, stopping at
    /// the first domain with a hit; a domain whose DC cannot be reached is skipped and its error
    /// returned beside the hits (the first such error).
    #[allow(clippy::type_complexity)]
    fn search_each_domain<'forest>(
        &self,
        forest: &'forest ForestDomains,
        first: Option<&str>,
        filter: &str,
    ) -> Result<(Vec<(Entry, &'forest ForestDomain)>, Option<Error>)> {
        let mut order: Vec<&ForestDomain> = forest.domains.iter().collect();
        let stop_at_first_hit = first.is_some();
        if let Some(first) = first {
            order.sort_by_key(|domain| {
                !domain
                    .dns_root
                    .as_deref()
                    .is_some_and(|dns| dns.eq_ignore_ascii_case(first))
            });
        }
        let mut hits = Vec::new();
        let mut unreachable = None;
        for domain in order {
            match self.search_in_domain(forest, domain, filter) {
                Ok(found) => hits.extend(found.into_iter().map(|entry| (entry, domain))),
                Err(error) if is_unreachable_domain(&error) => {
                    tracing::warn!(domain = %domain.nc, %error, "a domain of the forest cannot be searched");
                    unreachable.get_or_insert(error);
                }
                Err(error) => return Err(error),
            }
            if stop_at_first_hit && !hits.is_empty() {
                break;
            }
        }
        Ok((hits, unreachable))
    }

    /// The account entries matching `filter` in `domain`: on the global catalog when one was
    /// given, else on the domain's DC (this one, or the one its referral names), else, when
    /// that DC cannot be reached and this DC is a global catalog, there.
    fn search_in_domain(
        &self,
        forest: &ForestDomains,
        domain: &ForestDomain,
        filter: &str,
    ) -> Result<Vec<Entry>> {
        let in_domain = |entry: &Entry| {
            forest
                .domain_of_dn(&entry.dn)
                .is_some_and(|found| found.nc == domain.nc)
        };
        let on_gc = |gc: &GlobalCatalog| {
            self.search_global_catalog(
                gc,
                &domain.nc,
                Scope::Subtree,
                filter,
                &ACCOUNT_ATTRIBUTES,
                in_domain,
            )
        };
        match &forest.global_catalog {
            Some(gc) if gc.origin == GlobalCatalogOrigin::Given => on_gc(gc),
            discovered => {
                match self.search_following(&domain.nc, Scope::Subtree, filter, &ACCOUNT_ATTRIBUTES)
                {
                    Err(error) if is_unreachable_domain(&error) => match discovered {
                        Some(gc) => {
                            tracing::info!(domain = %domain.nc, gc = %gc.url, %error, "the domain's DC cannot be reached: asking the global catalog");
                            on_gc(gc).map_err(|_| error)
                        }
                        None => Err(error),
                    },
                    // A subtree search of a parent domain on its own DC may also return
                    // entries of a child domain whose NC it holds (a single-DC forest).
                    other => other.map(|entries| entries.into_iter().filter(in_domain).collect()),
                }
            }
        }
    }

    /// Reads `dn` of the domain `nc` as [`Client::search_in_domain`] searches: on a given global
    /// catalog for another domain than this DC's, else here or on the referred DC, else on a
    /// discovered global catalog when that DC cannot be reached.
    fn read_in_domain(
        &self,
        global_catalog: Option<&GlobalCatalog>,
        nc: &Dn,
        dn: &Dn,
        attrs: &[&str],
    ) -> Result<Option<Entry>> {
        match global_catalog {
            Some(gc) if gc.origin == GlobalCatalogOrigin::Given => {
                self.read_global_catalog(gc, dn, attrs)
            }
            discovered => match self.read_following(dn, attrs) {
                Err(error) if is_unreachable_domain(&error) => match discovered {
                    Some(gc) => {
                        tracing::info!(domain = %nc, gc = %gc.url, %error, "the domain's DC cannot be reached: asking the global catalog");
                        self.read_global_catalog(gc, dn, attrs).map_err(|_| error)
                    }
                    None => Err(error),
                },
                other => other,
            },
        }
    }
}

/// `name` matched every entry of `hits`.
fn ambiguous<'a>(name: &str, hits: impl IntoIterator<Item = &'a Entry>) -> Error {
    ErrorKind::AmbiguousAccount {
        name: name.to_string(),
        dns: hits.into_iter().map(|entry| entry.dn.to_string()).collect(),
    }
    .into()
}

fn account_from_entry(name: &str, entry: Entry, domain: &ForestDomain) -> Result<Account> {
    let sid_bytes = entry.first_bytes("objectSid").ok_or_else(|| {
        Error::from(ErrorKind::MissingAttribute {
            dn: entry.dn.to_string(),
            attribute: "objectSid".into(),
        })
    })?;
    let sid = Sid::from_bytes(sid_bytes)
        .map_err(|e| Error::invalid_response(format!("objectSid of {}: {e}", entry.dn)))?;
    Ok(Account {
        name: name.to_string(),
        sam_account_name: entry.first_str("sAMAccountName").map(str::to_string),
        dn: entry.dn,
        sid,
        domain_nc: domain.nc.clone(),
        domain_netbios_name: domain.netbios_name.clone(),
    })
}

/// `CN=Partitions,<configuration NC>`.
pub fn partitions_dn(configuration_nc: &Dn) -> Result<Dn> {
    let rdn = devwb_model::Rdn::new("CN", "Partitions")
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    Ok(configuration_nc.child(rdn))
}

/// The forest's domains named by `name_of` (those that have the name), joined; `none` when none.
fn list_domains(
    forest: &ForestDomains,
    name_of: impl Fn(&ForestDomain) -> Option<String>,
    none: &str,
) -> String {
    let names: Vec<String> = forest.domains.iter().filter_map(name_of).collect();
    if names.is_empty() {
        none.to_string()
    } else {
        names.join(", ")
    }
}

fn list_ncs(forest: &ForestDomains) -> String {
    list_domains(
        forest,
        |d| Some(d.nc.to_string()),
        "no domain crossRef found",
    )
}

fn list_netbios(forest: &ForestDomains) -> String {
    list_domains(forest, |d| d.netbios_name.clone(), "no NetBIOS names")
}

fn list_dns(forest: &ForestDomains) -> String {
    list_domains(forest, |d| d.dns_root.clone(), "no DNS names")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forest() -> ForestDomains {
        ForestDomains {
            global_catalog: None,
            domains: vec![
                ForestDomain {
                    nc: Dn::parse("DC=contoso,DC=lab").unwrap(),
                    netbios_name: Some("CONTOSO".into()),
                    dns_root: Some("contoso.lab".into()),
                    sid: Some(Sid::parse("S-1-5-21-1-2-3").unwrap()),
                },
                ForestDomain {
                    nc: Dn::parse("DC=emea,DC=contoso,DC=lab").unwrap(),
                    netbios_name: Some("EMEA".into()),
                    dns_root: Some("emea.contoso.lab".into()),
                    sid: Some(Sid::parse("S-1-5-21-4-5-6").unwrap()),
                },
            ],
        }
    }

    #[test]
    fn account_name_forms() {
        assert_eq!(
            AccountName::parse("CONTOSO\\svc-sync").unwrap(),
            AccountName::DownLevel {
                domain: "CONTOSO".into(),
                user: "svc-sync".into()
            }
        );
        assert_eq!(
            AccountName::parse("svc@contoso.lab").unwrap(),
            AccountName::Upn {
                user: "svc".into(),
                realm: "contoso.lab".into()
            }
        );
        assert!(matches!(
            AccountName::parse("CN=svc,CN=Users,DC=contoso,DC=lab").unwrap(),
            AccountName::Dn(_)
        ));
        assert_eq!(
            AccountName::parse("svc").unwrap(),
            AccountName::Sam("svc".into())
        );
        for bad in ["", "\\user", "DOM\\", "@realm", "CN=a,,DC=b"] {
            assert!(
                AccountName::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn forest_membership_by_dn_and_sid() {
        let forest = forest();
        let child = Dn::parse("CN=u,CN=Users,DC=emea,DC=contoso,DC=lab").unwrap();
        assert_eq!(
            forest.domain_of_dn(&child).unwrap().netbios_name.as_deref(),
            Some("EMEA")
        );
        assert!(!forest.contains_dn(&Dn::parse("CN=u,DC=fabrikam,DC=lab").unwrap()));
        assert!(forest.contains_sid(&Sid::parse("S-1-5-21-1-2-3-1105").unwrap()));
        assert!(!forest.contains_sid(&Sid::parse("S-1-5-21-9-9-9-1105").unwrap()));
        assert_eq!(
            forest.by_netbios("contoso").unwrap().dns_root.as_deref(),
            Some("contoso.lab")
        );
    }
}
