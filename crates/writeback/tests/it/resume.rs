//! A run killed mid-apply and rerun converges, with no duplicate and no lost device.
//!
//! The kill is real: the test re-runs its own test binary as a child process (selected with
//! `--exact` and told its role through `DEVWB_IT_CHILD_*` variables), lets it apply part of the
//! plan against the parent's simulator, and kills it with SIGKILL while changes are in flight.
//! Writeback keeps no journal: the next run recomputes the delta from the directory, and the
//! deterministic DN `CN=<deviceId>` makes a second object for a device impossible.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_writeback::{apply, discover, plan};
use devwb_writeback::{DeviceSource, PlanOptions, WritebackOptions};

use crate::harness::{ids_of, WritebackLab, CONNECTOR, CONNECTOR_PASSWORD};

const TEST_NAME: &str = "resume::a_run_killed_mid_apply_converges_when_rerun";

/// The child's role: plan and apply, printing `done <n>` as changes complete.
fn child(url: &str, ca_file: &str, export: &str) {
    let options = ConnectOptions::new(url)
        .unwrap()
        .with_ca_file(ca_file)
        .with_timeout(std::time::Duration::from_secs(300));
    let credentials = Credentials::new(
        format!("{CONNECTOR}@contoso.lab"),
        Password::new(CONNECTOR_PASSWORD),
    );
    let client = Client::connect(&options, Some(&credentials)).unwrap();
    let target = discover(&client, None).unwrap();
    let source = DeviceSource::open(Path::new(export)).unwrap();
    let plan = plan(&client, &target, &source, PlanOptions::default()).unwrap();
    println!("planned {}", plan.counts.adds);
    let mut last = 0;
    let _ = apply(&client, &plan, &WritebackOptions::default(), &mut |p| {
        if p.done >= last + 100 {
            last = p.done;
            println!("done {}", p.done);
        }
    });
    println!("finished");
}

#[test]
fn a_run_killed_mid_apply_converges_when_rerun() {
    if let (Ok(url), Ok(ca), Ok(export)) = (
        std::env::var("DEVWB_IT_CHILD_URL"),
        std::env::var("DEVWB_IT_CHILD_CA"),
        std::env::var("DEVWB_IT_CHILD_EXPORT"),
    ) {
        child(&url, &ca, &export);
        return;
    }
    let forest = WritebackLab::start();
    let devices = forest.devices(10_000, 11);
    let (export, source) = forest.export("devices.json", devices.iter().map(|d| d.to_json()));

    let mut process = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env("DEVWB_IT_CHILD_URL", forest.url())
        .env("DEVWB_IT_CHILD_CA", forest.write_ca_file())
        .env("DEVWB_IT_CHILD_EXPORT", &export)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = process.stdout.take().expect("piped");
    let mut killed_at = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(done) = line
            .strip_prefix("done ")
            .and_then(|n| n.parse::<usize>().ok())
        {
            if done >= 2_000 {
                process.kill().expect("kill");
                killed_at = Some(done);
                break;
            }
        }
        assert_ne!(
            line, "finished",
            "the child finished before it could be killed"
        );
    }
    let _ = process.wait();
    let killed_at = killed_at.expect("the child reported progress");

    // Requests the child had already sent are still served after its death: wait until the
    // directory stops changing before taking the count.
    let mut partial = forest.devices_in_directory();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = forest.devices_in_directory();
        if now == partial {
            break;
        }
        partial = now;
    }
    assert!(
        partial.len() >= killed_at && partial.len() < devices.len(),
        "{} written",
        partial.len()
    );
    let (plan, report) = forest.writeback(&source, PlanOptions::default());
    assert_eq!(
        plan.counts.adds as usize,
        devices.len() - partial.len(),
        "the rerun adds exactly what is missing"
    );
    assert_eq!(
        plan.counts.unchanged as usize,
        partial.len(),
        "what the killed run wrote is complete"
    );
    assert!(report.succeeded(), "{:?}", report.failures);
    assert_eq!(
        forest.devices_in_directory(),
        ids_of(&devices),
        "no duplicate, no lost device"
    );
    assert!(forest.dry_run(&source).is_empty());
}
