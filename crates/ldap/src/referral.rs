//! Following referrals across the domains of a forest.
//!
//! A domain controller holds the schema and configuration naming contexts and its own domain's
//! naming context only; asked for an object of another domain of the forest it answers
//! `referral` (10) with the LDAP URL of a server that holds it. The calls here follow one such
//! referral: they connect to the server it names with this client's trust settings, timeout
//! and credentials (a forest's accounts bind on any of its DCs), and run the same operation
//! there. One hop only (a referred server that refers again is an error, never a loop), and
//! only `ldap://` and `ldaps://` URLs: `ldaps://` stays LDAPS, `ldap://` is StartTLS unless this
//! client was itself opened without TLS (`--insecure-plain-ldap`), so a referral never lowers
//! the protection the user chose. The connections are kept for the client's life.

use std::sync::Arc;

use devwb_model::Dn;
use ldap3::Scope;

use crate::client::Client;
use crate::connect::{ConnectOptions, Tls};
use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};

/// `scheme://host:port` of a referral URL (`ldaps://dc2.emea.contoso.lab:636/DC=emea,...`);
/// the port is the scheme's when the URL has none.
pub fn referral_server(url: &str) -> Result<String> {
    let invalid = |reason: &str| {
        Error::from(ErrorKind::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        })
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("a referral URL has a scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "ldap" => 389,
        "ldaps" => 636,
        _ => return Err(invalid("only ldap:// and ldaps:// referrals are followed")),
    };
    let host_port = rest.split(['/', '?']).next().unwrap_or_default();
    if host_port.is_empty() {
        return Err(invalid("the referral names no server"));
    }
    let has_port = match host_port.rsplit_once(':') {
        // `[::1]:636` or `host:636`; a bare IPv6 literal in brackets has no port.
        Some((host, port)) => !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    };
    Ok(if has_port {
        format!("{scheme}://{host_port}")
    } else {
        format!("{scheme}://{host_port}:{default_port}")
    })
}

impl Client {
    /// A client of the server `url` names (a referral's URL), with this client's trust
    /// settings, timeout and credentials; opened once and kept.
    pub fn referred(&self, url: &str) -> Result<Arc<Client>> {
        let server = referral_server(url)?;
        let mut referred = self
            .referred
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, client)) = referred.iter().find(|(known, _)| *known == server) {
            return Ok(Arc::clone(client));
        }
        let mut options = ConnectOptions::new(&server)?;
        if options.tls == Tls::StartTls && self.options.tls == Tls::PlainInsecure {
            options.tls = Tls::PlainInsecure;
        }
        options.ca_file = self.options.ca_file.clone();
        options.ca_certificates = self.options.ca_certificates.clone();
        options.insecure_skip_verify = self.options.insecure_skip_verify;
        options.timeout = self.options.timeout;
        tracing::debug!(%server, "following a referral");
        let client = Arc::new(Client::connect(&options, self.credentials.as_ref())?);
        referred.push((server, Arc::clone(&client)));
        Ok(client)
    }

    /// A client of the first server the referral `error` (an answer about `dn`) names that
    /// can be reached; [`ErrorKind::ReferralFailed`] naming the last one tried otherwise.
    pub fn referred_for(&self, dn: &Dn, error: &Error) -> Result<Arc<Client>> {
        self.on_referral(dn, error, |client| Ok(client.clone()))
    }

    /// The client to use for `dn` and what lies below it: `None` when this server holds it (or
    /// says it does not exist), the referred server's client when this one refers there.
    pub fn holder_of(&self, dn: &Dn) -> Result<Option<Arc<Client>>> {
        match self.read(dn, &["1.1"]) {
            Err(error) if !error.referral_urls().is_empty() => {
                self.referred_for(dn, &error).map(Some)
            }
            Err(error) => Err(error),
            Ok(_) => Ok(None),
        }
    }

    /// [`Client::search`], on the server a `referral` answer names when this one holds no copy
    /// of `base`. A referred server that cannot be reached, or refers again, is
    /// [`ErrorKind::ReferralFailed`] naming it.
    pub fn search_following(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>> {
        match self.search(base, scope, filter, attrs) {
            Err(error) if !error.referral_urls().is_empty() => {
                self.on_referral(base, &error, |client| {
                    client.search(base, scope, filter, attrs)
                })
            }
            other => other,
        }
    }

    /// [`Client::read`], following a referral as [`Client::search_following`] does.
    pub fn read_following(&self, dn: &Dn, attrs: &[&str]) -> Result<Option<Entry>> {
        match self.read(dn, attrs) {
            Err(error) if !error.referral_urls().is_empty() => {
                self.on_referral(dn, &error, |client| client.read(dn, attrs))
            }
            other => other,
        }
    }

    /// Runs `operation` on the first server of the referral `error` names that answers: each URL
    /// is tried in turn (AD lists the domain's name; a list may hold several DCs).
    fn on_referral<T>(
        &self,
        dn: &Dn,
        error: &Error,
        operation: impl Fn(&Arc<Client>) -> Result<T>,
    ) -> Result<T> {
        let mut failure = None;
        for url in error.referral_urls() {
            let outcome = self.referred(url).and_then(|client| operation(&client));
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let detail = if error.referral_urls().is_empty() {
                        error.to_string()
                    } else {
                        format!("it referred again ({error}); devwb follows one referral")
                    };
                    failure = Some(ErrorKind::ReferralFailed {
                        dn: dn.to_string(),
                        url: url.clone(),
                        detail,
                    });
                }
            }
        }
        Err(failure
            .unwrap_or_else(|| ErrorKind::ReferralFailed {
                dn: dn.to_string(),
                url: String::new(),
                detail: "the referral named no server".into(),
            })
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_url_gives_its_server_and_keeps_the_scheme() {
        assert_eq!(
            referral_server("ldaps://127.0.0.1:40123/DC=emea,DC=contoso,DC=lab").unwrap(),
            "ldaps://127.0.0.1:40123"
        );
        assert_eq!(
            referral_server("ldap://emea.contoso.lab/DC=emea,DC=contoso,DC=lab").unwrap(),
            "ldap://emea.contoso.lab:389"
        );
        assert_eq!(
            referral_server("LDAPS://dc.fabrikam.lab/DC=fabrikam,DC=lab").unwrap(),
            "ldaps://dc.fabrikam.lab:636"
        );
        assert_eq!(
            referral_server("ldaps://[::1]:3269/").unwrap(),
            "ldaps://[::1]:3269"
        );
        for bad in ["http://x/", "dc.contoso.lab", "ldap:///DC=x", "ldaps://"] {
            assert!(referral_server(bad).is_err(), "{bad}");
        }
    }
}
