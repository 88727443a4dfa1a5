//! `devwb writeback --tenant` and `devwb sync` through the built binary, against a simulator
//! forest and the simulator's fake Entra tenant (HTTPS, tokens, devices, delta, owners): a full
//! run, delta rounds that apply only what changed, removed devices, the state file, withheld
//! deletes kept pending, an expired delta link, kill -9 at any point, and SIGTERM.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use devwb_ldap::Scope;
use devwb_model::{Guid, SchemaLevel};
use devwb_simulator::entra::{
    EntraHandle, EntraTenant, GraphFaultAction, GraphFaultRule, Route, DEFAULT_CLIENT_ID,
};
use serde_json::Value;

use crate::support::{assert_success, stderr, stdout, CliLab, CONNECTOR};

const SECRET: &str = "fake-tenant-secret-for-tests";
/// The simulator's test certificate and key of the app (a certificate credential).
const APP_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../simulator/tests/data/entra-app-test.crt"
);
const APP_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../simulator/tests/data/entra-app-test.key"
);

struct Fixture {
    lab: CliLab,
    entra: EntraHandle,
    secret_file: PathBuf,
    ca_file: PathBuf,
    state_dir: PathBuf,
    undo_dir: PathBuf,
}

impl Fixture {
    /// A prepared forest and a tenant of `devices` synthetic devices owned by its users.
    fn start(devices: u64) -> Fixture {
        let lab = CliLab::start(SchemaLevel::W2016);
        lab.prepare(CONNECTOR);
        let entra = EntraTenant::builder()
            .client_secret(DEFAULT_CLIENT_ID, SECRET)
            .client_certificate_pem(
                DEFAULT_CLIENT_ID,
                std::fs::read(APP_CERT).expect("cert").as_slice(),
            )
            .synthetic_devices(devices, 11, lab.sim.domain_sid())
            .start_blocking()
            .expect("fake tenant starts");
        let secret_file = lab.work_dir().join("client.secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).expect("write secret");
        let ca_file = lab.work_dir().join("entra-ca.pem");
        std::fs::write(&ca_file, entra.certificate_pem()).expect("write CA");
        let state_dir = lab.work_dir().join("state");
        let undo_dir = lab.work_dir().join("undo");
        Fixture {
            lab,
            entra,
            secret_file,
            ca_file,
            state_dir,
            undo_dir,
        }
    }

    fn graph_args(&self) -> Vec<String> {
        let url = self.entra.url();
        [
            "--tenant",
            self.entra.tenant().tenant_id(),
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--client-secret-file",
            &self.secret_file.display().to_string(),
            "--authority",
            &url,
            "--graph-url",
            &url,
            "--graph-ca-file",
            &self.ca_file.display().to_string(),
            "--undo-dir",
            &self.undo_dir.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn sync_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = self.graph_args();
        args.extend([
            "--state-dir".to_owned(),
            self.state_dir.display().to_string(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, subcommand: &str, args: &[String]) -> Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.lab.devwb(subcommand, &args)
    }

    /// `devwb sync --once --json ...`: the exit code and the round's JSON line.
    fn once(&self, extra: &[&str]) -> (Option<i32>, Value) {
        let mut args = vec!["--once", "--json"];
        args.extend_from_slice(extra);
        let output = self.run("sync", &self.sync_args(&args));
        let text = stdout(&output);
        let line = text.lines().last().unwrap_or_default();
        let round = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "not a round line ({e}): {text}\nstderr:\n{}",
                stderr(&output)
            )
        });
        (output.status.code(), round)
    }

    /// `devwb sync` as a service, in the background.
    fn spawn(&self, extra: &[&str]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_devwb"));
        command
            .arg("sync")
            .args(self.lab.connection_args())
            .args(self.sync_args(extra))
            .env_remove("DEVWB_PASSWORD")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("devwb sync starts")
    }

    fn state(&self) -> Value {
        let text = std::fs::read(self.state_dir.join("state.json")).expect("state file");
        serde_json::from_slice(&text).expect("state is JSON")
    }

    /// deviceId -> accountEnabled of every device the tenant has.
    fn tenant_devices(&self) -> BTreeMap<String, bool> {
        let tenant = self.entra.tenant();
        tenant
            .device_ids()
            .iter()
            .filter_map(|id| tenant.device_json(id))
            .map(|d| {
                let device_id = d["deviceId"]
                    .as_str()
                    .expect("deviceId")
                    .to_ascii_lowercase();
                (device_id, d["accountEnabled"].as_bool().unwrap_or(false))
            })
            .collect()
    }

    /// deviceId -> msDS-IsEnabled of every device object in the container; panics on a
    /// duplicate device id (writeback must never make one).
    fn directory_devices(&self) -> BTreeMap<String, bool> {
        let entries = self
            .lab
            .admin_client()
            .search(
                &self.lab.device_container(),
                Scope::OneLevel,
                "(objectClass=msDS-Device)",
                &["msDS-DeviceID", "msDS-IsEnabled"],
            )
            .expect("search the container");
        let mut devices = BTreeMap::new();
        for entry in entries {
            let id = Guid::from_ad_bytes(entry.first_bytes("msDS-DeviceID").expect("an id"))
                .expect("a GUID")
                .to_string();
            let enabled = entry.first_bytes("msDS-IsEnabled") == Some(b"TRUE".as_slice());
            assert!(
                devices.insert(id.clone(), enabled).is_none(),
                "duplicate {id}"
            );
        }
        devices
    }

    /// A new device for the tenant, shaped like an existing one (same owners).
    fn new_device(&self, n: u32) -> (String, String) {
        let tenant = self.entra.tenant();
        let template = tenant.device_ids()[0].clone();
        let mut device = tenant.device_json(&template).expect("a device");
        let object_id = format!("0000aaaa-0000-4000-8000-{n:012}");
        let device_id = format!("0000bbbb-0000-4000-8000-{n:012}");
        device["id"] = object_id.clone().into();
        device["deviceId"] = device_id.clone().into();
        device["displayName"] = format!("NEW-{n}").into();
        tenant.put_device_json(&device).expect("add a device");
        (object_id, device_id)
    }
}

fn count(round: &Value, field: &str) -> u64 {
    round[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {round}"))
}

#[test]
fn writeback_from_a_live_tenant_writes_every_device_and_a_rerun_changes_nothing() {
    let fixture = Fixture::start(40);
    let mut args = fixture.graph_args();
    args.push("--json".into());
    let first = fixture.run("writeback", &args);
    assert_success(&first, "writeback --tenant");
    let outcome: Value = serde_json::from_slice(&first.stdout).expect("JSON outcome");
    assert_eq!(outcome["applied"]["added"], 40, "{outcome}");
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
    let second = fixture.run("writeback", &args);
    assert_success(&second, "writeback --tenant again");
    let outcome: Value = serde_json::from_slice(&second.stdout).expect("JSON outcome");
    assert_eq!(outcome["plan"]["counts"]["unchanged"], 40, "{outcome}");
    assert_eq!(outcome["applied"]["added"], 0, "{outcome}");

    // A certificate credential instead of the secret, as a dry run: the plan, nothing written.
    let tenant = fixture.entra.tenant();
    tenant
        .set_account_enabled(&tenant.device_ids()[0], false)
        .expect("disable");
    let mut args: Vec<String> = fixture
        .graph_args()
        .into_iter()
        .collect::<Vec<_>>()
        .chunks(2)
        .filter(|pair| pair[0] != "--client-secret-file")
        .flatten()
        .cloned()
        .collect();
    args.extend(
        [
            "--client-cert",
            APP_CERT,
            "--client-key",
            APP_KEY,
            "--dry-run",
            "--json",
        ]
        .map(str::to_owned),
    );
    let dry = fixture.run("writeback", &args);
    assert_success(&dry, "writeback --tenant --client-cert --dry-run");
    let outcome: Value = serde_json::from_slice(&dry.stdout).expect("JSON outcome");
    assert_eq!(outcome["plan"]["counts"]["modifies"], 1, "{outcome}");
    assert!(outcome["applied"].is_null(), "{outcome}");
    assert_ne!(
        fixture.directory_devices(),
        fixture.tenant_devices(),
        "nothing written"
    );

    // --export and --tenant are one or the other.
    let mut both = fixture.graph_args();
    both.extend(["--export".into(), "x.json".into()]);
    let refused = fixture.run("writeback", &both);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("cannot be used with"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn sync_once_twice_applies_only_the_change_and_deletes_a_removed_device() {
    let fixture = Fixture::start(30);
    let (code, full) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{full}");
    assert_eq!(
        (full["kind"].as_str(), count(&full, "added")),
        (Some("full"), 30)
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
    let state = fixture.state();
    let first_link = state["delta_link"]
        .as_str()
        .expect("a delta link")
        .to_owned();
    assert_eq!(state["rounds"], 1);

    // Nothing changed: an empty delta round.
    let (code, idle) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{idle}");
    assert_eq!(
        (
            idle["kind"].as_str(),
            count(&idle, "seen"),
            count(&idle, "applied")
        ),
        (Some("delta"), 0, 0)
    );

    // One device disabled, one added, one deleted in the tenant.
    let tenant = fixture.entra.tenant();
    let ids = tenant.device_ids();
    tenant.set_account_enabled(&ids[3], false).expect("disable");
    let gone = tenant.device_json(&ids[5]).expect("device")["deviceId"]
        .as_str()
        .expect("deviceId")
        .to_ascii_lowercase();
    tenant.delete_device(&ids[5]).expect("delete");
    let (_, new_device_id) = fixture.new_device(1);
    let (code, delta) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{delta}");
    assert_eq!(delta["kind"], "delta", "{delta}");
    assert_eq!(
        [
            count(&delta, "seen"),
            count(&delta, "added"),
            count(&delta, "modified"),
            count(&delta, "deleted"),
            count(&delta, "failed"),
        ],
        [3, 1, 1, 1, 0],
        "{delta}"
    );
    assert!(
        delta["undo_file"].is_string(),
        "a round that deletes writes its undo file: {delta}"
    );
    let directory = fixture.directory_devices();
    assert_eq!(directory, fixture.tenant_devices());
    assert!(directory.contains_key(&new_device_id) && !directory.contains_key(&gone));

    // The state advanced, atomically: one file, a new link, the rounds counted.
    let state = fixture.state();
    assert_ne!(state["delta_link"].as_str(), Some(first_link.as_str()));
    assert_eq!(state["rounds"], 3);
    assert_eq!(state["last_round"]["added"], 1);
    let mut files: Vec<String> = std::fs::read_dir(&fixture.state_dir)
        .expect("state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["devices.idx", "lock", "state.json"],
        "no temporary file is left"
    );
}

#[test]
fn deletes_over_the_limit_stay_pending_until_allowed_and_an_expired_link_resyncs() {
    let fixture = Fixture::start(30);
    assert_eq!(fixture.once(&[]).0, Some(0));
    let tenant = fixture.entra.tenant();
    let ids = tenant.device_ids();
    for id in &ids[..3] {
        tenant.delete_device(id).expect("delete");
    }
    let (_, added) = fixture.new_device(2);
    let link_before = fixture.state()["delta_link"].clone();
    let (code, held) = fixture.once(&["--max-deletes", "2"]);
    assert_eq!(code, Some(5), "{held}");
    assert_eq!(
        (count(&held, "deletes_withheld"), count(&held, "added")),
        (3, 1),
        "{held}"
    );
    assert_eq!(held["advanced"], false, "{held}");
    assert_eq!(
        fixture.state()["delta_link"],
        link_before,
        "the link stays: deletes pending"
    );
    assert_eq!(
        fixture.directory_devices().len(),
        31,
        "nothing deleted, the add applied"
    );
    assert!(fixture.directory_devices().contains_key(&added));

    // The same round again, the deletes allowed: they are made, the add converges. Without
    // the device index the removed devices' objects are found by their anchor instead.
    std::fs::remove_file(fixture.state_dir.join("devices.idx")).expect("remove the index");
    let (code, allowed) = fixture.once(&["--max-deletes", "none"]);
    assert_eq!(code, Some(0), "{allowed}");
    assert_eq!(
        (count(&allowed, "deleted"), count(&allowed, "failed")),
        (3, 0),
        "{allowed}"
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());

    // An expired delta link: said plainly, and a full round converges.
    tenant.expire_delta_tokens();
    tenant
        .set_account_enabled(&ids[10], false)
        .expect("disable");
    let (code, resync) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{resync}");
    assert_eq!(resync["kind"], "full", "{resync}");
    assert!(
        resync["note"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{resync}"
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());

    // A full round that withholds deletes keeps them pending: the next round is full again.
    for id in &ids[3..6] {
        tenant.delete_device(id).expect("delete");
    }
    tenant.expire_delta_tokens();
    for _ in 0..2 {
        let (code, held) = fixture.once(&["--max-deletes", "2"]);
        assert_eq!(code, Some(5), "{held}");
        assert_eq!(
            (held["kind"].as_str(), count(&held, "deletes_withheld")),
            (Some("full"), 3)
        );
        assert!(fixture.state()["delta_link"].is_null());
        assert!(fixture.state()["pending"]
            .as_str()
            .unwrap_or_default()
            .contains("full round"));
    }
    let (code, allowed) = fixture.once(&["--max-deletes", "3"]);
    assert_eq!(code, Some(0), "{allowed}");
    assert_eq!(
        (allowed["kind"].as_str(), count(&allowed, "deleted")),
        (Some("full"), 3)
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
    let (_, next) = fixture.once(&[]);
    assert_eq!(next["kind"], "delta", "{next}");
}

#[test]
fn kill_9_at_any_point_then_restart_converges_with_nothing_lost_or_duplicated() {
    let fixture = Fixture::start(300);
    let tenant = fixture.entra.tenant();
    let ids = tenant.device_ids();
    for (round, after) in [150u64, 450, 900, 1500].into_iter().enumerate() {
        let mut child = fixture.spawn(&["--interval", "100ms", "--json"]);
        std::thread::sleep(Duration::from_millis(after));
        // Changes made while the service runs, and killed at once.
        tenant
            .set_account_enabled(&ids[round], false)
            .expect("disable");
        tenant.delete_device(&ids[100 + round]).expect("delete");
        fixture.new_device(10 + round as u32);
        child.kill().expect("kill -9");
        let _ = child.wait();
    }
    // Restart: rounds until one sees no change; then the directory is the tenant.
    let started = Instant::now();
    loop {
        let (code, round) = fixture.once(&[]);
        assert_eq!(code, Some(0), "{round}");
        if round["kind"] == "delta" && count(&round, "seen") == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no convergence: {round}"
        );
    }
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
}

#[test]
fn a_fifth_of_graph_requests_throttled_changes_nothing_in_the_outcome() {
    let fixture = Fixture::start(120);
    let tenant = fixture.entra.tenant();
    // Pages of 200 by default: the full round's listings are one page each, so every request
    // (pages, delta rounds, each changed device's owners) is throttled with probability 0.2.
    tenant.push_fault(
        GraphFaultRule::always(GraphFaultAction::Throttle {
            retry_after_seconds: 0,
        })
        .on(&[Route::Devices, Route::Delta, Route::Device])
        .with_probability(0.2),
    );
    let (code, full) = fixture.once(&[]);
    assert_eq!((code, count(&full, "added")), (Some(0), 120), "{full}");
    let ids = tenant.device_ids();
    // Some synthetic devices are disabled already: disabling them again changes nothing in AD.
    let enabled = ids[..20]
        .iter()
        .filter(|id| tenant.device_json(id).expect("device")["accountEnabled"] == true)
        .count() as u64;
    for id in &ids[..20] {
        tenant.set_account_enabled(id, false).expect("disable");
    }
    for id in &ids[20..25] {
        tenant.delete_device(id).expect("delete");
    }
    for n in 0..10 {
        fixture.new_device(100 + n);
    }
    let (code, delta) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{delta}");
    assert_eq!(
        [
            count(&delta, "added"),
            count(&delta, "modified"),
            count(&delta, "deleted")
        ],
        [10, enabled, 5],
        "{delta}"
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
}

#[test]
fn a_tenant_without_sync_from_now_gets_a_whole_first_delta_round_and_loses_no_change() {
    let fixture = Fixture::start(40);
    let tenant = fixture.entra.tenant();
    tenant.push_fault(GraphFaultRule::always(
        GraphFaultAction::RefuseLatestDeltaToken,
    ));
    let output = fixture.run("sync", &fixture.sync_args(&["--once", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no delta link from now"),
        "the log says why the round reads the tenant twice: {}",
        stderr(&output)
    );
    let full: Value = serde_json::from_str(stdout(&output).lines().last().unwrap_or_default())
        .expect("a round line");
    assert_eq!(
        (full["kind"].as_str(), count(&full, "added")),
        (Some("full"), 40)
    );
    assert!(fixture.state()["delta_link"].is_string(), "{full}");
    // The link of that first round carries later changes, as one from now would.
    let ids = tenant.device_ids();
    tenant.delete_device(&ids[7]).expect("delete");
    fixture.new_device(3);
    let (code, delta) = fixture.once(&[]);
    assert_eq!(code, Some(0), "{delta}");
    assert_eq!(
        (
            delta["kind"].as_str(),
            count(&delta, "added"),
            count(&delta, "deleted")
        ),
        (Some("delta"), 1, 1),
        "{delta}"
    );
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
}

#[test]
fn sigterm_finishes_the_round_saves_the_state_and_exits_0() {
    let fixture = Fixture::start(50);
    let mut child = fixture.spawn(&["--interval", "200ms", "--json"]);
    let started = Instant::now();
    while !fixture.state_dir.join("state.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no first round"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = wait_with_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("signal received"),
        "{}",
        stderr(&output)
    );
    let state = fixture.state();
    let rounds = state["rounds"].as_u64().expect("rounds");
    let lines = stdout(&output).lines().count() as u64;
    assert!(
        rounds >= 1 && lines == rounds,
        "{rounds} rounds, {lines} lines"
    );
    assert_eq!(state["last_round"]["round"], rounds);
    assert_eq!(fixture.directory_devices(), fixture.tenant_devices());
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            panic!("devwb sync did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut err);
    }
    Output {
        status: child.wait().expect("status"),
        stdout: out,
        stderr: err,
    }
}
