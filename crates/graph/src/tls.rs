//! The rustls configuration every request uses: ring as the crypto provider (as everywhere in
//! the workspace), and as trust the CA file and extra roots when given, the platform's store
//! otherwise, or (loudly) no verification at all.
//!
//! It builds a `ClientConfig` and nothing else; reqwest is handed it ready-made, so reqwest never
//! picks a provider or a trust store of its own.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::GraphConfig;
use crate::error::{Error, Result};

/// The rustls configuration for `config`.
pub(crate) fn client_config(config: &GraphConfig) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(format!("protocol versions: {e}")))?;
    let tls = if config.insecure_skip_verify {
        tracing::warn!(
            graph_url = %config.graph_url,
            authority = %config.authority,
            "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read the access token and the devices"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureAcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store(config)?)
            .with_no_client_auth()
    };
    Ok(tls)
}

fn root_store(config: &GraphConfig) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if let Some(path) = &config.ca_file {
        add_ca_file(&mut store, path)?;
    }
    for (index, certificate) in config.extra_roots.iter().enumerate() {
        store
            .add(certificate.clone())
            .map_err(|e| Error::tls(format!("extra root certificate #{index}: unusable: {e}")))?;
    }
    if config.ca_file.is_none() && config.extra_roots.is_empty() {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "while loading the platform's trusted certificates");
        }
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, ignored, "platform trust store loaded");
        if added == 0 {
            return Err(Error::tls(
                "the platform trust store holds no certificate: give a CA file",
            ));
        }
    }
    Ok(store)
}

fn add_ca_file(store: &mut RootCertStore, path: &Path) -> Result<()> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::tls(format!("cannot read CA file {}: {e}", path.display())))?;
    let mut reader = std::io::BufReader::new(pem.as_slice());
    let mut count = 0usize;
    for certificate in rustls_pemfile::certs(&mut reader) {
        let certificate = certificate
            .map_err(|e| Error::tls(format!("CA file {}: invalid PEM: {e}", path.display())))?;
        store.add(certificate).map_err(|e| {
            Error::tls(format!(
                "CA file {}: unusable certificate: {e}",
                path.display()
            ))
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::tls(format!(
            "CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(())
}

/// Accepts every server certificate but still checks the handshake signatures, so the session is
/// at least with whoever holds the presented key. Only with `insecure_skip_verify`.
// The same verifier as devwb-ldap's: the two crates do not depend on each other, and a dozen
// lines do not justify a shared TLS crate yet.
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
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
