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
