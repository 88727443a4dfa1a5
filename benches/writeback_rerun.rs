//! Reruns over a container that already holds 100,000 devices: a no-change rerun (read the
//! container, stream the export, diff: nothing to apply) and a 10%-changed rerun (10,000
//! modifies, each replacing only the changed attribute). The forest is restored from a snapshot
//! before each iteration (not timed).
//!
//! Run: `cargo bench -p devwb-benches --bench writeback_rerun`.

// A bench that cannot set up or run has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devwb_benches::BenchLab;
use devwb_writeback::{apply, plan};
use devwb_writeback::{PlanOptions, WritebackOptions};

const COUNT: u64 = 100_000;

fn reruns(c: &mut Criterion) {
    let lab = BenchLab::start();
    let devices = lab.devices(COUNT, 1);
    let (_, source) = lab.export("devices.json", &devices);
    let options = WritebackOptions::default();
    {
        let client = lab.connector();
        let target = lab.target(&client);
        let planned = plan(&client, &target, &source, PlanOptions::default()).unwrap();
        let report = apply(&client, &planned, &options, &mut |_| {}).unwrap();
        assert_eq!(report.added, COUNT);
    }
    let written = lab.sim.snapshot();
    let mut changed = devices.clone();
    for device in changed.iter_mut().step_by(10) {
        device.display_name.push_str("-v2");
    }
    let (_, changed_source) = lab.export("changed.json", &changed);

    let mut group = c.benchmark_group("writeback_rerun");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(COUNT));
    for (name, source, modifies) in [
        ("no change", &source, 0u64),
        ("10% changed", &changed_source, COUNT / 10),
    ] {
        group.bench_function(BenchmarkId::new(name, COUNT), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    lab.sim.restore(&written);
                    let began = Instant::now();
                    let client = lab.connector();
                    let target = lab.target(&client);
                    let planned = plan(&client, &target, source, PlanOptions::default()).unwrap();
                    let report = apply(&client, &planned, &options, &mut |_| {}).unwrap();
                    total += began.elapsed();
                    assert_eq!(planned.counts.modifies, modifies);
                    assert!(report.succeeded());
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reruns);
criterion_main!(benches);
