//! Peak memory of a whole writeback run of 100,000 devices, measured in a process of its own so
//! the simulator's memory is not counted: the bench starts a prepared simulator forest, writes a
//! 100,000-device export, then runs itself as a child (`--child`) that connects as the connector
//! account, plans and applies, and reports its peak resident set size (`VmHWM` of
//! /proc/self/status, what `/usr/bin/time -v` calls "Maximum resident set size"). It does so for
//! the first run (100,000 adds) and for a no-change rerun. Target: under 300 MiB.
//!
//! Run: `cargo bench -p devwb-benches --bench writeback_memory`.

// A bench that cannot set up has nothing to measure; it reports on standard output.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use devwb_benches::{BenchLab, CONNECTOR};
use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_writeback::{apply, discover, plan};
use devwb_writeback::{DeviceSource, PlanOptions, WritebackOptions};

const COUNT: u64 = 100_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn child(url: &str, ca: &str, export: &str) {
    let began = Instant::now();
    let options = ConnectOptions::new(url).unwrap().with_ca_file(ca);
    let credentials = Credentials::new(
        format!("{}@contoso.lab", CONNECTOR.0),
        Password::new(CONNECTOR.1),
    );
    let client = Client::connect(&options, Some(&credentials)).unwrap();
    let target = discover(&client, None).unwrap();
    let source = DeviceSource::open(Path::new(export)).unwrap();
    let planned = plan(&client, &target, &source, PlanOptions::default()).unwrap();
    let planned_in = began.elapsed();
    let options = WritebackOptions::default();
    let report = apply(&client, &planned, &options, &mut |_| {}).unwrap();
    assert!(report.succeeded());
    println!(
        "child: planned {} adds, {} unchanged in {:.2?}; applied {} in {:.2?}; total {:.2?}; peak RSS {} KiB",
        planned.counts.adds,
        planned.counts.unchanged,
        planned_in,
        report.added,
        report.elapsed,
        began.elapsed(),
        peak_rss_kib().unwrap_or(0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(&args[at + 1], &args[at + 2], &args[at + 3]);
        return;
    }
    let lab = BenchLab::start();
    let devices = lab.devices(COUNT, 1);
    let (export, _) = lab.export("devices.json", &devices);
    drop(devices);
    let size = std::fs::metadata(&export).map(|m| m.len()).unwrap_or(0);
    println!(
        "writeback_memory: {COUNT} devices, export {:.1} MiB",
        size as f64 / 1048576.0
    );
    for run in ["first run (all adds)", "no-change rerun"] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--child", &lab.sim.ldaps_url()])
            .arg(lab.write_ca_file())
            .arg(&export)
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("child:"))
            .unwrap_or("child: no report");
        println!("writeback_memory: {run}: {line}");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
