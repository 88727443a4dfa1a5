//! The forest's global catalog: one server that answers for every domain of the forest.
//!
//! A global catalog (GC) holds a read-only partial replica of every domain naming context, with
//! the attributes of the schema's partial attribute set: `objectSid`, `sAMAccountName` and
//! `userPrincipalName` among them, which is all account resolution needs. It listens on its own
//! ports (3268, 3269 for LDAPS on Windows).
//!
//! devwb finds one in two ways:
//! - **given** (`--gc-url`, [`ConnectOptions::with_global_catalog`]): account and SID lookups in
//!   the other domains go to it, so the other domains' DCs need not be reachable from here.
//!   A GC that cannot be used is an error naming it.
//! - **discovered**: the DC devwb is connected to says `isGlobalCatalogReady: TRUE` in its rootDSE
//!   and was reached on a standard port (636 or 389), so its GC ports are the same host's 3269 or
//!   3268. Lookups then follow referrals to each domain's DC as usual, and the GC is asked only
//!   when such a DC cannot be reached.
//!
//! The GC is opened like a referred server ([`Client::referred`]): the same trust, timeout and
//! credentials, and never less protection than the user chose.

use devwb_model::Dn;
use ldap3::Scope;

use crate::client::Client;
use crate::connect::ConnectOptions;
use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::referral::referral_server;
use crate::rootdse::RootDse;

/// How the global catalog was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GlobalCatalogOrigin {
    /// The user gave it (`--gc-url`): it is asked first, and a failure is an error.
    Given,
    /// The connected DC is a GC: asked only when a domain's own DC cannot be reached.
    Discovered,
}

/// A global catalog of the forest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GlobalCatalog {
    /// `ldaps://host:3269` or `ldap://host:3268` (any port a user gave).
    pub url: String,
    /// How it was found.
    pub origin: GlobalCatalogOrigin,
}

/// The GC ports of the host `connected_url` names, when it names a DC on a standard port:
/// `ldaps://dc1:636` gives `ldaps://dc1:3269`, `ldap://dc1:389` gives `ldap://dc1:3268`.
/// Another port says nothing about where the GC listens: `None`.
pub fn gc_url_of_dc(connected_url: &str) -> Option<String> {
    let server = referral_server(connected_url).ok()?;
    let (scheme_host, port) = server.rsplit_once(':')?;
    let gc_port = match (scheme_host.split_once("://")?.0, port) {
        ("ldaps", "636") => 3269,
        ("ldap", "389") => 3268,
        _ => return None,
    };
    Some(format!("{scheme_host}:{gc_port}"))
}

impl ConnectOptions {
    /// Uses the global catalog at `url` (`ldaps://gc.contoso.lab:3269`) for lookups in the
    /// forest's other domains. The URL is checked now.
    pub fn with_global_catalog(mut self, url: &str) -> Result<ConnectOptions> {
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("ldaps://{url}")
        };
        referral_server(&url).map_err(|error| {
            Error::from(ErrorKind::InvalidUrl {
                url: url.clone(),
                reason: format!("as a global catalog: {error}"),
            })
        })?;
        self.global_catalog = Some(url);
        Ok(self)
    }
}

impl Client {
    /// The global catalog to use: the one given in the options, else the connected DC's own
    /// GC ports when its rootDSE says it is one.
    pub fn global_catalog(&self, root_dse: &RootDse) -> Option<GlobalCatalog> {
        if let Some(url) = &self.options.global_catalog {
            return Some(GlobalCatalog {
                url: url.clone(),
                origin: GlobalCatalogOrigin::Given,
            });
        }
        if !root_dse.is_global_catalog_ready {
            return None;
        }
        gc_url_of_dc(&self.options.url).map(|url| GlobalCatalog {
            url,
            origin: GlobalCatalogOrigin::Discovered,
        })
    }

    /// Entries matching `filter` below `base` on the global catalog `gc`, keeping only those
    /// `keep` accepts (a GC's subtree of a parent domain spans its child domains too). A GC
    /// that cannot be used is [`ErrorKind::GlobalCatalogFailed`]; a `base` it does not hold
    /// gives no entries.
    pub fn search_global_catalog(
        &self,
        gc: &GlobalCatalog,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        keep: impl Fn(&Entry) -> bool,
    ) -> Result<Vec<Entry>> {
        let failed = |error: Error| {
            Error::from(ErrorKind::GlobalCatalogFailed {
                url: gc.url.clone(),
                detail: error.to_string(),
            })
        };
        let client = self.referred(&gc.url).map_err(failed)?;
        match client.search(base, scope, filter, attrs) {
            Ok(entries) => Ok(entries.into_iter().filter(|entry| keep(entry)).collect()),
            Err(error) if matches!(error.kind(), ErrorKind::NoSuchObject { .. }) => Ok(Vec::new()),
            Err(error) => Err(failed(error)),
        }
    }

    /// [`Client::read`] on the global catalog `gc`.
    pub fn read_global_catalog(
        &self,
        gc: &GlobalCatalog,
        dn: &Dn,
        attrs: &[&str],
    ) -> Result<Option<Entry>> {
        let found =
            self.search_global_catalog(gc, dn, Scope::Base, "(objectClass=*)", attrs, |_| true)?;
        Ok(found.into_iter().next())
    }
}

/// Whether `error` says a domain's DC could not be reached through its referral: the case in
/// which a discovered global catalog is asked instead.
pub fn is_unreachable_domain(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::ReferralFailed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dc_on_standard_ports_has_its_gc_on_the_gc_ports() {
        assert_eq!(
            gc_url_of_dc("ldaps://dc1.contoso.lab").as_deref(),
            Some("ldaps://dc1.contoso.lab:3269")
        );
        assert_eq!(
            gc_url_of_dc("ldaps://dc1.contoso.lab:636").as_deref(),
            Some("ldaps://dc1.contoso.lab:3269")
        );
        assert_eq!(
            gc_url_of_dc("ldap://10.0.0.4:389").as_deref(),
            Some("ldap://10.0.0.4:3268")
        );
        assert_eq!(gc_url_of_dc("ldaps://127.0.0.1:40123"), None);
        assert_eq!(gc_url_of_dc("ldaps://dc1:3269"), None);
    }

    #[test]
    fn a_given_gc_url_is_checked_and_takes_ldaps_by_default() {
        let options = ConnectOptions::new("ldaps://dc1.contoso.lab")
            .unwrap()
            .with_global_catalog("gc.contoso.lab:3269")
            .unwrap();
        assert_eq!(
            options.global_catalog.as_deref(),
            Some("ldaps://gc.contoso.lab:3269")
        );
        assert!(ConnectOptions::new("ldaps://dc1")
            .unwrap()
            .with_global_catalog("http://gc.contoso.lab")
            .is_err());
    }
}
