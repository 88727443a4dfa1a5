//! Broken and hostile input over raw TCP. After each, the server still serves others.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ldap3::Scope;

use crate::support::{admin, start_plain};

fn raw(sim: &devwb_simulator::SimHandle) -> TcpStream {
    let stream = TcpStream::connect(sim.addr().expect("plain listener")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns everything it sent.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .expect("the server closes instead of hanging");
    out
}

/// Reads exactly one BER message.
fn read_message(stream: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).unwrap();
    let mut message = header.to_vec();
    let length = if header[1] < 0x80 {
        header[1] as usize
    } else {
        let mut octets = vec![0u8; (header[1] & 0x7f) as usize];
        stream.read_exact(&mut octets).unwrap();
        message.extend_from_slice(&octets);
        octets.iter().fold(0usize, |a, &b| (a << 8) | b as usize)
    };
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    message.extend_from_slice(&body);
    message
}

fn decode(message: &[u8]) -> rasn_ldap::LdapMessage {
    rasn::ber::decode(message).expect("the server's answer decodes")
}

fn still_serves(sim: &devwb_simulator::SimHandle) {
    let mut conn = admin(sim);
    let (entries, _) = conn
        .search(
            &sim.domain_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
}

fn notice_code(bytes: &[u8]) -> u32 {
    let message = decode(bytes);
    assert_eq!(message.message_id, 0, "an unsolicited notification");
    let rasn_ldap::ProtocolOp::ExtendedResp(response) = message.protocol_op else {
        panic!("a Notice of Disconnection is an extended response");
    };
    assert_eq!(
        response.response_name.as_deref(),
        Some(&b"1.3.6.1.4.1.1466.20036"[..])
    );
    response.result_code as u32
}

#[test]
fn garbage_gets_a_notice_of_disconnection() {
    let sim = start_plain();
    let mut stream = raw(&sim);
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let answer = read_to_close(&mut stream);
    assert_eq!(notice_code(&answer), 2);
    still_serves(&sim);
}

#[test]
fn oversize_length_is_refused_before_reading_it() {
    let sim = start_plain();
    let mut stream = raw(&sim);
    // Announces 4 GiB.
    stream
        .write_all(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xf0, 0x02, 0x01, 0x01])
        .unwrap();
    let answer = read_to_close(&mut stream);
    assert_eq!(notice_code(&answer), 2);
    still_serves(&sim);
}

#[test]
fn truncated_message_then_close_leaves_the_server_serving() {
    let sim = start_plain();
    {
        let mut stream = raw(&sim);
        // A bind request cut in the middle, then the client goes away.
        stream
            .write_all(&[0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02])
            .unwrap();
    }
    still_serves(&sim);
}

#[test]
fn wrong_tags_get_protocol_error_and_the_connection_goes_on() {
    let sim = start_plain();
    let mut stream = raw(&sim);
    // A search whose scope is an OCTET STRING.
    stream
        .write_all(&[
            0x30, 0x0d, 0x02, 0x01, 0x09, 0x63, 0x08, 0x04, 0x00, 0x04, 0x01, 0x00, 0x0a, 0x01,
            0x00,
        ])
        .unwrap();
    let message = decode(&read_message(&mut stream));
    assert_eq!(message.message_id, 9);
    let rasn_ldap::ProtocolOp::SearchResDone(done) = message.protocol_op else {
        panic!("a search gets a SearchResultDone");
    };
    assert_eq!(done.0.result_code, rasn_ldap::ResultCode::ProtocolError);
    // The same connection still answers a rootDSE search (anonymous).
    let search = root_dse_search(10, vec!["dnsHostName".into()]);
    stream
        .write_all(&rasn::ber::encode(&search).unwrap())
        .unwrap();
    let entry = decode(&read_message(&mut stream));
    assert!(
        matches!(entry.protocol_op, rasn_ldap::ProtocolOp::SearchResEntry(_)),
        "{entry:?}"
    );
}

#[test]
fn sicily_ntlm_bind_gets_auth_method_not_supported() {
    let sim = start_plain();
    let mut stream = raw(&sim);
    stream
        .write_all(&[
            0x30, 0x0c, 0x02, 0x01, 0x07, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x89, 0x00,
        ])
        .unwrap();
    let message = decode(&read_message(&mut stream));
    let rasn_ldap::ProtocolOp::BindResponse(response) = message.protocol_op else {
        panic!("a bind response");
    };
    assert_eq!(message.message_id, 7);
    assert_eq!(
        response.result_code,
        rasn_ldap::ResultCode::AuthMethodNotSupported
    );
}

#[test]
fn deep_filter_is_refused() {
    let sim = start_plain();
    let mut stream = raw(&sim);
    // (!(!(!...(objectClass=*)...))) nested 5000 deep.
    let mut filter = vec![0x87, 0x0b];
    filter.extend_from_slice(b"objectClass");
    for _ in 0..5000 {
        let mut outer = vec![0xa2];
        push_length(&mut outer, filter.len());
        outer.extend_from_slice(&filter);
        filter = outer;
    }
    let mut search = vec![
        0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01,
        0x01, 0x00,
    ];
    search.extend_from_slice(&filter);
    search.extend_from_slice(&[0x30, 0x00]);
    let mut op = vec![0x63];
    push_length(&mut op, search.len());
    op.extend_from_slice(&search);
    let mut body = vec![0x02, 0x01, 0x05];
    body.extend_from_slice(&op);
    let mut message = vec![0x30];
    push_length(&mut message, body.len());
    message.extend_from_slice(&body);
    stream.write_all(&message).unwrap();
    let answer = decode(&read_message(&mut stream));
    let rasn_ldap::ProtocolOp::SearchResDone(done) = answer.protocol_op else {
        panic!("a search done");
    };
    assert_eq!(done.0.result_code, rasn_ldap::ResultCode::ProtocolError);
    assert!(
        done.0.diagnostic_message.contains("deeper than"),
        "{}",
        done.0.diagnostic_message.as_str()
    );
    still_serves(&sim);
}

fn push_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = (length as u32).to_be_bytes();
        out.push(0x84);
        out.extend_from_slice(&bytes);
    }
}

#[test]
fn client_disconnecting_mid_search() {
    let sim = start_plain();
    ou_with_containers(&sim, "Big", 900, 500);
    for _ in 0..20 {
        let mut stream = raw(&sim);
        let search = root_dse_search(1, vec![]);
        stream
            .write_all(&rasn::ber::encode(&search).unwrap())
            .unwrap();
        drop(stream);
    }
    // A client that binds, starts a big search and vanishes after the first bytes.
    let url = sim.url();
    let admin_dn = sim.admin_dn();
    let password = sim.admin_password().to_string();
    for _ in 0..10 {
        let mut conn = ldap3::LdapConn::new(&url).unwrap();
        conn.simple_bind(&admin_dn, &password)
            .unwrap()
            .success()
            .unwrap();
        let mut stream = conn
            .streaming_search(
                &format!("OU=Big,{}", sim.domain_dn()),
                Scope::OneLevel,
                "(objectClass=*)",
                vec!["*"],
            )
            .unwrap();
        let _first = stream.next().unwrap();
        drop(stream);
        drop(conn);
    }
    still_serves(&sim);
}

#[test]
fn a_thousand_connections_opened_and_dropped_while_another_client_works() {
    let sim = start_plain();
    let address = sim.addr().unwrap();
    let mut worker = admin(&sim);
    let rss_before = resident_kib();
    let churn = std::thread::spawn(move || {
        for _ in 0..1000 {
            let stream = TcpStream::connect(address).unwrap();
            drop(stream);
        }
    });
    let mut searches = 0;
    while !churn.is_finished() {
        let (entries, _) = worker
            .search(
                &sim.domain_dn(),
                Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            )
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(entries.len(), 1);
        searches += 1;
    }
    churn.join().unwrap();
    assert!(searches > 0);
    // Every dropped connection's task ends: the count returns to the one working client.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.open_connections() > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sim.open_connections(), 1, "connections left open");
    still_serves(&sim);
    // Memory comes back: a thousand connection tasks, buffers and TLS state are gone. The
    // bound is generous because the allocator keeps freed pages and tests run in parallel.
    if let (Some(before), Some(after)) = (rss_before, resident_kib()) {
        assert!(
            after < before + 64 * 1024,
            "resident memory grew from {before} KiB to {after} KiB"
        );
    }
}

/// This process's resident set size, from /proc (Linux only).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn abandon_stops_a_running_search() {
    let sim = start_plain();
    let ou = ou_with_containers(&sim, "Abandon", 2000, 0);
    let mut stream = raw_as_admin(&sim);
    let paged_value = vec![0x30, 0x06, 0x02, 0x02, 0x07, 0xd0, 0x04, 0x00]; // page size 2000 (capped at 1000)
    let mut search = rasn_ldap::LdapMessage::new(
        2,
        rasn_ldap::ProtocolOp::SearchRequest(rasn_ldap::SearchRequest::new(
            ou.clone().into(),
            rasn_ldap::SearchRequestScope::SingleLevel,
            rasn_ldap::SearchRequestDerefAliases::NeverDerefAliases,
            0,
            0,
            false,
            rasn_ldap::Filter::Present("objectClass".into()),
            vec!["*".into()],
        )),
    );
    search.controls = Some(vec![rasn_ldap::Control::new(
        b"1.2.840.113556.1.4.319".as_slice().into(),
        false,
        Some(paged_value.into()),
    )]);
    let abandon = rasn_ldap::LdapMessage::new(
        3,
        rasn_ldap::ProtocolOp::AbandonRequest(rasn_ldap::AbandonRequest(2)),
    );
    let root = root_dse_search(4, vec!["dnsHostName".into()]);
    let mut pipelined = rasn::ber::encode(&search).unwrap();
    pipelined.extend(rasn::ber::encode(&abandon).unwrap());
    pipelined.extend(rasn::ber::encode(&root).unwrap());
    stream.write_all(&pipelined).unwrap();
    let (mut abandoned_entries, mut abandoned_done) = (0, false);
    loop {
        let message = decode(&read_message(&mut stream));
        match (message.message_id, &message.protocol_op) {
            (2, rasn_ldap::ProtocolOp::SearchResEntry(_)) => abandoned_entries += 1,
            (2, rasn_ldap::ProtocolOp::SearchResDone(_)) => abandoned_done = true,
            (4, rasn_ldap::ProtocolOp::SearchResDone(_)) => break,
            _ => {}
        }
    }
    assert!(
        abandoned_entries < 1000 && !abandoned_done,
        "the abandoned search stopped: {abandoned_entries} entries, done {abandoned_done}"
    );
}

#[test]
fn start_tls_is_refused_while_a_search_is_outstanding() {
    let sim = start_plain();
    // More results than the connection's response channel holds (256): the search's task
    // cannot have finished when the StartTLS request behind it is read.
    let ou = ou_with_containers(&sim, "Outstanding", 300, 0);
    let mut stream = raw_as_admin(&sim);
    let search = rasn_ldap::LdapMessage::new(
        2,
        rasn_ldap::ProtocolOp::SearchRequest(rasn_ldap::SearchRequest::new(
            ou.into(),
            rasn_ldap::SearchRequestScope::SingleLevel,
            rasn_ldap::SearchRequestDerefAliases::NeverDerefAliases,
            0,
            0,
            false,
            rasn_ldap::Filter::Present("objectClass".into()),
            vec!["1.1".into()],
        )),
    );
    let start_tls = rasn_ldap::LdapMessage::new(
        3,
        rasn_ldap::ProtocolOp::ExtendedReq(rasn_ldap::ExtendedRequest {
            request_name: b"1.3.6.1.4.1.1466.20037".as_slice().into(),
            request_value: None,
        }),
    );
    // Both in one write: the search is still outstanding when StartTLS is read.
    let mut pipelined = rasn::ber::encode(&search).unwrap();
    pipelined.extend(rasn::ber::encode(&start_tls).unwrap());
    stream.write_all(&pipelined).unwrap();
    let mut start_tls_code = None;
    let mut search_done = false;
    while start_tls_code.is_none() || !search_done {
        let message = decode(&read_message(&mut stream));
        match message.protocol_op {
            rasn_ldap::ProtocolOp::ExtendedResp(response) => {
                start_tls_code = Some(response.result_code)
            }
            rasn_ldap::ProtocolOp::SearchResDone(_) => search_done = true,
            _ => {}
        }
    }
    assert_eq!(start_tls_code, Some(rasn_ldap::ResultCode::OperationsError));
}

/// `OU=<name>` below the domain with `count` containers in it, each with a description of
/// `description_len` characters when not 0, created as the Administrator.
fn ou_with_containers(
    sim: &devwb_simulator::SimHandle,
    name: &str,
    count: usize,
    description_len: usize,
) -> String {
    let ou = format!("OU={name},{}", sim.domain_dn());
    let mut conn = admin(sim);
    conn.add(
        &ou,
        vec![(
            "objectClass",
            ["top", "organizationalUnit"].into_iter().collect(),
        )],
    )
    .unwrap()
    .success()
    .unwrap();
    let description = "x".repeat(description_len);
    for i in 0..count {
        let mut attributes = vec![("objectClass", ["top", "container"].into_iter().collect())];
        if description_len > 0 {
            attributes.push(("description", [description.as_str()].into_iter().collect()));
        }
        conn.add(&format!("CN=a{i},{ou}"), attributes)
            .unwrap()
            .success()
            .unwrap();
    }
    ou
}

/// A raw connection bound as the Administrator (message id 1 used).
fn raw_as_admin(sim: &devwb_simulator::SimHandle) -> TcpStream {
    let mut stream = raw(sim);
    let bind = rasn_ldap::LdapMessage::new(
        1,
        rasn_ldap::ProtocolOp::BindRequest(rasn_ldap::BindRequest::new(
            3,
            sim.admin_dn().into(),
            rasn_ldap::AuthenticationChoice::Simple(sim.admin_password().as_bytes().into()),
        )),
    );
    stream
        .write_all(&rasn::ber::encode(&bind).unwrap())
        .unwrap();
    let _ = read_message(&mut stream);
    stream
}

/// A base search of the rootDSE for `attributes`, as message `id`.
fn root_dse_search(id: u32, attributes: Vec<rasn_ldap::LdapString>) -> rasn_ldap::LdapMessage {
    rasn_ldap::LdapMessage::new(
        id,
        rasn_ldap::ProtocolOp::SearchRequest(rasn_ldap::SearchRequest::new(
            "".into(),
            rasn_ldap::SearchRequestScope::BaseObject,
            rasn_ldap::SearchRequestDerefAliases::NeverDerefAliases,
            0,
            0,
            false,
            rasn_ldap::Filter::Present("objectClass".into()),
            attributes,
        )),
    )
}
