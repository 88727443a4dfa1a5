//! An in-process LDAP server that behaves like Active Directory where device writeback
//! tooling cares: AD's forest shape, rootDSE, generated attributes, controls, result codes and
//! diagnostic texts, LDAPS and StartTLS, and (in [`semantics`]) schema and access rules.
//!
//! ```no_run
//! use devwb_model::SchemaLevel;
//! use devwb_simulator::Simulator;
//!
//! let sim = Simulator::builder()
//!     .forest("contoso.lab")
//!     .schema_level(SchemaLevel::W2012R2)
//!     .allow_plain_bind(false)
//!     .start_blocking()?;
//! let url = sim.ldaps_url(); // ldaps://127.0.0.1:<port>, self-signed certificate
//! let (admin, password) = (sim.admin_dn(), sim.admin_password().to_string());
//! let (connector_dn, connector_sid) = sim.add_user("svc-connector", "Passw0rd!")?;
//! # Ok::<(), devwb_simulator::SimError>(())
//! ```
//!
//! In async code, `Simulator::builder()...start().await` runs on the caller's runtime.
//! Dropping the [`SimHandle`] shuts the server down. See `simulator/README.md`.
//!
//! Layout: [`request`] (the request vocabulary every layer shares), [`codec`] (framing,
//! decoding, response encoding), [`handler`] (one request in, responses out, no sockets),
//! [`store`] (entries and indexes), [`names`] and [`forest`] (AD's shape and generated
//! attributes), [`filter`], [`semantics`] (faults, access and content rules, over [`schema`]
//! and [`security`]), [`transport`] (TCP, TLS), [`ldif`], [`server`] (builder and handle), and
//! [`entra`], a fake Entra tenant (token endpoint and Microsoft Graph devices, delta and users
//! over HTTPS). The modules import each other without a cycle (`cargo test -p devwb-simulator
//! --test it module_cycles`); ARCHITECTURE.md walks the request path through them.
//! A forest may have several domains ([`SimulatorBuilder::domain`]): one store for every naming
//! context, one DC (listeners and a [`handler::Handler`] of its own) per domain holding its own
//! domain NC plus configuration and schema and referring the others, and a read-only global
//! catalog. What it deliberately does not do: replication (writes through one DC are visible
//! at once through every other), Kerberos/NTLM/SASL binds, chasing referrals, tombstones.

mod background;
pub mod clock;
pub mod codec;
pub mod entra;
pub mod error;
pub mod faults;
pub mod filter;
pub mod forest;
pub mod handler;
pub mod ldif;
pub mod names;
pub mod request;
pub mod schema;
pub mod security;
pub mod semantics;
pub mod server;
pub mod store;
pub mod transport;

pub use error::{OpError, ResultCode, SimError};
pub use handler::{DcRole, Endpoints};
pub use names::{DomainNames, ForestNames};
pub use server::{SimHandle, Simulator, SimulatorBuilder};
