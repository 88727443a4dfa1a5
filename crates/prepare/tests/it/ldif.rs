use std::process::Command;

use devwb_prepare::render_ldif;

use crate::support::{fresh_2012r2, prepared_state, PrepareLab};

fn ldapmodify_available() -> bool {
    Command::new("ldapmodify").arg("-VV").output().is_ok()
}

/// Applies `ldif` to `forest` with OpenLDAP's ldapmodify over LDAPS, bound as the admin.
fn ldapmodify(forest: &PrepareLab, ldif: &str) -> std::process::Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), ldif).unwrap();
    Command::new("ldapmodify")
        .env("LDAPTLS_CACERT", forest.write_ca_file())
        .env("LDAPTLS_REQCERT", "demand")
        .args([
            "-x",
            "-H",
            &forest.sim.ldaps_url(),
            "-D",
            &forest.sim.admin_dn(),
            "-w",
            forest.sim.admin_password(),
        ])
        .arg("-f")
        .arg(file.path())
        .output()
        .unwrap()
}

#[test]
fn the_emitted_ldif_applied_with_ldapmodify_gives_the_same_forest_as_prepare() {
    if !ldapmodify_available() {
        eprintln!("NOT RUN: ldapmodify (Debian package ldap-utils) is not installed");
        return;
    }
    // Two fresh forests with the same seed: the same SIDs and GUIDs.
    let by_prepare = fresh_2012r2();
    let by_ldif = fresh_2012r2();
    assert_eq!(
        by_prepare.sim.domain_sid(),
        by_ldif.sim.domain_sid(),
        "seeded forests must match"
    );

    let ldif = render_ldif(&by_ldif.plan());
    let output = ldapmodify(&by_ldif, &ldif);
    assert!(
        output.status.success(),
        "ldapmodify failed:\n{}\n{}\n--- LDIF ---\n{ldif}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    by_prepare.prepare();
    assert_eq!(
        prepared_state(&by_ldif.observe()),
        prepared_state(&by_prepare.observe())
    );
    assert!(
        by_ldif.plan().is_empty(),
        "after the LDIF, prepare plans nothing"
    );
}

#[test]
fn the_ldif_of_a_partial_forest_repairs_it_like_prepare() {
    if !ldapmodify_available() {
        eprintln!("NOT RUN: ldapmodify (Debian package ldap-utils) is not installed");
        return;
    }
    let by_prepare = fresh_2012r2();
    let by_ldif = fresh_2012r2();
    // The same partial state in both: RegisteredDevices made by hand, without the grant.
    for forest in [&by_prepare, &by_ldif] {
        forest
            .admin
            .add(
                &devwb_model::Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap(),
                vec![("objectClass".into(), vec![b"msDS-DeviceContainer".to_vec()])],
            )
            .unwrap();
    }
    let ldif = render_ldif(&by_ldif.plan());
    assert!(
        ldif.contains("control: 1.2.840.113556.1.4.801 true:: MAMCAQQ="),
        "{ldif}"
    );
    let output = ldapmodify(&by_ldif, &ldif);
    assert!(
        output.status.success(),
        "ldapmodify failed: {}\n{ldif}",
        String::from_utf8_lossy(&output.stderr)
    );
    by_prepare.prepare();
    assert_eq!(
        prepared_state(&by_ldif.observe()),
        prepared_state(&by_prepare.observe())
    );
}
