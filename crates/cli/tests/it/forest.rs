//! `devwb writeback` against a forest of three simulated domains, connected to the root
//! domain's DC while the device container lives in a child domain: the container is found
//! through the forest's configuration, written through the child's DC (the referral the root's
//! DC answers with), and its owners of every domain of the forest are in scope.

use std::process::Command;

use devwb_test_support::{ids_of, preparation_ldif, Lab};
use devwb_writeback::synthetic::{SyntheticConfig, SyntheticDevices};

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

/// Runs the built `devwb` against the root domain's DC of `lab`, bound as `bind`.
fn devwb(lab: &Lab, bind: &str, password: &str, subcommand: &str, args: &[&str]) -> (bool, String) {
    let ca_file = lab.write_ca_file();
    let password_file = lab
        .work_dir()
        .join(format!("{}.pw", bind.replace(['\\', '@', ',', '='], "_")));
    std::fs::write(&password_file, format!("{password}\n")).expect("write the password file");
    let output = Command::new(env!("CARGO_BIN_EXE_devwb"))
        .arg(subcommand)
        .args(["--url", &lab.sim.ldaps_url()])
        .args(["--ca-file", &ca_file.display().to_string()])
        .args(["--bind", bind])
        .args(["--password-file", &password_file.display().to_string()])
        .args(args)
        .env_remove("DEVWB_PASSWORD")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("devwb runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `devwb prepare --domain emea.contoso.lab` for the connector `CONTOSO\svc-aadc`, as `admin`.
fn prepare_emea(lab: &Lab, admin: &str, password: &str) {
    let (ok, text) = devwb(
        lab,
        admin,
        password,
        "prepare",
        &[
            "--domain",
            "emea.contoso.lab",
            "--connector-account",
            "CONTOSO\\svc-aadc",
        ],
    );
    assert!(ok, "prepare: {text}");
}

#[test]
fn prepare_verify_and_writeback_for_a_child_domain_with_the_connector_in_the_root() {
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .connector("svc-aadc", "Connector-Pa55word!")
        .simulator(|sim| sim.admin_password("Forest-Cli-2!"))
        .start();
    let admin = lab.sim.admin_dn();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    prepare_emea(&lab, &admin, "Forest-Cli-2!");
    let (ok, text) = devwb(
        &lab,
        &admin,
        "Forest-Cli-2!",
        "verify",
        &[
            "--domain",
            "emea.contoso.lab",
            "--connector-account",
            "CONTOSO\\svc-aadc",
        ],
    );
    assert!(ok, "verify: {text}");
    // Owners spread over the three domains of the forest, and a fifth of them from another
    // forest: those devices are out of scope (the single-forest rule), the others written.
    let domain_sid = |name: &str| lab.sim.domain(name).unwrap().domain_sid;
    let foreign = devwb_model::Sid::parse("S-1-5-21-111111111-222222222-333333333").unwrap();
    let config = SyntheticConfig {
        owner_domains: vec![
            domain_sid("contoso.lab"),
            domain_sid("emea.contoso.lab"),
            domain_sid("fabrikam.lab"),
        ],
        foreign_domains: vec![foreign],
        foreign_fraction: 0.2,
        ..SyntheticConfig::new(60, 11, domain_sid("contoso.lab"))
    };
    let devices: Vec<_> = SyntheticDevices::new(config).collect();
    let in_forest = devices
        .iter()
        .filter(|d| !d.owner_sid.is_in_domain(&foreign))
        .count();
    for name in ["contoso.lab", "emea.contoso.lab", "fabrikam.lab"] {
        assert!(
            devices
                .iter()
                .any(|d| d.owner_sid.is_in_domain(&domain_sid(name))),
            "an owner from {name}"
        );
    }
    assert!(in_forest < devices.len() && in_forest > 0);
    let export = lab.write_export("devices.json", devices.iter().map(|d| d.to_json()));
    let (ok, text) = devwb(
        &lab,
        "svc-aadc@contoso.lab",
        "Connector-Pa55word!",
        "writeback",
        &[
            "--export",
            &export.display().to_string(),
            "--undo-dir",
            &lab.work_dir().join("undo").display().to_string(),
            "--yes",
        ],
    );
    assert!(ok, "writeback as the connector: {text}");
    let child = lab.client_on(
        "emea.contoso.lab",
        "Administrator@emea.contoso.lab",
        "Forest-Cli-2!",
    );
    let container = emea
        .domain_dn
        .child(devwb_model::Rdn::new("CN", "RegisteredDevices").unwrap());
    let written = child
        .search(
            &container,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=msDS-Device)",
            &["1.1"],
        )
        .unwrap();
    assert_eq!(written.len(), in_forest, "{text}");
    // Empty, partial and cut exports delete nothing from the child domain's container either:
    // the delete guards are the planner's, whichever DC the writes go to.
    let empty = lab.work_dir().join("empty.json");
    std::fs::write(&empty, "{\"value\": []}").expect("write the empty export");
    let partial = lab.write_export("partial.json", devices[..3].iter().map(|d| d.to_json()));
    let cut = lab.work_dir().join("cut.json");
    let whole = std::fs::read_to_string(&export).expect("read the export");
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write the cut export");
    for bad in [&empty, &partial, &cut] {
        let (ok, text) = devwb(
            &lab,
            "svc-aadc@contoso.lab",
            "Connector-Pa55word!",
            "writeback",
            &[
                "--export",
                &bad.display().to_string(),
                "--undo-dir",
                &lab.work_dir().join("undo").display().to_string(),
                "--yes",
            ],
        );
        assert!(
            !ok,
            "{} is refused or withholds its deletes: {text}",
            bad.display()
        );
        let left = child
            .search(
                &container,
                devwb_ldap::Scope::OneLevel,
                "(objectClass=msDS-Device)",
                &["1.1"],
            )
            .unwrap();
        assert_eq!(left.len(), in_forest, "{}: {text}", bad.display());
    }
}

/// `devwb sync --once` from the fake tenant, connected to the root domain's DC with the
/// connector in the root, into a child domain's container: the full round writes every device
/// through the child's DC, and a delta round applies a disable and a delete there.
#[test]
fn sync_rounds_reach_a_child_domain_s_container_through_the_root_s_dc() {
    use devwb_simulator::entra::{EntraTenant, DEFAULT_CLIENT_ID};
    const SECRET: &str = "forest-sync-tenant-secret";
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .connector("svc-aadc", "Connector-Pa55word!")
        .simulator(|sim| sim.admin_password("Forest-Cli-3!"))
        .start();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    prepare_emea(&lab, &lab.sim.admin_dn(), "Forest-Cli-3!");
    // The tenant's device owners are users of the child domain.
    let entra = EntraTenant::builder()
        .client_secret(DEFAULT_CLIENT_ID, SECRET)
        .synthetic_devices(25, 5, emea.domain_sid)
        .start_blocking()
        .expect("fake tenant starts");
    let secret_file = lab.work_dir().join("client.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let graph_ca = lab.work_dir().join("entra-ca.pem");
    std::fs::write(&graph_ca, entra.certificate_pem()).unwrap();
    let url = entra.url();
    let state_dir = lab.work_dir().join("state").display().to_string();
    let undo_dir = lab.work_dir().join("undo").display().to_string();
    let secret_path = secret_file.display().to_string();
    let graph_ca_path = graph_ca.display().to_string();
    let sync_args = [
        "--tenant",
        entra.tenant().tenant_id(),
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--client-secret-file",
        &secret_path,
        "--authority",
        &url,
        "--graph-url",
        &url,
        "--graph-ca-file",
        &graph_ca_path,
        "--state-dir",
        &state_dir,
        "--undo-dir",
        &undo_dir,
        "--once",
        "--json",
    ];
    let round = |what: &str| -> serde_json::Value {
        let (ok, text) = devwb(
            &lab,
            "svc-aadc@contoso.lab",
            "Connector-Pa55word!",
            "sync",
            &sync_args,
        );
        assert!(ok, "{what}: {text}");
        let line = text
            .lines()
            .find(|line| line.starts_with('{'))
            .unwrap_or_else(|| panic!("{what}: no round line in {text}"));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: {e}: {line}"))
    };
    let child = lab.client_on(
        "emea.contoso.lab",
        "Administrator@emea.contoso.lab",
        "Forest-Cli-3!",
    );
    let container = emea
        .domain_dn
        .child(devwb_model::Rdn::new("CN", "RegisteredDevices").unwrap());
    let enabled_in_child = || -> Vec<(String, bool)> {
        crate::support::device_states(&child, &container)
            .into_iter()
            .map(|(cn, enabled)| (cn, enabled == "TRUE"))
            .collect()
    };

    let full = round("the full round");
    assert_eq!(full["kind"], "full", "{full}");
    assert_eq!(full["added"], 25, "{full}");
    assert_eq!(enabled_in_child().len(), 25);

    let tenant = entra.tenant();
    let ids = tenant.device_ids();
    let device_id = |id: &str| {
        tenant.device_json(id).unwrap()["deviceId"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
    };
    let (disabled, deleted) = (device_id(&ids[2]), device_id(&ids[7]));
    tenant.set_account_enabled(&ids[2], false).unwrap();
    tenant.delete_device(&ids[7]).unwrap();
    let delta = round("the delta round");
    assert_eq!(delta["kind"], "delta", "{delta}");
    assert_eq!(
        (&delta["modified"], &delta["deleted"], &delta["failed"]),
        (&1.into(), &1.into(), &0.into()),
        "{delta}"
    );
    let now = enabled_in_child();
    assert_eq!(now.len(), 24);
    assert!(now.iter().all(|(cn, _)| *cn != deleted));
    assert!(now.contains(&(disabled, false)), "{now:?}");
}
