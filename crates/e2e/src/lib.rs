//! End-to-end scenarios of device writeback, written once and run against two backends: the
//! in-process simulator and a real Samba AD domain controller in a container.
//!
//! A scenario is a function from a fresh [`BackendForest`] to a [`Outcome`]; the table
//! [`scenarios::ALL`] lists them with the schema level each needs. The integration tests run the
//! table against each backend. Where the backends are known to answer differently, the scenario
//! says which difference it tolerates and why, and `docs/simulator-vs-samba.md` lists it.
//!
//! This crate drives the libraries (`devwb-prepare`, `devwb-verify`, `devwb-writeback`) through
//! `devwb-ldap` over LDAPS, exactly as the command line does; it never reaches into a backend's
//! internals, so the same code proves both.

pub mod backend;
pub mod scenarios;

pub use backend::{Backend, BackendForest};

/// What went wrong in a scenario: a sentence naming the step and what was seen.
pub type Outcome = Result<(), String>;
