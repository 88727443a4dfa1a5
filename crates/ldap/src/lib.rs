//! The LDAP client side of devwb: connect over LDAPS or StartTLS (rustls), bind by DN, UPN or
//! `DOMAIN\user`, read the rootDSE, search with paging, read and write `nTSecurityDescriptor`
//! with AD's SD flags control, resolve account names, observe a forest's device registration
//! setup, and apply batches of changes with bounded concurrency and retries. It wraps the
//! ldap3 crate.
//!
//! The API is blocking ([`Client`] owns a small tokio runtime); bulk writes pipeline many
//! operations over several connections inside it. Results carry the server's code and
//! diagnostic text ([`Error`], [`ChangeOutcome`]).
//!
//! It deliberately decides nothing about device writeback policy: what to create, what counts
//! as a failed check, how to converge an existing device is for `prepare`, `verify` and
//! `writeback`. Passwords never appear in `Debug` output, errors or logs.
//!
//! ```no_run
//! use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
//! # fn main() -> Result<(), devwb_ldap::Error> {
//! let options = ConnectOptions::new("ldaps://dc1.contoso.lab")?.with_ca_file("/etc/ssl/contoso-ca.pem");
//! let credentials = Credentials::new("CONTOSO\\admin", Password::new("..."));
//! let client = Client::connect(&options, Some(&credentials))?;
//! let root = client.root_dse()?;
//! let observation = devwb_ldap::observe::observe_device_registration(&client, None, None)?;
//! # let _ = (root, observation);
//! # Ok(()) }
//! ```

pub mod account;
pub mod apply;
pub mod change;
pub mod client;
pub mod connect;
pub mod controls;
pub mod entry;
pub mod error;
pub mod gc;
pub mod observe;
pub mod referral;
pub mod rootdse;
pub mod sd;

pub use account::{Account, AccountName, ForestDomain, ForestDomains};
pub use apply::{
    ApplyOptions, ApplyProgress, ApplyReport, ChangeOutcome, ChangeStatus, OperationCounts,
    RetryPolicy,
};
pub use change::{Attributes, Change, Modification};
pub use client::{Client, DEFAULT_PAGE_SIZE};
pub use connect::{ConnectOptions, Credentials, Password, Tls};
pub use entry::{Entry, RawEntry};
pub use error::{result_code_name, CertificateProblem, Error, ErrorKind, Operation, Result};
pub use gc::{GlobalCatalog, GlobalCatalogOrigin};
pub use ldap3::Scope;
pub use observe::{
    observe_device_registration, observe_device_registration_in, ForestObservation, ObservedObject,
    PreparationDns, RegistrationService,
};
pub use rootdse::{RootDse, SchemaVersion};
