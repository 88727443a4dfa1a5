//! What devwb's two network clients share, and nothing else: `devwb-ldap` (LDAP over TLS) and
//! `devwb-graph` (Microsoft Graph over HTTPS) both build a rustls client configuration on ring
//! with the same trust rules ([`tls`]) and both offer a blocking API over a tokio runtime they
//! own ([`OwnedRuntime`]).
//!
//! It knows nothing of LDAP, HTTP, devices or the simulator, and depends on no workspace crate,
//! so the two clients stay independent of each other. It logs through `tracing` and prints
//! nothing.

pub mod runtime;
pub mod tls;

pub use runtime::OwnedRuntime;
pub use tls::TlsSetupError;
