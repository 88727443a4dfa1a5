//! Helpers shared by the integration tests.

use std::sync::OnceLock;

use devwb_simulator::{SimHandle, Simulator};
use ldap3::{LdapConn, LdapConnSettings};

/// A simulator for one test: `contoso.lab`, deterministic ids.
pub fn start() -> SimHandle {
    Simulator::builder()
        .seed(7)
        .start_blocking()
        .expect("simulator starts")
}

/// A simulator that accepts simple binds over plain LDAP.
pub fn start_plain() -> SimHandle {
    Simulator::builder()
        .seed(7)
        .allow_plain_bind(true)
        .start_blocking()
        .expect("simulator starts")
}

fn settings() -> LdapConnSettings {
    LdapConnSettings::new().set_no_tls_verify(true)
}

/// An LDAPS connection bound as the Administrator.
pub fn admin(sim: &SimHandle) -> LdapConn {
    let mut conn =
        LdapConn::with_settings(settings(), &sim.ldaps_url()).expect("connects over LDAPS");
    conn.simple_bind(&sim.admin_dn(), sim.admin_password())
        .expect("bind sent")
        .success()
        .expect("admin bind succeeds");
    conn
}

/// An unbound connection to `url` (LDAPS or plain), optionally with StartTLS.
pub fn connect(url: &str, starttls: bool) -> LdapConn {
    LdapConn::with_settings(settings().set_starttls(starttls), url).expect("connects")
}

/// Whether a program is on PATH.
pub fn have_program(name: &str) -> bool {
    static PATHS: OnceLock<Vec<std::path::PathBuf>> = OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default()
    });
    paths.iter().any(|dir| dir.join(name).is_file())
}
