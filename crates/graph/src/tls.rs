//! The rustls configuration every request uses, built by `devwb-net` (ring, and as trust the CA
//! file and extra roots when given, the platform's store otherwise), or (loudly) no verification
//! at all.
//!
//! It builds a `ClientConfig` and nothing else; reqwest is handed it ready-made, so reqwest never
//! picks a provider or a trust store of its own.

use rustls::ClientConfig;

use crate::config::GraphConfig;
use crate::error::{Error, Result};

/// The rustls configuration for `config`.
pub(crate) fn client_config(config: &GraphConfig) -> Result<ClientConfig> {
    let tls = if config.insecure_skip_verify {
        tracing::warn!(
            graph_url = %config.graph_url,
            authority = %config.authority,
            "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read the access token and the devices"
        );
        devwb_net::tls::unverified_client_config()
    } else {
        devwb_net::tls::root_store(config.ca_file.as_deref(), &config.extra_roots)
            .and_then(devwb_net::tls::verifying_client_config)
    };
    tls.map_err(|e| Error::tls(e.to_string()))
}
