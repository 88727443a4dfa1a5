//! What no client can do to the simulator: overflow it with range options, stall it with many
//! values, or make it hold memory with half-sent messages (issue 13).

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Mod, Scope, SearchEntry};

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

/// The attributes of a device named `name` with `ids` values of `msDS-DevicePhysicalIDs`.
fn device(name: &str, ids: usize) -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
    let one = |v: &[u8]| -> HashSet<Vec<u8>> { [v.to_vec()].into_iter().collect() };
    let mut device_id = [0x42u8; 16];
    device_id[..8].copy_from_slice(&(ids as u64).to_le_bytes());
    device_id[8] = name.len() as u8;
    vec![
        (
            b"objectClass".to_vec(),
            [b"top".to_vec(), b"msDS-Device".to_vec()]
                .into_iter()
                .collect(),
        ),
        (b"displayName".to_vec(), one(name.as_bytes())),
        (b"msDS-IsEnabled".to_vec(), one(b"TRUE")),
        (b"msDS-DeviceID".to_vec(), one(&device_id)),
        (
            b"altSecurityIdentities".to_vec(),
            one(b"X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567"),
        ),
        (
            b"msDS-DevicePhysicalIDs".to_vec(),
            (0..ids)
                .map(|i| format!("[USER-HWID]:{name}:{i:08}").into_bytes())
                .collect(),
        ),
    ]
}

fn device_container(conn: &mut ldap3::LdapConn, sim: &devwb_simulator::SimHandle) -> String {
    let dn = format!("CN=RegisteredDevices,{}", sim.domain_dn());
    conn.add(
        &dn,
        vec![(
            "objectClass",
            HashSet::from(["top", "msDS-DeviceContainer"]),
        )],
    )
    .unwrap()
    .success()
    .unwrap();
    dn
}

#[test]
fn values_beyond_ads_nonlinked_limit_answer_admin_limit_exceeded_at_once() {
    let sim = start();
    let mut conn = admin(&sim);
    let container = device_container(&mut conn, &sim);
    let limit = devwb_simulator::handler::HandlerConfig::DEFAULT_MAX_NONLINKED_VALUES;

    let started = Instant::now();
    let refused = conn
        .add(&format!("CN=huge,{container}"), device("huge", 100_000))
        .unwrap();
    assert_eq!(refused.rc, 11, "{refused:?}");
    assert!(refused.text.contains("ADMIN_LIMIT_EXCEEDED"), "{refused:?}");
    // A debug build, a loaded machine: a liveness bound, not a benchmark.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    // Under the limit the device is stored; a modify that crosses it is refused.
    let below = format!("CN=below,{container}");
    conn.add(&below, device("below", limit - 10))
        .unwrap()
        .success()
        .unwrap();
    let more: HashSet<String> = (0..20).map(|i| format!("[GID]:more-{i}")).collect();
    let crossing = conn
        .modify(
            &below,
            vec![Mod::Add("msDS-DevicePhysicalIDs".to_string(), more)],
        )
        .unwrap();
    assert_eq!(crossing.rc, 11, "{crossing:?}");
    // A value already there, in another case: attributeOrValueExists, found by the hash set.
    let again = conn
        .modify(
            &below,
            vec![Mod::Add(
                "msDS-DevicePhysicalIDs".to_string(),
                HashSet::from(["[user-hwid]:below:00000003".to_string()]),
            )],
        )
        .unwrap();
    assert_eq!(again.rc, 20, "{again:?}");
    // Deleting values is always allowed, and a missing one is noSuchAttribute.
    let delete = |value: &str| {
        Mod::Delete(
            "msDS-DevicePhysicalIDs".to_string(),
            HashSet::from([value.to_string()]),
        )
    };
    let deleted = conn
        .modify(&below, vec![delete("[USER-HWID]:BELOW:00000004")])
        .unwrap();
    assert_eq!(deleted.rc, 0, "{deleted:?}");
    let missing = conn
        .modify(&below, vec![delete("[USER-HWID]:below:00000004")])
        .unwrap();
    assert_eq!(missing.rc, 16, "{missing:?}");
    let compared = conn
        .compare(
            &below,
            "msDS-DevicePhysicalIDs",
            "[user-hwid]:below:00000005",
        )
        .unwrap();
    assert_eq!(compared.0.rc, 6, "compareTrue: {compared:?}");
}

#[test]
fn a_hundred_thousand_values_are_linear_and_never_delay_other_clients() {
    let sim = devwb_simulator::Simulator::builder()
        .seed(7)
        .max_nonlinked_values(None)
        .start_blocking()
        .unwrap();
    let mut conn = admin(&sim);
    let container = device_container(&mut conn, &sim);
    let dn = format!("CN=huge,{container}");

    // The other client searches over and over while the big add runs.
    let running = Arc::new(AtomicBool::new(true));
    let watcher = {
        let running = running.clone();
        let mut reader = admin(&sim);
        let base = sim.domain_dn();
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            let mut searches = 0u32;
            while running.load(Ordering::Relaxed) {
                let started = Instant::now();
                reader
                    .search(&base, Scope::Base, "(objectClass=*)", vec!["cn"])
                    .unwrap()
                    .success()
                    .unwrap();
                slowest = slowest.max(started.elapsed());
                searches += 1;
            }
            (slowest, searches)
        })
    };
    let started = Instant::now();
    let added = conn.add(&dn, device("huge", 100_000)).unwrap();
    let took = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let (slowest, searches) = watcher.join().unwrap();
    assert_eq!(added.rc, 0, "{added:?}");
    // Quadratic, this took longer than 4.5 minutes; linear it takes about a second in a
    // release build. A debug build on a shared machine gets a generous bound.
    assert!(took < Duration::from_secs(60), "the add took {took:?}");
    assert!(searches > 0);
    assert!(
        slowest < Duration::from_secs(2),
        "a search waited {slowest:?} while the add ran ({searches} searches)"
    );

    // Read back: AD's MaxValRange, then the next range.
    let first = read(&mut conn, &dn, &["msDS-DevicePhysicalIDs"]);
    assert_eq!(
        first
            .get("msDS-DevicePhysicalIDs;range=0-1499")
            .map(Vec::len),
        Some(1500),
        "{:?}",
        first.keys()
    );
    let last = read(&mut conn, &dn, &["msDS-DevicePhysicalIDs;range=99000-*"]);
    assert_eq!(
        last.get("msDS-DevicePhysicalIDs;range=99000-*")
            .map(Vec::len),
        Some(1000),
        "{:?}",
        last.keys()
    );
    // A modify adding one more value checks it against 100,000 at once.
    let started = Instant::now();
    let exists = conn
        .modify(
            &dn,
            vec![Mod::Add(
                "msDS-DevicePhysicalIDs".to_string(),
                HashSet::from(["[USER-HWID]:huge:00099999".to_string()]),
            )],
        )
        .unwrap();
    assert_eq!(exists.rc, 20, "{exists:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// The header of a message announcing `length` content bytes (a SEQUENCE, long form).
fn header(length: u32) -> Vec<u8> {
    let mut bytes = vec![0x30, 0x84];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes
}

/// Reads until the server closes; returns what it sent, or panics after `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    loop {
        assert!(Instant::now() < deadline, "still open after {within:?}");
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return received,
        }
    }
}

/// The OID of the Notice of Disconnection.
const NOTICE: &[u8] = b"1.3.6.1.4.1.1466.20036";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn buffers_grow_with_what_arrived_and_unbound_connections_share_a_bound() {
    let sim = devwb_simulator::Simulator::builder()
        .seed(7)
        .max_unauthenticated_bytes(1024 * 1024)
        .start_blocking()
        .unwrap();
    let address = sim.addr().unwrap();
    // A header announcing 10 MB and a kilobyte of content: a kilobyte is held, not 10 MB.
    let mut first = TcpStream::connect(address).unwrap();
    first.write_all(&header(10_000_000)).unwrap();
    first.write_all(&[0u8; 1024]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.unauthenticated_bytes() < 1024 + 6 {
        assert!(Instant::now() < deadline, "the server never read the bytes");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sim.unauthenticated_bytes(), 1024 + 6);

    // Four more unbound connections sending 400 KB each: the one that goes past 1 MiB in
    // total is disconnected with a notice, and the total stays near the bound.
    let mut others: Vec<TcpStream> = Vec::new();
    let mut disconnected = 0;
    for _ in 0..4 {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.write_all(&header(10_000_000)).unwrap();
        // The server may close while we write: that is the point.
        let _ = stream.write_all(&vec![0u8; 400 * 1024]);
        std::thread::sleep(Duration::from_millis(300));
        others.push(stream);
    }
    // Wait for the server to read what was sent and close at least one of them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut open: Vec<bool> = vec![true; others.len()];
    while disconnected == 0 {
        assert!(Instant::now() < deadline, "no connection was refused");
        for (index, stream) in others.iter_mut().enumerate() {
            if !open[index] {
                continue;
            }
            stream.set_nonblocking(true).unwrap();
            let mut buffer = [0u8; 4096];
            let mut received = Vec::new();
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) => {
                        open[index] = false;
                        break;
                    }
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        open[index] = false;
                        break;
                    }
                }
            }
            if !received.is_empty() {
                assert!(contains(&received, NOTICE), "{received:?}");
            }
            if !open[index] {
                disconnected += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(disconnected >= 1, "no connection was refused");
    assert!(
        sim.unauthenticated_bytes() <= 1024 * 1024 + 16 * 1024,
        "{} bytes held",
        sim.unauthenticated_bytes()
    );
    // Closed connections give their share back.
    drop(first);
    drop(others);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.unauthenticated_bytes() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} bytes still held",
            sim.unauthenticated_bytes()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A bound client is not held to the bound: it binds and sends a 1.1 MB modify.
    let mut conn = admin(&sim);
    let big: HashSet<String> = (0..1100)
        .map(|i| format!("{i:04}{}", "x".repeat(996)))
        .collect();
    let result = conn
        .modify(
            &format!("CN=Users,{}", sim.domain_dn()),
            vec![Mod::Replace("description".to_string(), big)],
        )
        .unwrap();
    assert_eq!(result.rc, 0, "{result:?}");
}

#[test]
fn a_partial_message_and_an_idle_unbound_connection_time_out() {
    let sim = devwb_simulator::Simulator::builder()
        .seed(7)
        .partial_message_timeout(Duration::from_millis(300))
        .idle_unauthenticated_timeout(Duration::from_millis(600))
        .start_blocking()
        .unwrap();
    let address = sim.addr().unwrap();

    let mut partial = TcpStream::connect(address).unwrap();
    partial.write_all(&header(10_000_000)).unwrap();
    partial.write_all(&[0u8; 100]).unwrap();
    let notice = closed_within(&mut partial, Duration::from_secs(10));
    assert!(contains(&notice, NOTICE), "{notice:?}");
    assert!(contains(&notice, b"did not arrive in time"), "{notice:?}");

    let mut idle = TcpStream::connect(address).unwrap();
    let started = Instant::now();
    let notice = closed_within(&mut idle, Duration::from_secs(10));
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(contains(&notice, b"idle without a bind"), "{notice:?}");

    // Over LDAPS, a handshake that never comes is a partial message too.
    let mut silent_tls = TcpStream::connect(sim.ldaps_addr().unwrap()).unwrap();
    silent_tls.write_all(&[0x16, 0x03, 0x01]).unwrap();
    closed_within(&mut silent_tls, Duration::from_secs(10));

    // So is the handshake after a StartTLS that succeeded.
    let mut starttls = TcpStream::connect(address).unwrap();
    let oid = b"1.3.6.1.4.1.1466.20037";
    let mut request = vec![0x30, (5 + 2 + oid.len()) as u8, 0x02, 0x01, 0x01];
    request.extend_from_slice(&[0x77, (2 + oid.len()) as u8, 0x80, oid.len() as u8]);
    request.extend_from_slice(oid);
    starttls.write_all(&request).unwrap();
    let answered = closed_within(&mut starttls, Duration::from_secs(10));
    assert!(
        contains(&answered, oid),
        "the StartTLS response: {answered:?}"
    );

    // A bound connection may stay idle.
    let mut bound = admin(&sim);
    std::thread::sleep(Duration::from_millis(1200));
    bound
        .search(&sim.domain_dn(), Scope::Base, "(objectClass=*)", vec!["cn"])
        .unwrap()
        .success()
        .unwrap();
}
