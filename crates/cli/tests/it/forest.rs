//! `devwb writeback` against a forest of three simulated domains, connected to the root
//! domain's DC while the device container lives in a child domain: the container is found
//! through the forest's configuration, written through the child's DC (the referral the root's
//! DC answers with), and its owners of every domain of the forest are in scope.

use std::process::Command;

use devwb_test_support::{ids_of, preparation_ldif, Lab};

#[test]
fn writeback_reaches_a_container_in_a_child_domain_through_the_root_s_dc() {
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .simulator(|sim| sim.admin_password("Forest-Cli-1!"))
        .start();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    // Prepared for the child domain: msDS-DeviceLocation names its container.
    lab.sim
        .apply_ldif(&preparation_ldif(
            &emea.domain_dn.to_string(),
            &lab.sim.config_dn(),
        ))
        .expect("preparation for emea.contoso.lab");
    let devices = lab.devices(40, 7);
    let export = lab.write_export(
        "devices.json",
        devices.iter().map(|device| device.to_json()),
    );
    let ca_file = lab.write_ca_file();
    let password_file = lab.work_dir().join("admin.pw");
    std::fs::write(&password_file, "Forest-Cli-1!\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_devwb"))
        .arg("writeback")
        .args(["--url", &lab.sim.ldaps_url()])
        .args(["--ca-file", &ca_file.display().to_string()])
        .args(["--bind", &lab.sim.admin_dn()])
        .args(["--password-file", &password_file.display().to_string()])
        .args(["--export", &export.display().to_string()])
        .args([
            "--undo-dir",
            &lab.work_dir().join("undo").display().to_string(),
        ])
        .args(["--yes", "--json"])
        .env_remove("DEVWB_PASSWORD")
        .env_remove("RUST_LOG")
        .output()
        .expect("devwb runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(
        report["plan"]["container"],
        format!("CN=RegisteredDevices,{}", emea.domain_dn)
    );
    assert_eq!(report["applied"]["added"], 40, "{stdout}");
    // Read back on the child's own DC.
    let child = lab.client_on(
        "emea.contoso.lab",
        "Administrator@emea.contoso.lab",
        "Forest-Cli-1!",
    );
    let container = emea
        .domain_dn
        .child(devwb_model::Rdn::new("CN", "RegisteredDevices").unwrap());
    let mut found: Vec<String> = child
        .search(
            &container,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=msDS-Device)",
            &["cn"],
        )
        .unwrap()
        .iter()
        .filter_map(|entry| entry.first_str("cn").map(str::to_string))
        .collect();
    found.sort();
    assert_eq!(found, ids_of(&devices));
}
