//! Reads a forest back and checks it against Microsoft's device writeback troubleshooting
//! list; returns a [`Report`] of plain data.
//!
//! The pieces:
//! - [`Observed`] (module [`observed`]): the forest's state as plain data: the client crate's
//!   forest observation (the one prepare plans from) plus what only verify reads. Tests build
//!   it by hand; against a directory [`collect()`] fills it.
//! - [`run`] (module [`checks`]): pure functions from `Observed` to the checks, in a fixed
//!   order with stable ids ([`checks::ids`]).
//! - [`collect()`] (module [`collect`]): fills `Observed` from a live directory through the
//!   client crate's shared forest observation, plus what only verify needs (connector bind,
//!   ACE trustee names, device ids).
//! - [`Report`] (module [`report`]): serde data, each check with a status, evidence and a
//!   concrete remedy; [`render`] shows it for people.
//!
//! What this crate deliberately does not do: it never writes to the directory (`verify --fix`
//! is the command line handing failures to prepare's planner), never prints, and does not know
//! the Entra export format (expected device ids come in as plain GUIDs).

pub mod checks;
pub mod collect;
pub mod error;
pub mod observed;
mod remedies;
pub mod render;
pub mod report;

pub use checks::{ids, run, Expected, Invocation};
pub use collect::{collect, CollectOptions};
pub use error::{Error, ErrorKind};
pub use observed::{
    BindAttempt, ConnectorObservation, ForestObservation, Observed, ObservedObject,
    RegistrationService, SchemaObservation,
};
pub use render::{render, RenderOptions};
pub use report::{Check, Evidence, Fixable, Outcome, Remedy, Report, Status};
