//! A testcontainers module for a Samba AD domain controller, for devwb's integration tests.
//!
//! [`SambaDc`] is an [`Image`](testcontainers::Image) in the shape of the community modules: a pinned
//! [`NAME`] and [`TAG`], `with_*` builders that document their defaults, a `Default` that runs, a
//! precise readiness condition, and the container removed when its handle is dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), devwb_samba::Error> {
//! use devwb_samba::{BaseSchema, SambaDc};
//!
//! if let Err(why) = devwb_samba::docker_available() {
//!     // A test prints this and returns: the Samba suite did not run, and here is why.
//!     let _ = why;
//!     return Ok(());
//! }
//! let dc = SambaDc::default().with_base_schema(BaseSchema::W2008R2).start().await?;
//! let endpoint = dc.endpoint();
//! // Bind to endpoint.ldaps_url() as endpoint.admin_bind_dn() with endpoint.admin_password().
//! # let _ = endpoint;
//! # Ok(())
//! # }
//! ```
//!
//! **Readiness.** The image's entrypoint provisions the domain, starts Samba, and queries the rootDSE
//! over LDAPS with `ldapsearch -H ldaps://127.0.0.1 -x -b '' -s base` inside the container until it
//! returns `defaultNamingContext`; only then does it print [`READY_LINE`], which is what this module
//! waits for. So "ready" means an LDAPS rootDSE query has succeeded, not that some time has passed.
//!
//! **Ports** 389 (LDAP, for StartTLS) and 636 (LDAPS) are published on the host's loopback address
//! only, on ports Docker chooses, by [`SambaDc::start`] and [`SambaDc::start_blocking`]. (Starting the
//! image through testcontainers' own runners also works, but publishes on every interface.)
//!
//! The image is built by `cargo xtask samba-image` (no registry needed) or from `docker/samba/Dockerfile`;
//! this crate never builds it. [`docker_available`] says plainly why a test cannot run.
//!
//! What it deliberately does not do: talk LDAP (tests bring their own client), or provision anything
//! beyond what `samba-tool domain provision` creates.

mod docker;
mod endpoint;
mod error;
mod image;
mod start;

pub use docker::docker_available;
pub use endpoint::Endpoint;
pub use error::Error;
pub use image::{BaseSchema, SambaDc, LDAPS_PORT, LDAP_PORT, NAME, READY_LINE, TAG};
pub use start::{BlockingSambaDc, RunningSambaDc};
