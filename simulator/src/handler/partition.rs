//! Which naming contexts a listener's domain controller holds, and where the others are: the
//! DC of a domain of a multi-domain forest holds the schema and configuration NCs and its own
//! domain NC; a request for another domain's NC is answered with a `referral` (10) to that
//! domain's DC, and a subtree search that reaches one returns a continuation reference. The
//! global catalog holds every NC, read-only, with the partial attribute set.
//!
//! Every DC of the process is a view of the one store: what differs per DC is only what it
//! holds. In a single-domain forest the one DC holds everything and nothing here changes an
//! answer.

use std::net::SocketAddr;

use devwb_model::Dn;

use super::{Handler, Session};
use crate::error::{OpError, ResultCode};
use crate::names::NamingContext;

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DcRole {
    /// The DC of a domain, by its index in `ForestNames::domains` (0: the forest root's, the
    /// default).
    Domain(usize),
    /// The global catalog: every NC of the forest, read-only, the partial attribute set. It
    /// is a role of the forest root domain's DC (its rootDSE is that DC's).
    GlobalCatalog,
}

impl Default for DcRole {
    fn default() -> DcRole {
        DcRole::Domain(0)
    }
}

/// Where a DC listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Endpoints {
    /// Plain LDAP (StartTLS possible).
    pub plain: Option<SocketAddr>,
    /// LDAPS.
    pub ldaps: Option<SocketAddr>,
}

impl Endpoints {
    /// `ldap://127.0.0.1:<port>` (empty when plain LDAP is off).
    pub fn ldap_url(&self) -> String {
        self.plain
            .map(|a| format!("ldap://{a}"))
            .unwrap_or_default()
    }

    /// `ldaps://127.0.0.1:<port>` (empty when LDAPS is off).
    pub fn ldaps_url(&self) -> String {
        self.ldaps
            .map(|a| format!("ldaps://{a}"))
            .unwrap_or_default()
    }

    /// An LDAP URL of `dn` on these endpoints: `ldaps://` when `prefer_ldaps` and there is
    /// an LDAPS listener (or there is no plain one), else `ldap://`. `None` without listeners.
    pub fn url(&self, dn: &Dn, prefer_ldaps: bool) -> Option<String> {
        let (scheme, address) = match (self.plain, self.ldaps) {
            (_, Some(ldaps)) if prefer_ldaps => ("ldaps", ldaps),
            (Some(plain), _) => ("ldap", plain),
            (None, Some(ldaps)) => ("ldaps", ldaps),
            (None, None) => return None,
        };
        Some(format!(
            "{scheme}://{address}/{}",
            url_escape(&dn.to_string())
        ))
    }
}

/// The characters RFC 4516 requires escaped in an LDAP URL's DN, percent-encoded.
fn url_escape(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for byte in dn.bytes() {
        match byte {
            b' ' | b'?' | b'%' | b'#' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|'
            | b'}' => out.push_str(&format!("%{byte:02X}")),
            0x00..=0x1f | 0x7f..=0xff => out.push_str(&format!("%{byte:02X}")),
            _ => out.push(char::from(byte)),
        }
    }
    out
}

/// Where every DC of the forest listens, by domain index: the referrals' targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Per domain, in `ForestNames::domains` order.
    pub domains: Vec<Endpoints>,
}

impl Handler {
    /// The role of the listener this handler serves.
    pub fn role(&self) -> DcRole {
        self.role
    }

    /// The index of the domain whose DC this is (the root's for the global catalog).
    pub(super) fn own_domain(&self) -> usize {
        match self.role {
            DcRole::Domain(index) => index,
            DcRole::GlobalCatalog => 0,
        }
    }

    /// Whether this DC holds the naming context `nc`.
    pub(super) fn holds(&self, nc: NamingContext) -> bool {
        match (self.role, nc) {
            (DcRole::GlobalCatalog, _) => true,
            (_, NamingContext::Schema | NamingContext::Configuration) => true,
            (_, NamingContext::Domain(index)) => index == self.own_domain(),
        }
    }

    /// Whether this DC holds every NC of the forest (a single-domain forest's DC, the GC).
    pub(super) fn holds_everything(&self) -> bool {
        self.role == DcRole::GlobalCatalog || self.forest.names.domains.len() <= 1
    }

    /// Whether this DC holds the NC of `dn` (a DN in no NC of the forest counts as held: it
    /// is answered as today, `noSuchObject`).
    pub(super) fn holds_dn(&self, dn: &Dn) -> bool {
        if self.holds_everything() {
            return true;
        }
        self.forest
            .names
            .naming_context_of(dn)
            .is_none_or(|nc| self.holds(nc))
    }

    /// `Ok` when this DC holds `dn`'s naming context; else AD's `referral` to the DC of the
    /// domain that does, with the URL of `dn` there (`ldaps://` when the request came over
    /// LDAPS).
    pub(super) fn require_held(&self, session: &Session, dn: &Dn) -> Result<(), OpError> {
        if self.holds_dn(dn) {
            return Ok(());
        }
        let Some(NamingContext::Domain(index)) = self.forest.names.naming_context_of(dn) else {
            return Ok(());
        };
        Err(self.referral_to(index, session, dn))
    }

    /// The referral to `dn` on the DC of the domain `index`.
    fn referral_to(&self, index: usize, session: &Session, dn: &Dn) -> OpError {
        let dns_name = self
            .forest
            .names
            .domains
            .get(index)
            .map_or("", |d| d.dns_name.as_str());
        match self.domain_url(index, session, dn) {
            Some(url) => OpError::referral(dns_name, url),
            // A domain whose DC has no listener: nowhere to refer to.
            None => OpError::new(
                ResultCode::UNAVAILABLE,
                format!("0000203A: SvcErr: DSID-03100829, problem 5002 (UNAVAILABLE), data 0, no domain controller of {dns_name} is reachable\n"),
            ),
        }
    }

    /// The URL of `dn` on the DC of the domain `index`, in the session's scheme.
    pub(super) fn domain_url(&self, index: usize, session: &Session, dn: &Dn) -> Option<String> {
        self.topology
            .domains
            .get(index)
            .and_then(|endpoints| endpoints.url(dn, session.over_ldaps))
    }

    /// Whether an entry at `dn` is one this DC serves in searches.
    pub(super) fn serves(&self, dn: &Dn) -> bool {
        self.holds_dn(dn)
    }

    /// AD's answer to a write through the global catalog port.
    pub(super) fn global_catalog_is_read_only() -> OpError {
        OpError::unwilling(
            "00002035: LdapErr: DSID-0C090CE6, comment: Operation not allowed through GC port, data 0, v4563\n",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_what_rfc_4516_requires() {
        let endpoints = Endpoints {
            plain: Some(SocketAddr::from(([127, 0, 0, 1], 389))),
            ldaps: Some(SocketAddr::from(([127, 0, 0, 1], 636))),
        };
        let dn = Dn::parse("CN=Domain Admins,CN=Users,DC=emea,DC=contoso,DC=lab").expect("dn");
        assert_eq!(
            endpoints.url(&dn, false).as_deref(),
            Some("ldap://127.0.0.1:389/CN=Domain%20Admins,CN=Users,DC=emea,DC=contoso,DC=lab")
        );
        assert_eq!(
            endpoints.url(&dn, true).as_deref(),
            Some("ldaps://127.0.0.1:636/CN=Domain%20Admins,CN=Users,DC=emea,DC=contoso,DC=lab")
        );
        let only_ldaps = Endpoints {
            plain: None,
            ..endpoints
        };
        assert!(only_ldaps
            .url(&dn, false)
            .is_some_and(|u| u.starts_with("ldaps://127.0.0.1:636/")));
        assert_eq!(Endpoints::default().url(&dn, true), None);
    }
}
