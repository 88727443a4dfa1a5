//! Integration tests of the client against the in-process simulator: real LDAP over a socket.

// Set-up helpers outside #[test] functions panic on failure by design: a broken set-up is a failed test.
#![allow(clippy::unwrap_used)]

// Connecting over LDAPS and StartTLS, certificate checks, bind name forms, bind failures.
mod connect;
// Paged search, rootDSE, schema discovery.
mod search;
// Security descriptors through the SD flags control.
mod sd;
// Account names to DN and SID; forest membership.
mod account;
// Bulk apply: concurrency, already-existing entries, failures with the server's code.
mod apply;
// observe_device_registration on a fresh and a prepared-by-hand forest.
mod observe;
// A forest of several domains: each domain's DC and the global catalog.
mod forest;
// Shared set-up.
mod support;
