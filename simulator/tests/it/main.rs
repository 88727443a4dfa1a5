//! Integration tests of the simulator over real sockets.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

// Shared helpers: start a simulator, connect with the ldap3 crate.
mod support;

// The ldap3 crate as a real client: binds, every operation, controls, paging.
mod ldap3_client;

// Hostile and broken input over raw TCP: the server answers or disconnects, never hangs.
mod bad_input;

// OpenLDAP's command line tools over LDAPS and StartTLS.
mod openldap_tools;

// Python's ldap3 package over LDAPS and StartTLS.
mod python_ldap3;

// The adsim binary: listeners, seed and dump.
mod adsim;

// AD semantics: schema levels, content rules, ACLs from nTSecurityDescriptor, faults, several forests.
mod ad_semantics;

// A forest of three domains: each DC's own NC, referrals, continuation references, the global catalog, ACLs across domains.
mod forest_domains;

// A slow reader over LDAPS: every response reaches it, however full its socket was.
mod slow_reader;

// The fake Entra tenant over HTTPS with curl, python requests and the adsim command line.
mod entra;
// What no client can do: overflow range options, stall with many values, bloat with half-sent messages.
mod robustness;
