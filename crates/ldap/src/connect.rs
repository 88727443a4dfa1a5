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

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

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
    /// PEM file of the CA certificates to trust; the platform's trust store when `None`.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. For labs only: a warning is logged (once per process).
    pub insecure_skip_verify: bool,
    /// Timeout for connecting and for each operation.
    pub timeout: Duration,
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
            insecure_skip_verify: false,
            timeout: Self::DEFAULT_TIMEOUT,
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

    /// The rustls configuration: the CA file's certificates or the platform roots, or (loudly)
    /// no verification at all.
    pub(crate) fn rustls_config(&self) -> Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(format!("protocol versions: {e}")))?;
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
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(InsecureAcceptAnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.root_store()?)
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    tls_error(format!("cannot read CA file {}: {e}", path.display()))
                })?;
                let mut reader = std::io::BufReader::new(pem.as_slice());
                let mut count = 0usize;
                for certificate in rustls_pemfile::certs(&mut reader) {
                    let certificate = certificate.map_err(|e| {
                        tls_error(format!("CA file {}: invalid PEM: {e}", path.display()))
                    })?;
                    store.add(certificate).map_err(|e| {
                        tls_error(format!(
                            "CA file {}: unusable certificate: {e}",
                            path.display()
                        ))
                    })?;
                    count += 1;
                }
                if count == 0 {
                    return Err(tls_error(format!(
                        "CA file {} holds no PEM certificate",
                        path.display()
                    )));
                }
            }
            None => {
                let loaded = rustls_native_certs::load_native_certs();
                for error in &loaded.errors {
                    tracing::warn!(%error, "while loading the platform's trusted certificates");
                }
                let (added, ignored) = store.add_parsable_certificates(loaded.certs);
                tracing::debug!(added, ignored, "platform trust store loaded");
                if added == 0 {
                    return Err(tls_error(
                        "the platform trust store holds no certificate: give a CA file".to_string(),
                    ));
                }
            }
        }
        Ok(store)
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

/// A certificate verifier that accepts every certificate (signatures of the handshake are still
/// checked, so the peer must hold the key of the certificate it sent). Used only when the user
/// asks for `insecure_skip_verify`.
#[derive(Debug)]
struct InsecureAcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for InsecureAcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
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
