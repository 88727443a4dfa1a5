//! What no client can do to the simulator: overflow it with range options, stall it with many
//! values, or make it hold memory with half-sent messages (issue 13).

use std::collections::{HashMap, HashSet};
use ldap3::{Scope, SearchEntry};

use crate::support::{admin, start};

/// The attributes (name as returned, values) of the one entry `attributes` selects at `dn`.
fn read(conn: &mut ldap3::LdapConn, dn: &str, attributes: &[&str]) -> HashMap<String, Vec<String>> {
    let (entries, result) = conn
        .search(dn, Scope::Base, "(objectClass=*)", attributes.to_vec())
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(result.rc, 0);
    let entry = SearchEntry::construct(entries.into_iter().next().unwrap());
    entry.attrs
}

#[test]
fn range_options_with_huge_reversed_and_malformed_numbers_answer_sanely() {
    let sim = start();
    let mut members = Vec::new();
    for name in ["r1", "r2", "r3"] {
        members.push(sim.add_user(name, "Passw0rd!").unwrap().0.to_string());
    }
    let mut conn = admin(&sim);
    let group = format!("CN=Ranged,CN=Users,{}", sim.domain_dn());
    let member_set: HashSet<&str> = members.iter().map(String::as_str).collect();
    conn.add(
        &group,
        vec![
            ("objectClass", HashSet::from(["top", "group"])),
            ("member", member_set),
        ],
    )
    .unwrap()
    .success()
    .unwrap();

    // The request of issue 13: `(h + 1)` overflowed. Every value, shown as `0-*`.
    let all = read(&mut conn, &group, &["member;range=0-18446744073709551615"]);
    assert_eq!(
        all.get("member;range=0-*").map(Vec::len),
        Some(3),
        "{all:?}"
    );
    let beyond = read(
        &mut conn,
        &group,
        &["member;range=0-99999999999999999999999"],
    );
    assert_eq!(
        beyond.get("member;range=0-*").map(Vec::len),
        Some(3),
        "{beyond:?}"
    );
    // A window inside the values keeps its high bound; one reaching the end shows `*`.
    let middle = read(&mut conn, &group, &["member;range=1-1"]);
    assert_eq!(
        middle.get("member;range=1-1").map(Vec::len),
        Some(1),
        "{middle:?}"
    );
    let tail = read(&mut conn, &group, &["member;Range=1-2"]);
    assert_eq!(
        tail.get("member;range=1-*").map(Vec::len),
        Some(2),
        "{tail:?}"
    );
    // Reversed, past the end and malformed: no member values, the rest of the entry as asked.
    for option in [
        "member;range=5-2",
        "member;range=18446744073709551615-*",
        "member;range=3-*",
        "member;range=x-y",
        "member;range=7",
        "member;range=-1-3",
    ] {
        let answer = read(&mut conn, &group, &[option, "cn"]);
        assert!(
            !answer
                .keys()
                .any(|k| k.to_ascii_lowercase().starts_with("member")),
            "{option}: {answer:?}"
        );
        assert_eq!(
            answer.get("cn"),
            Some(&vec!["Ranged".to_string()]),
            "{option}"
        );
    }
    // A malformed range next to `*`: the unknown description is ignored, `*` still has member.
    let star = read(&mut conn, &group, &["*", "member;range=x-1"]);
    assert_eq!(star.get("member").map(Vec::len), Some(3), "{star:?}");
}
