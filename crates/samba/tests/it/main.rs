//! devwb-samba's integration tests: real containers, queried over LDAPS with the ldap3 crate and with
//! OpenLDAP's `ldapsearch`. Each test first checks that Docker and the image are there, and when they
//! are not, prints why and returns without running.

#![allow(clippy::print_stderr)]

// Starting containers and reading the rootDSE and schema of each base schema.
mod rootdse;
// The transport rules: simple binds need TLS (LDAPS or StartTLS).
mod transport;

/// The reason the Samba suite cannot run here, printed once per test; `None` when it can.
pub fn samba_suite_skip_reason(test: &str) -> Option<String> {
    match devwb_samba::docker_available() {
        Ok(()) => None,
        Err(why) => {
            eprintln!("samba suite did not run ({test}): {why}");
            Some(why)
        }
    }
}

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
