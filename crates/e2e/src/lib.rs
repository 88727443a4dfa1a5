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
//! internals, so the same code proves both. One exception: to take a domain's DC down, the
//! simulator's handle makes its listener refuse connections.
//!
//! Forests of several domains ([`Shape::ThreeDomains`]) run on the simulator only: Samba cannot
//! host child domains in a container here, and the table says so when it skips those rows.

pub mod backend;
pub mod forest;
pub mod scenarios;

pub use backend::{Backend, BackendDomain, BackendForest, Shape};

/// What went wrong in a scenario: a sentence naming the step and what was seen.
pub type Outcome = Result<(), String>;
