//! TLS configuration: a self-signed certificate made at start with rcgen (for `localhost`,
//! `127.0.0.1` and the DC's host name), or a certificate chain and key read from PEM files.
//! rustls with the ring provider only.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::SimError;

/// A server certificate and key, and the certificate as PEM for clients that want to trust it.
#[derive(Clone)]
pub struct TlsMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    /// The leaf certificate in PEM form.
    pub certificate_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TlsMaterial({} certificates, key ********)",
            self.chain.len()
        )
    }
}

impl TlsMaterial {
    /// A fresh self-signed certificate for these names.
    pub fn self_signed(names: &[String]) -> Result<TlsMaterial, SimError> {
        let certified = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| SimError::Tls(format!("cannot generate a certificate: {e}")))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        Ok(TlsMaterial {
            chain: vec![certified.cert.der().clone()],
            key: Arc::new(key),
            certificate_pem: certified.cert.pem(),
        })
    }

    /// A certificate chain and private key from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsMaterial, SimError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| SimError::File {
                path: path.display().to_string(),
                source,
            })
        };
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| SimError::Tls(format!("{}: {e}", cert.display())))?;
        if chain.is_empty() {
            return Err(SimError::Tls(format!(
                "{}: no certificate found",
                cert.display()
            )));
        }
        let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|e| SimError::Tls(format!("{}: {e}", key.display())))?
            .ok_or_else(|| SimError::Tls(format!("{}: no private key found", key.display())))?;
        Ok(TlsMaterial {
            chain,
            key: Arc::new(key_der),
            certificate_pem: String::from_utf8_lossy(&cert_pem).into_owned(),
        })
    }

    /// The acceptor for listeners and StartTLS.
    pub fn acceptor(&self) -> Result<TlsAcceptor, SimError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| SimError::Tls(format!("certificate and key do not fit together: {e}")))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
