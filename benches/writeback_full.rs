//! Full writeback into an empty device container, 10,000 and 100,000 devices, against the peer
//! measured in the same run: the simulator's raw pipelined add rate (the same adds, prebuilt,
//! through devwb-ldap's bulk apply with the same connections and pipelining).
//!
//! Each iteration restores the forest's snapshot taken right after preparation, so every run
//! starts from an empty container (the restore is not timed). Timed: discover, read the
//! container, stream and check the export, map, diff, apply.
//!
//! Run: `cargo bench -p devwb-benches --bench writeback_full` (`DEVWB_BENCH_PHASES=1` in the
//! environment prints each iteration's plan and apply times).

// A bench that cannot set up or run has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devwb_benches::BenchLab;
use devwb_ldap::ApplyOptions;
use devwb_writeback::{apply, plan};
use devwb_writeback::{PlanOptions, WritebackOptions};

/// With `DEVWB_BENCH_PHASES` set, each iteration's phases go to standard error: criterion reports
/// only the totals, and the plan/apply split is what docs/benchmarks.md reasons about.
#[allow(clippy::print_stderr)]
fn say_phases(line: impl FnOnce() -> String) {
    if std::env::var_os("DEVWB_BENCH_PHASES").is_some() {
        eprintln!("{}", line());
    }
}

fn full_writeback(c: &mut Criterion) {
    let lab = BenchLab::start();
    let empty = lab.sim.snapshot();
    let options = WritebackOptions::default();
    let mut group = c.benchmark_group("writeback_full");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    for count in [10_000u64, 100_000] {
        let devices = lab.devices(count, 1);
        let (_, source) = lab.export(&format!("devices-{count}.json"), &devices);
        group.throughput(Throughput::Elements(count));
        group.bench_function(BenchmarkId::new("devwb writeback", count), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    lab.sim.restore(&empty);
                    let began = Instant::now();
                    let client = lab.connector();
                    let target = lab.target(&client);
                    let planned = plan(&client, &target, &source, PlanOptions::default()).unwrap();
                    let planned_at = began.elapsed();
                    let report = apply(&client, &planned, &options, &mut |_| {}).unwrap();
                    let applied_at = began.elapsed();
                    drop(planned);
                    total += began.elapsed();
                    say_phases(|| {
                        format!(
                            "devwb {count}: plan {planned_at:.2?}, apply {:.2?}, drop the plan {:.2?}",
                            applied_at - planned_at,
                            began.elapsed() - applied_at
                        )
                    });
                    assert_eq!(report.added, count, "{:?}", report.failures.first());
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("peer: raw pipelined adds", count), |b| {
            let client = lab.connector();
            let target = lab.target(&client);
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    lab.sim.restore(&empty);
                    let changes = lab.raw_adds(&target, &source);
                    let began = Instant::now();
                    let report =
                        client.apply_changes(changes, &ApplyOptions::default(), &mut |_| {});
                    total += began.elapsed();
                    say_phases(|| format!("peer {count}: {:.2?}", began.elapsed()));
                    assert_eq!(
                        report.applied as u64,
                        count,
                        "{:?}",
                        report.failures().next()
                    );
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, full_writeback);
criterion_main!(benches);
