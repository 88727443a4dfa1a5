//! The rustls client configuration of both clients: ring as the crypto provider (as everywhere
//! in the workspace), and as trust the CA certificates given (a PEM file, certificates in memory)
//! or the platform's store when none is given; or, only when the user asks for it, no
//! verification at all.
//!
//! The callers log the warning that goes with skipping verification: they know what is at stake
//! (an LDAP bind, an access token) and how often to say it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why a TLS configuration could not be built: what went wrong, naming the file or the
/// certificate when there is one. The clients wrap it in their own error's TLS kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSetupError(String);

impl TlsSetupError {
    fn new(what: impl Into<String>) -> TlsSetupError {
        TlsSetupError(what.into())
    }
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

/// A client configuration that verifies servers against `roots`.
pub fn verifying_client_config(roots: RootCertStore) -> Result<ClientConfig, TlsSetupError> {
    let (builder, _) = ring_builder()?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// A client configuration that accepts every server certificate. The handshake's signatures are
/// still checked, so the session is at least with whoever holds the presented key. Only for an
/// explicit `insecure_skip_verify`; the caller logs the warning.
pub fn unverified_client_config() -> Result<ClientConfig, TlsSetupError> {
    let (builder, provider) = ring_builder()?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(InsecureAcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }))
        .with_no_client_auth())
}

type WantsVerifierBuilder = ConfigBuilder<ClientConfig, rustls::WantsVerifier>;

fn ring_builder() -> Result<(WantsVerifierBuilder, Arc<CryptoProvider>), TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::new(format!("protocol versions: {e}")))?;
    Ok((builder, provider))
}

/// The roots to verify servers against: the certificates of the PEM file `ca_file` and the
/// `certificates` given in memory (both, when both are given), or the platform's trust store
/// when neither is.
pub fn root_store(
    ca_file: Option<&Path>,
    certificates: &[CertificateDer<'static>],
) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            TlsSetupError::new(format!("cannot read CA file {}: {e}", path.display()))
        })?;
        let what = format!("CA file {}", path.display());
        for certificate in pem_certificates(&pem, &what)? {
            store
                .add(certificate)
                .map_err(|e| TlsSetupError::new(format!("{what}: unusable certificate: {e}")))?;
        }
    }
    for (index, certificate) in certificates.iter().enumerate() {
        store
            .add(certificate.clone())
            .map_err(|e| TlsSetupError::new(format!("CA certificate #{index}: unusable: {e}")))?;
    }
    if ca_file.is_none() && certificates.is_empty() {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "while loading the platform's trusted certificates");
        }
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, ignored, "platform trust store loaded");
        if added == 0 {
            return Err(TlsSetupError::new(
                "the platform trust store holds no certificate: give a CA file",
            ));
        }
    }
    Ok(store)
}

/// The certificates of PEM text (other PEM sections are skipped). `what` names the text in
/// errors (`CA file /etc/ca.pem`); text without a certificate is an error.
pub fn pem_certificates(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let mut reader = std::io::BufReader::new(pem);
    let certificates = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::new(format!("{what}: invalid PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(TlsSetupError::new(format!(
            "{what} holds no PEM certificate"
        )));
    }
    Ok(certificates)
}

/// Accepts every server certificate but still checks the handshake signatures.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let error = root_store(Some(Path::new("/nonexistent/ca.pem")), &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read CA file /nonexistent/ca.pem"),
            "{error}"
        );
        let error = pem_certificates(b"not a certificate\n", "CA file x.pem").unwrap_err();
        assert_eq!(error.to_string(), "CA file x.pem holds no PEM certificate");
    }
}
