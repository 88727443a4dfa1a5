//! `devwb sync --once` from the fake Entra tenant into a real directory: the full round, then one
//! delta round after a device is added, one disabled and one deleted in the tenant. Run on the
//! simulator and on a Samba AD DC in a container (when Docker can run one here; otherwise the
//! Samba test says plainly that it did not run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use devwb_e2e::{Backend, BackendForest};
use devwb_model::SchemaLevel;
use devwb_simulator::entra::{EntraHandle, EntraTenant, DEFAULT_CLIENT_ID};

const CONNECTOR: &str = "svc-devwb";
const CONNECTOR_PASSWORD: &str = "Connector-Passw0rd!1";
const CLIENT_SECRET: &str = "sync-test-secret";
const DEVICES: u64 = 60;

/// Files the command lines need, in one temporary directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a file");
        path
    }
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// The connection options of `forest` for the devwb binary, bound as `bind`.
fn connection(forest: &BackendForest, files: &Files, bind: &str, password: &str) -> Vec<String> {
    let password_file = files.write(
        &format!("{}.pw", bind.replace(['\\', '@', ','], "_")),
        password,
    );
    let mut args = vec![
        "--url".to_owned(),
        forest.ldaps_url.clone(),
        "--bind".to_owned(),
        bind.to_owned(),
        "--password-file".to_owned(),
        text(&password_file),
    ];
    match forest.ca_pem_path() {
        Some(ca) => args.extend(["--ca-file".to_owned(), text(ca)]),
        // Samba's certificate is self-signed by its own provisioning: the test says so.
        None => args.push("--insecure-skip-verify".to_owned()),
    }
    args
}

fn devwb(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devwb"))
        .args(args)
        .env_remove("DEVWB_PASSWORD")
        .env_remove("DEVWB_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .output()
        .expect("devwb runs")
}

fn assert_ran(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} exited {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `(CN, msDS-IsEnabled)` of every device in the container, sorted.
fn devices_in(forest: &BackendForest) -> Vec<(String, String)> {
    let admin = forest.admin_client().expect("admin binds");
    let container =
        devwb_model::Dn::parse(&format!("CN=RegisteredDevices,{}", forest.domain)).expect("DN");
    crate::support::device_states(&admin, &container)
}

// A container test that cannot run says so on standard error, where cargo shows it.
#[allow(clippy::print_stderr)]
fn check(backend: Backend) {
    if let Some(why) = backend.unavailable() {
        eprintln!("sync on {backend:?} did NOT run: {why}");
        return;
    }
    let forest = backend
        .start(SchemaLevel::W2012R2, devwb_e2e::Shape::OneDomain)
        .expect("forest starts");
    let files = Files {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    forest
        .create_user(CONNECTOR, CONNECTOR_PASSWORD)
        .expect("connector account");
    let connector = format!("{}\\{CONNECTOR}", forest.netbios);
    let mut prepare = vec!["prepare".to_owned()];
    prepare.extend(connection(
        &forest,
        &files,
        &forest.admin.bind_name,
        forest.admin.password.expose(),
    ));
    prepare.extend(["--connector-account".to_owned(), connector.clone()]);
    assert_ran(&devwb(&prepare), "prepare");

    let tenant: EntraHandle = EntraTenant::builder()
        .client_secret(DEFAULT_CLIENT_ID, CLIENT_SECRET)
        .synthetic_devices(DEVICES, 5, forest.domain_sid().expect("domain SID"))
        .start_blocking()
        .expect("fake tenant starts");
    let graph_ca = files.write("graph-ca.pem", tenant.certificate_pem());
    let secret = files.write("client.secret", CLIENT_SECRET);
    let mut sync = vec!["sync".to_owned()];
    sync.extend(connection(&forest, &files, &connector, CONNECTOR_PASSWORD));
    for (flag, value) in [
        ("--tenant", tenant.tenant_id().to_owned()),
        ("--client-id", DEFAULT_CLIENT_ID.to_owned()),
        ("--client-secret-file", text(&secret)),
        ("--authority", tenant.url()),
        ("--graph-url", tenant.url()),
        ("--graph-ca-file", text(&graph_ca)),
        ("--state-dir", text(&files.dir.path().join("state"))),
        ("--undo-dir", text(&files.dir.path().join("undo"))),
    ] {
        sync.extend([flag.to_owned(), value]);
    }
    sync.push("--once".to_owned());

    let full = assert_ran(&devwb(&sync), "the full round");
    assert!(
        full.contains(&format!(
            "round 1 (full): {DEVICES} changes seen, {DEVICES} applied ({DEVICES} added"
        )),
        "{full}"
    );
    let before = devices_in(&forest);
    assert_eq!(before.len() as u64, DEVICES);

    // A device added, one disabled, one deleted in the tenant.
    let enabled: Vec<String> = tenant
        .device_ids()
        .into_iter()
        .filter(|id| {
            tenant
                .device_json(id)
                .is_some_and(|d| d["accountEnabled"] == true)
        })
        .collect();
    let (disabled, deleted) = (&enabled[0], &enabled[1]);
    let disabled_device = tenant.device_json(disabled).expect("a device");
    let deleted_device = tenant.device_json(deleted).expect("a device");
    let mut added = disabled_device.clone();
    added["id"] = "5ea0a000-0000-4000-8000-000000000001".into();
    added["deviceId"] = "5ea0a000-0000-4000-8000-0000000000d1".into();
    added["displayName"] = "SYNC-TEST-NEW".into();
    added["accountEnabled"] = true.into();
    tenant.put_device_json(&added).expect("add a device");
    tenant
        .set_account_enabled(disabled, false)
        .expect("disable");
    tenant.delete_device(deleted).expect("delete");

    let delta = assert_ran(&devwb(&sync), "the delta round");
    assert!(
        delta.contains(
            "round 2 (delta): 3 changes seen, 3 applied (1 added, 1 modified, 1 deleted)"
        ),
        "{delta}"
    );
    let after = devices_in(&forest);
    let device_id = |d: &serde_json::Value| {
        d["deviceId"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let mut expected: Vec<(String, String)> = before
        .into_iter()
        .filter(|(cn, _)| *cn != device_id(&deleted_device))
        .map(|(cn, enabled)| {
            let enabled = if cn == device_id(&disabled_device) {
                "FALSE".to_owned()
            } else {
                enabled
            };
            (cn, enabled)
        })
        .collect();
    expected.push((device_id(&added), "TRUE".to_owned()));
    expected.sort();
    assert_eq!(after, expected);
}

#[test]
fn sync_full_then_delta_round_into_the_simulator() {
    check(Backend::Simulator);
}

#[test]
fn sync_full_then_delta_round_into_samba() {
    check(Backend::Samba);
}
