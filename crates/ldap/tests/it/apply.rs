use std::cell::Cell;

use devwb_ldap::{ApplyOptions, Change, ChangeStatus, Modification};
use devwb_model::{Dn, Rdn};

use crate::support::lab;

fn containers(parent: &Dn, count: usize) -> Vec<Change> {
    (0..count)
        .map(|i| Change::Add {
            dn: parent.child(Rdn::new("CN", &format!("item{i}")).unwrap()),
            attrs: vec![
                ("objectClass".into(), vec![b"container".to_vec()]),
                ("description".into(), vec![format!("item {i}").into_bytes()]),
            ],
        })
        .collect()
}

#[test]
fn changes_made_as_they_are_sent_report_counts_and_only_what_did_not_apply() {
    let lab = lab();
    let ou = lab.add_ou("Stream");
    // Two already there: they come back as outcomes, the rest as counts.
    let first = lab
        .client
        .apply_changes(containers(&ou, 2), &ApplyOptions::default(), &mut |_| {});
    assert_eq!(first.applied_by_operation.adds, 2);
    let made = Cell::new(0usize);
    let mut changes = containers(&ou, 500).into_iter().inspect(|_| {
        made.set(made.get() + 1);
    });
    let options = ApplyOptions {
        connections: 2,
        in_flight_per_connection: 4,
        keep_applied_outcomes: false,
        ..ApplyOptions::default()
    };
    let made_at_first_outcome = Cell::new(None);
    let report = lab
        .client
        .apply_each(500, &mut changes, &options, &mut |_| {
            if made_at_first_outcome.get().is_none() {
                made_at_first_outcome.set(Some(made.get()));
            }
        });
    assert_eq!(made.get(), 500);
    // Pulled as the connections take them (a queue of 16 and 8 in flight), not all up front.
    let early = made_at_first_outcome.get().expect("outcomes came");
    assert!(early < 100, "{early} changes made before the first outcome");
    assert_eq!(
        (report.applied, report.already_existed, report.failed),
        (498, 2, 0)
    );
    assert_eq!(report.applied_by_operation.adds, 498);
    let indexes: Vec<usize> = report.outcomes.iter().map(|o| o.index).collect();
    assert_eq!(indexes, vec![0, 1]);
    assert!(report
        .outcomes
        .iter()
        .all(|o| matches!(o.status, ChangeStatus::AlreadyExists { .. })));
}

#[test]
fn a_batch_applies_in_parallel_and_reports_each_change() {
    let lab = lab();
    let ou = lab.add_ou("Bulk");

    let calls = Cell::new(0usize);
    let options = ApplyOptions {
        connections: 3,
        in_flight_per_connection: 8,
        ..ApplyOptions::default()
    };
    let report = lab
        .client
        .apply_changes(containers(&ou, 1000), &options, &mut |progress| {
            calls.set(calls.get() + 1);
            assert!(progress.done <= progress.total);
        });
    assert_eq!(
        (report.applied, report.failed, report.connections),
        (1000, 0, 3)
    );
    assert_eq!(calls.get(), 1000);
    assert!(report
        .outcomes
        .iter()
        .enumerate()
        .all(|(i, o)| o.index == i));

    // The same adds again: each meets entryAlreadyExists, reported as such.
    let again = lab
        .client
        .apply_changes(containers(&ou, 1000), &options, &mut |_| {});
    assert_eq!(again.already_existed, 1000);

    // Modifies and deletes, one of them on a missing entry: its code and text come back.
    let mut changes: Vec<Change> = (0..10)
        .map(|i| Change::Modify {
            dn: ou.child(Rdn::new("CN", &format!("item{i}")).unwrap()),
            mods: vec![Modification::replace_str("description", "changed")],
        })
        .collect();
    changes.push(Change::Delete {
        dn: ou.child(Rdn::new("CN", "item999").unwrap()),
    });
    changes.push(Change::Delete {
        dn: ou.child(Rdn::new("CN", "no-such-item").unwrap()),
    });
    let mixed = lab.client.apply_changes(changes, &options, &mut |_| {});
    assert_eq!(mixed.applied, 11);
    let failure = mixed.failures().next().expect("one failure");
    match &failure.status {
        ChangeStatus::Failed {
            code, code_name, ..
        } => {
            assert_eq!((*code, code_name.as_str()), (Some(32), "noSuchObject"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(failure.attempts, 1, "noSuchObject is not retried");
}

#[test]
fn busy_unavailable_and_dropped_connections_are_retried_until_everything_is_applied() {
    use devwb_test_support::simulator::faults::{FaultAction, FaultConfig, FaultRule};
    use devwb_test_support::simulator::ResultCode;

    let lab = lab();
    let ou = lab.add_ou("Faulty");
    lab.sim.forest().semantics.set_faults(FaultConfig {
        seed: 11,
        rules: vec![
            FaultRule::always(FaultAction::Fail(ResultCode::BUSY))
                .on(&["add"])
                .with_probability(0.10),
            FaultRule::always(FaultAction::Fail(ResultCode::UNAVAILABLE))
                .on(&["add"])
                .with_probability(0.05),
            FaultRule::always(FaultAction::Drop)
                .on(&["add"])
                .with_probability(0.01),
        ],
        ..FaultConfig::default()
    });
    let options = ApplyOptions {
        connections: 2,
        in_flight_per_connection: 4,
        retry: devwb_ldap::RetryPolicy {
            max_attempts: 8,
            initial_backoff: std::time::Duration::from_millis(5),
            max_backoff: std::time::Duration::from_millis(50),
        },
        ..ApplyOptions::default()
    };
    let report = lab
        .client
        .apply_changes(containers(&ou, 600), &options, &mut |_| {});
    lab.sim
        .forest()
        .semantics
        .set_faults(FaultConfig::default());
    // An add retried after a dropped connection may have been applied before the drop: it then
    // meets its own entry (entryAlreadyExists), which the caller converges.
    assert_eq!(report.failed, 0, "{:?}", report.failures().next());
    assert_eq!(report.applied + report.already_existed, 600);
    assert!(
        report.retries > 0,
        "faults were injected, so some changes were retried"
    );
    assert!(report.reconnects > 0, "dropped connections were reopened");
    let found = lab
        .client
        .search(
            &ou,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=container)",
            &["cn"],
        )
        .unwrap();
    assert_eq!(found.len(), 600);
}

#[test]
fn an_operation_that_keeps_failing_reports_the_last_code_after_the_allowed_attempts() {
    use devwb_test_support::simulator::faults::{FaultAction, FaultConfig, FaultRule};
    use devwb_test_support::simulator::ResultCode;

    let lab = lab();
    let ou = lab.add_ou("AlwaysBusy");
    lab.sim.forest().semantics.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Fail(ResultCode::BUSY)).on(&["add"])],
        ..FaultConfig::default()
    });
    let options = ApplyOptions {
        connections: 1,
        in_flight_per_connection: 2,
        retry: devwb_ldap::RetryPolicy {
            max_attempts: 3,
            initial_backoff: std::time::Duration::from_millis(1),
            max_backoff: std::time::Duration::from_millis(2),
        },
        ..ApplyOptions::default()
    };
    let report = lab
        .client
        .apply_changes(containers(&ou, 2), &options, &mut |_| {});
    lab.sim
        .forest()
        .semantics
        .set_faults(FaultConfig::default());
    assert_eq!(report.failed, 2);
    for outcome in &report.outcomes {
        assert_eq!(outcome.attempts, 3);
        assert!(
            matches!(&outcome.status, ChangeStatus::Failed { code: Some(51), .. }),
            "{:?}",
            outcome.status
        );
    }
}
