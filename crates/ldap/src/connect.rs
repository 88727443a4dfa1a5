//! How to reach and authenticate to a domain controller: URL, TLS mode, trust, credentials.
//!
//! LDAPS or StartTLS is the default; plain LDAP only when [`Tls::PlainInsecure`] is chosen
//! explicitly. Certificates are checked against a CA file or the platform's trust store;
//! [`ConnectOptions::insecure_skip_verify`] turns checking off for labs and logs a warning
//! the first time a connection of the process uses it. Passwords live in [`Password`], whose `Debug` prints
//! `********` and which no error or log line ever contains.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;

use crate::error::{Error, ErrorKind, Result};

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tls {
    /// TLS from the first byte (`ldaps://`, port 636). The default for `ldaps://` URLs.
    Ldaps,
    /// Plain TCP upgraded with the StartTLS extended operation before anything else (`ldap://`).
    StartTls,
    /// No TLS at all. AD refuses simple binds on such connections unless configured not to;
    /// only for simulators and labs.
    PlainInsecure,
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// The protection; [`ConnectOptions::new`] derives it from the URL's scheme.
    pub tls: Tls,
    /// PEM file of the CA certificates to trust. With `ca_certificates`, both are trusted; when
    /// neither is given, the platform's trust store.
    pub ca_file: Option<PathBuf>,
    /// CA certificates (DER) to trust, given in memory ([`ConnectOptions::with_ca_pem`],
    /// [`ConnectOptions::with_ca_der`]): a test's simulator, say, with no file to write.
    pub ca_certificates: Vec<CertificateDer<'static>>,
    /// Accept any server certificate. For labs only: a warning is logged (once per process).
    pub insecure_skip_verify: bool,
    /// Timeout for connecting and for each operation.
    pub timeout: Duration,
    /// The forest's global catalog, when the user named one ([`crate::gc`]).
    pub global_catalog: Option<String>,
}

impl ConnectOptions {
    /// The default timeout for connecting and for each operation.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Options for `url`: LDAPS for `ldaps://`, StartTLS for `ldap://`, platform trust store,
    /// 30 s timeout. A URL without a scheme is taken as `ldaps://`.
    pub fn new(url: &str) -> Result<ConnectOptions> {
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("ldaps://{url}")
        };
        let scheme = scheme_of(&url)?;
        let tls = match scheme.as_str() {
            "ldaps" => Tls::Ldaps,
            "ldap" => Tls::StartTls,
            other => {
                return Err(ErrorKind::InvalidUrl {
                    url,
                    reason: format!("unsupported scheme {other:?}: use ldaps:// or ldap://"),
                }
                .into())
            }
        };
        Ok(ConnectOptions {
            url,
            tls,
            ca_file: None,
            ca_certificates: Vec::new(),
            insecure_skip_verify: false,
            timeout: Self::DEFAULT_TIMEOUT,
            global_catalog: None,
        })
    }

    /// Sets the protection (checked against the URL's scheme when connecting).
    pub fn with_tls(mut self, tls: Tls) -> ConnectOptions {
        self.tls = tls;
        self
    }

    /// Trusts the CA certificates of a PEM file instead of the platform's trust store.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> ConnectOptions {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// Trusts the CA certificates of PEM text held in memory, as with a CA file. Text that holds
    /// no certificate, or bad PEM, is an error now rather than at connect time.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<ConnectOptions> {
        let certificates = devwb_net::tls::pem_certificates(pem, "CA PEM text")
            .map_err(|e| tls_error(e.to_string()))?;
        self.ca_certificates.extend(certificates);
        Ok(self)
    }

    /// Trusts a CA certificate given as DER bytes.
    pub fn with_ca_der(mut self, der: impl Into<Vec<u8>>) -> ConnectOptions {
        self.ca_certificates.push(CertificateDer::from(der.into()));
        self
    }

    /// Accepts any certificate (labs only; logged as a warning, once per process).
    pub fn with_insecure_skip_verify(mut self, skip: bool) -> ConnectOptions {
        self.insecure_skip_verify = skip;
        self
    }

    /// Sets the connect and per-operation timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> ConnectOptions {
        self.timeout = timeout;
        self
    }

    /// Checks that the scheme and the TLS mode agree.
    pub(crate) fn validate(&self) -> Result<()> {
        let scheme = scheme_of(&self.url)?;
        let ok = matches!(
            (scheme.as_str(), self.tls),
            ("ldaps", Tls::Ldaps) | ("ldap", Tls::StartTls) | ("ldap", Tls::PlainInsecure)
        );
        if ok {
            Ok(())
        } else {
            Err(ErrorKind::InvalidUrl {
                url: self.url.clone(),
                reason: format!(
                    "{:?} needs an {} URL",
                    self.tls,
                    if self.tls == Tls::Ldaps {
                        "ldaps://"
                    } else {
                        "ldap://"
                    }
                ),
            }
            .into())
        }
    }

    /// The rustls configuration: the CA file's and the in-memory CA certificates, or the
    /// platform roots when neither is given, or (loudly) no verification at all.
    pub(crate) fn rustls_config(&self) -> Result<Arc<ClientConfig>> {
        let config = if self.insecure_skip_verify {
            // Once per process, not once per connection: a bulk apply opens several, and a
            // warning repeated for each reads as several problems.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    url = %self.url,
                    "TLS certificate verification is OFF: anyone on the path can read and change this LDAP traffic"
                );
            });
            devwb_net::tls::unverified_client_config()
        } else {
            devwb_net::tls::root_store(self.ca_file.as_deref(), &self.ca_certificates)
                .and_then(devwb_net::tls::verifying_client_config)
        };
        config.map(Arc::new).map_err(|e| tls_error(e.to_string()))
    }
}

fn tls_error(what: String) -> Error {
    ErrorKind::Tls { what }.into()
}

fn scheme_of(url: &str) -> Result<String> {
    match url.split_once("://") {
        Some((scheme, rest)) if !rest.is_empty() => Ok(scheme.to_ascii_lowercase()),
        _ => Err(ErrorKind::InvalidUrl {
            url: url.to_string(),
            reason: "expected scheme://host[:port]".into(),
        }
        .into()),
    }
}

/// A password. `Debug` and `Display` print `********`; read it with [`Password::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }

    /// The password itself, for the bind request and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// A simple bind: the name (a DN, a UPN `user@realm` or `DOMAIN\user`; AD accepts all three)
/// and the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The bind name, as given.
    pub bind_name: String,
    /// The password.
    pub password: Password,
}

impl Credentials {
    /// Credentials for a simple bind.
    pub fn new(bind_name: impl Into<String>, password: Password) -> Credentials {
        Credentials {
            bind_name: bind_name.into(),
            password,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let credentials = Credentials::new("CONTOSO\\admin", Password::new("Secret123!"));
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("Secret123!"), "{debug}");
        assert!(debug.contains("********"));
        assert_eq!(format!("{}", credentials.password), "********");
        assert_eq!(credentials.password.expose(), "Secret123!");
    }

    #[test]
    fn scheme_decides_the_default_tls_mode() {
        assert_eq!(
            ConnectOptions::new("ldaps://dc1.contoso.lab").unwrap().tls,
            Tls::Ldaps
        );
        assert_eq!(
            ConnectOptions::new("ldap://dc1.contoso.lab:389")
                .unwrap()
                .tls,
            Tls::StartTls
        );
        assert_eq!(
            ConnectOptions::new("dc1.contoso.lab").unwrap().url,
            "ldaps://dc1.contoso.lab"
        );
        let error = ConnectOptions::new("http://dc1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid LDAP URL \"http://dc1\": unsupported scheme \"http\": use ldaps:// or ldap://"
        );
        let mismatched = ConnectOptions::new("ldaps://dc1")
            .unwrap()
            .with_tls(Tls::StartTls);
        assert_eq!(
            mismatched.validate().unwrap_err().to_string(),
            "invalid LDAP URL \"ldaps://dc1\": StartTls needs an ldap:// URL"
        );
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let options = ConnectOptions::new("ldaps://dc1")
            .unwrap()
            .with_ca_file("/nonexistent/ca.pem");
        let error = options.rustls_config().unwrap_err().to_string();
        assert!(
            error.starts_with("tls setup: cannot read CA file /nonexistent/ca.pem"),
            "{error}"
        );
        let dir = std::env::temp_dir().join(format!("devwb-ldap-empty-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").unwrap();
        let error = ConnectOptions::new("ldaps://dc1")
            .unwrap()
            .with_ca_file(&dir)
            .rustls_config()
            .unwrap_err();
        assert!(
            error.to_string().ends_with("holds no PEM certificate"),
            "{error}"
        );
        let _ = std::fs::remove_file(dir);
    }
}
