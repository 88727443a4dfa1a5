//! End-to-end tests of prepare against the in-process simulator (real LDAP over LDAPS).

// Set-up helpers outside #[test] functions panic on failure by design: a broken set-up is a failed test.
#![allow(clippy::unwrap_used)]

// A fresh forest: prepare, then a second prepare plans nothing; partial states are repaired.
mod converge;
// What the simulator's ACLs say about the grant: the connector can create devices after prepare.
mod access;
// Refusals: schema 2008 R2, duplicate DeviceRegistrationService, a connector from another forest.
mod refuse;
// The emitted LDIF applied with OpenLDAP's ldapmodify gives the same forest as prepare itself.
mod ldif;
// Shared set-up.
mod support;
