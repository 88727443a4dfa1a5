//! The store's tree rules and indexes.

use super::*;
use bytes::Bytes;

fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap()
}

fn entry(text: &str) -> Entry {
    let mut entry = Entry::new(dn(text));
    entry.attrs.set_str("objectClass", "container");
    entry
}

fn store() -> Store {
    let store = Store::new();
    store.add_naming_context(entry("DC=x")).unwrap();
    store.add(entry("CN=a,DC=x")).unwrap();
    store.add(entry("CN=b,CN=a,DC=x")).unwrap();
    store
}

#[test]
fn tree_shape_is_enforced() {
    let store = store();
    assert_eq!(
        store.add(entry("CN=a,DC=x")).unwrap_err().code,
        ResultCode::ENTRY_ALREADY_EXISTS
    );
    let missing = store.add(entry("CN=c,CN=none,DC=x")).unwrap_err();
    assert_eq!(missing.code, ResultCode::NO_SUCH_OBJECT);
    assert_eq!(missing.matched, Some(dn("DC=x")));
    assert_eq!(
        store.delete(&dn("CN=a,DC=x"), false).unwrap_err().code,
        ResultCode::NOT_ALLOWED_ON_NON_LEAF
    );
    assert_eq!(store.delete(&dn("cn=A,dc=X"), true).unwrap().len(), 2);
    assert_eq!(store.len(), 1);
}

#[test]
fn usns_grow_with_every_write() {
    let store = store();
    let a = store.get(&dn("CN=a,DC=x")).unwrap();
    assert_eq!(a.attrs.first_str("uSNCreated"), Some("2"));
    let mut changed = (*a).clone();
    changed.attrs.set_str("description", "d");
    let stored = store.replace(&a, changed.clone()).unwrap();
    assert_eq!(stored.attrs.first_str("uSNChanged"), Some("4"));
    assert_eq!(store.highest_usn(), 4);
    // A change computed from an old copy is refused, not lost silently.
    assert_eq!(
        store.replace(&a, changed).unwrap_err().code,
        ResultCode::BUSY
    );
}

#[test]
fn rename_moves_the_subtree_and_indexes() {
    let store = store();
    let mut b = (*store.get(&dn("CN=b,CN=a,DC=x")).unwrap()).clone();
    b.attrs
        .set("objectGUID", vec![Bytes::from_static(&[9; 16])]);
    let old = store.get(&dn("CN=b,CN=a,DC=x")).unwrap();
    store.replace(&old, b).unwrap();
    let mut renamed = (*store.get(&dn("CN=a,DC=x")).unwrap()).clone();
    renamed.dn = dn("CN=z,DC=x");
    store.rename(&dn("CN=a,DC=x"), renamed).unwrap();
    assert!(store.get(&dn("CN=b,CN=a,DC=x")).is_none());
    let moved = store.get(&dn("CN=b,CN=z,DC=x")).unwrap();
    assert_eq!(
        moved.attrs.first_str("distinguishedName"),
        Some("CN=b,CN=z,DC=x")
    );
    assert_eq!(
        store.get_by_guid(&[9; 16]).unwrap().dn,
        dn("CN=b,CN=z,DC=x")
    );
    assert_eq!(store.subtree(&dn("DC=x")).len(), 3);
    let mut into_itself = (*store.get(&dn("CN=z,DC=x")).unwrap()).clone();
    into_itself.dn = dn("CN=y,CN=b,CN=z,DC=x");
    assert_eq!(
        store
            .rename(&dn("CN=z,DC=x"), into_itself)
            .unwrap_err()
            .code,
        ResultCode::UNWILLING_TO_PERFORM
    );
}

#[test]
fn snapshot_and_restore() {
    let store = store();
    store.set_secret(&dn("CN=a,DC=x"), Secret::new("pw"));
    let snapshot = store.snapshot();
    store.delete(&dn("CN=a,DC=x"), true).unwrap();
    assert!(store.secret(&dn("CN=a,DC=x")).is_none());
    store.restore(&snapshot);
    assert!(store.get(&dn("CN=b,CN=a,DC=x")).is_some());
    assert!(store.secret(&dn("CN=a,DC=x")).unwrap().matches(b"pw"));
    assert!(store.highest_usn() >= 4, "USNs never go back");
    assert_eq!(format!("{:?}", Secret::new("pw")), "********");
}
