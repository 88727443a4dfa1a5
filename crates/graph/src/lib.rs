//! The Microsoft Graph side of devwb: app-only access tokens from the Microsoft identity
//! platform (client credentials, by client secret or by a certificate's signed assertion), and
//! the reads device writeback needs: `/v1.0/devices` (owners expanded or not), `/v1.0/users`,
//! a device's `registeredOwners`, and `/v1.0/devices/delta` rounds, page by page, following
//! `@odata.nextLink` verbatim, with Graph's throttling (`Retry-After`), jittered backoff and a
//! total deadline.
//!
//! The API is blocking ([`GraphClient`] owns a small tokio runtime). Pages come out as the raw
//! body bytes plus their parsed links ([`Page`]): this crate knows nothing of devices, so the
//! writeback crate parses `value` with its own parser.
//!
//! It deliberately does no printing, reads no environment variable and keeps no state on disk
//! (the delta link is the caller's to save). Secrets and access tokens never appear in `Debug`
//! output, errors or logs. TLS is rustls on ring, verified against the platform's store or a
//! CA file; skipping verification is an option whose name says so.
//!
//! ```no_run
//! use devwb_graph::{Credential, GraphClient, GraphConfig, SecretString};
//! # fn main() -> Result<(), devwb_graph::Error> {
//! let credential = Credential::Secret(SecretString::new("from a file or the environment"));
//! let config = GraphConfig::new("contoso.onmicrosoft.com", "app-client-id", credential)?;
//! let client = GraphClient::new(config)?;
//! let mut pages = client.devices_delta(None, &["id", "deviceId", "accountEnabled"])?;
//! for page in pages.by_ref() {
//!     let page = page?;
//!     // hand page.body to the device parser
//!     # let _ = page;
//! }
//! let next_round = pages.delta_link().cloned();
//! # let _ = next_round;
//! # Ok(()) }
//! ```

mod assertion;
pub mod client;
pub mod config;
pub mod error;
pub mod page;
mod retry;
mod tls;

pub use assertion::{AssertionClaims, ASSERTION_LIFETIME_SECS};
pub use client::{ClientStats, GraphClient, ListingSummary, Pages};
pub use config::{Cloud, Credential, GraphConfig, RetryPolicy, SecretString};
pub use error::{Error, ErrorKind, Result};
pub use page::{DeltaLink, Listing, Page, MAX_PAGE_SIZE, OWNER_SELECT};
