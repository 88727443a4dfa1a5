//! Fault injection: writeback converges through busy, unavailable and dropped connections.
//!
//! The simulator's fault layer (deterministic under a seed) answers 2% of the operations with
//! `busy`, 2% with `unavailable` and drops the connection on 1%: 5% of adds, modifies, deletes
//! and searches fail. Writes are retried with backoff by devwb-ldap's bulk apply (a dropped
//! connection is reopened); a run whose container read is cut off fails as a whole and, like a
//! killed run, is simply run again. Checked over many seeds: the directory ends exactly as the
//! export says, with no duplicate.

use std::collections::BTreeSet;

use devwb_model::Guid;
use devwb_test_support::simulator::error::ResultCode;
use devwb_test_support::simulator::faults::{FaultAction, FaultConfig, FaultRule};
use devwb_writeback::{apply, plan};
use devwb_writeback::{DeviceSource, PlanOptions, WritebackOptions};

use crate::harness::{ids_of, WritebackLab};

const OPERATIONS: [&str; 4] = ["add", "modify", "delete", "search"];

fn faults(seed: u64) -> FaultConfig {
    let rule = |action, p| {
        FaultRule::always(action)
            .on(&OPERATIONS)
            .with_probability(p)
    };
    FaultConfig {
        seed,
        rules: vec![
            rule(FaultAction::Fail(ResultCode::BUSY), 0.02),
            rule(FaultAction::Fail(ResultCode::UNAVAILABLE), 0.02),
            rule(FaultAction::Drop, 0.01),
        ],
        ..FaultConfig::default()
    }
}

/// Runs writeback until a run plans nothing (at most 5 runs); returns the number of runs and the
/// retries and reconnects the bulk apply made.
fn converge(forest: &WritebackLab, source: &DeviceSource) -> (usize, u64, u64) {
    let (mut retries, mut reconnects) = (0, 0);
    for run in 1..=5 {
        // Connecting is not under test (binds are not faulted); everything after it is.
        let client = forest.connector_client();
        let target = forest.target(&client);
        let Ok(planned) = plan(&client, &target, source, PlanOptions::default()) else {
            continue; // the container read was cut off: run again
        };
        if planned.is_empty() {
            return (run, retries, reconnects);
        }
        let report = apply(&client, &planned, &WritebackOptions::default(), &mut |_| {})
            .expect("apply runs");
        retries += report.retries;
        reconnects += report.reconnects;
    }
    panic!("no convergence after 5 runs");
}

#[test]
fn writeback_converges_under_five_percent_faults_over_many_seeds() {
    let mut total_retries = 0;
    let mut total_reconnects = 0;
    for seed in 1..=6u64 {
        let forest = WritebackLab::start();
        let devices = forest.devices(1_500, 100 + seed);
        let (_, source) = forest.export("v1.json", devices.iter().map(|d| d.to_json()));
        forest.sim.forest().semantics.set_faults(faults(seed));
        let (runs, retries, reconnects) = converge(&forest, &source);
        total_retries += retries;
        total_reconnects += reconnects;

        // A delta under the same faults: 10% changed, 100 removed.
        let mut changed = devices[100..].to_vec();
        for device in changed.iter_mut().step_by(10) {
            device.display_name.push_str("-v2");
        }
        let (_, source2) = forest.export("v2.json", changed.iter().map(|d| d.to_json()));
        converge(&forest, &source2);

        forest
            .sim
            .forest()
            .semantics
            .set_faults(FaultConfig::default());
        assert_eq!(
            forest.devices_in_directory(),
            ids_of(&changed),
            "seed {seed}: exactly the export, no duplicate"
        );
        let clean = forest.dry_run(&source2);
        assert!(clean.is_empty(), "seed {seed}: {:?}", clean.counts);
        assert!(runs <= 5);
        let renamed: BTreeSet<Guid> = changed.iter().step_by(10).map(|d| d.device_id).collect();
        assert_eq!(renamed.len(), 140);
    }
    // The faults really happened and were retried through.
    assert!(total_retries > 100, "{total_retries} retries");
    assert!(total_reconnects > 10, "{total_reconnects} reconnects");
}
