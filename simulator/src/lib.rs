//! An in-process LDAP server that behaves like Active Directory where device writeback tooling cares.

pub mod clock;
pub mod codec;
pub mod error;
pub mod filter;
pub mod forest;
pub mod handler;
pub mod semantics;
pub mod store;
