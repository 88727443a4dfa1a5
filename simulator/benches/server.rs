//! Drives a running LDAP server over sockets with pipelined adds, then pipelined searches,
//! then whole-container paged searches, and prints the rates. By default it starts the
//! simulator in process (plain LDAP, simple bind allowed, so TLS cost is left out on both
//! sides); with `--url` it drives another server (OpenLDAP's slapd, see docs/benchmarks.md)
//! with the same client and the same workload.
//!
//! `cargo bench -p devwb-simulator --bench server -- [--url U --bind-dn D --password P --base B]
//!  [--kind ad|openldap] [--adds N] [--connections C] [--window W]
//!  [--phases add,search,paged] [--page-size S] [--paged-connections P] [--paged-rounds R]
//!  [--shape bench|writeback]`
//!
//! `--shape writeback` adds devices as `devwb writeback` writes them (twelve mapped attributes,
//! benches/common/devices.rs; AD only) instead of the six-attribute device both servers share.
//! The paged phase has each of P connections read the whole container R times with the simple
//! paged results control (S entries a page), asking for the attributes the adds wrote, and
//! reports entries per second over all of them.

// A bench binary reports by printing, and a failed request is a failed run.
#![allow(clippy::print_stdout)]

#[path = "common/devices.rs"]
mod devices;

use std::time::Instant;

use bytes::{Buf, BytesMut};
use rasn_ldap::{
    AddRequest, Attribute, AuthenticationChoice, BindRequest, Control, Filter, LdapMessage,
    ProtocolOp, SearchRequest, SearchRequestDerefAliases, SearchRequestScope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Debug)]
struct Options {
    url: Option<String>,
    bind_dn: String,
    password: String,
    base: String,
    kind: String,
    adds: usize,
    connections: usize,
    window: usize,
    phases: Vec<String>,
    page_size: u32,
    paged_connections: usize,
    paged_rounds: usize,
    shape: String,
}

fn options() -> Options {
    let mut options = Options {
        url: None,
        bind_dn: String::new(),
        password: String::new(),
        base: String::new(),
        kind: "ad".into(),
        adds: 20_000,
        connections: 4,
        window: 64,
        phases: vec!["add".into(), "search".into()],
        page_size: 1000,
        paged_connections: 1,
        paged_rounds: 3,
        shape: "bench".into(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--url" => options.url = Some(value),
            "--bind-dn" => options.bind_dn = value,
            "--password" => options.password = value,
            "--base" => options.base = value,
            "--kind" => options.kind = value,
            "--adds" => options.adds = value.parse().expect("--adds is a number"),
            "--connections" => {
                options.connections = value.parse().expect("--connections is a number")
            }
            "--window" => options.window = value.parse().expect("--window is a number"),
            "--phases" => options.phases = value.split(',').map(str::to_string).collect(),
            "--page-size" => options.page_size = value.parse().expect("--page-size is a number"),
            "--paged-connections" => {
                options.paged_connections = value.parse().expect("--paged-connections is a number")
            }
            "--paged-rounds" => {
                options.paged_rounds = value.parse().expect("--paged-rounds is a number")
            }
            "--shape" => options.shape = value,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

fn attribute(name: &str, values: &[&[u8]]) -> Attribute {
    Attribute::new(
        name.into(),
        values
            .iter()
            .map(|v| rasn::types::OctetString::from(v.to_vec()))
            .collect::<Vec<_>>()
            .into(),
    )
}

/// The add request for entry number `n`: an msDS-Device on AD, a `device` on OpenLDAP, with
/// the same number of attributes and about the same size.
fn add_request(kind: &str, base: &str, n: usize) -> ProtocolOp {
    let cn = format!("bench-{n:08}");
    let dn = format!("CN={cn},{base}");
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_le_bytes());
    id[8..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04]);
    let thumb = format!("X509:<SHA1-TP-PUBKEY>{n:040x}");
    let attributes = if kind == "openldap" {
        vec![
            attribute("objectClass", &[b"top", b"device"]),
            attribute("cn", &[cn.as_bytes()]),
            attribute("description", &[cn.as_bytes()]),
            attribute(
                "serialNumber",
                &[id.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .as_bytes()],
            ),
            attribute("seeAlso", &[base.as_bytes()]),
            attribute("l", &[thumb.as_bytes()]),
        ]
    } else {
        vec![
            attribute("objectClass", &[b"top", b"msDS-Device"]),
            attribute("cn", &[cn.as_bytes()]),
            attribute("displayName", &[cn.as_bytes()]),
            attribute("msDS-DeviceID", &[&id]),
            attribute("msDS-IsEnabled", &[b"TRUE"]),
            attribute("altSecurityIdentities", &[thumb.as_bytes()]),
        ]
    };
    ProtocolOp::AddRequest(AddRequest {
        entry: dn.into(),
        attributes,
    })
}

/// An add request from a device of the writeback shape.
fn writeback_request(add: devices::DeviceAdd) -> ProtocolOp {
    let attributes = add
        .attributes
        .iter()
        .map(|(name, values)| {
            let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            attribute(name, &values)
        })
        .collect();
    ProtocolOp::AddRequest(AddRequest {
        entry: add.dn.into(),
        attributes,
    })
}

/// The attributes the adds of `kind` and `shape` wrote, which the paged phase reads back.
fn written_attributes(kind: &str, shape: &str) -> Vec<&'static str> {
    match (kind, shape) {
        ("openldap", _) => vec![
            "objectClass",
            "cn",
            "description",
            "serialNumber",
            "seeAlso",
            "l",
        ],
        (_, "writeback") => devices::WRITEBACK_READ.to_vec(),
        _ => vec![
            "objectClass",
            "cn",
            "displayName",
            "msDS-DeviceID",
            "msDS-IsEnabled",
            "altSecurityIdentities",
        ],
    }
}

const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// The paged results control's value: SEQUENCE { size INTEGER, cookie OCTET STRING }.
fn paged_control(size: u32, cookie: &[u8]) -> Control {
    let size_bytes: Vec<u8> = {
        let bytes = size.to_be_bytes();
        let skip = bytes.iter().take(3).take_while(|&&b| b == 0).count();
        let mut v = bytes[skip..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        v
    };
    let mut body = vec![0x02, size_bytes.len() as u8];
    body.extend_from_slice(&size_bytes);
    body.push(0x04);
    body.push(cookie.len() as u8);
    body.extend_from_slice(cookie);
    let mut value = vec![0x30, body.len() as u8];
    value.extend_from_slice(&body);
    Control::new(
        PAGED_RESULTS_OID.as_bytes().into(),
        false,
        Some(value.into()),
    )
}

/// The cookie of a paged results response control value (empty when the search is done).
fn paged_cookie(value: &[u8]) -> Vec<u8> {
    // 30 len 02 len size... 04 len cookie; lengths below 128 (cookies are short).
    let Some(&size_len) = value.get(3) else {
        return Vec::new();
    };
    let at = 4 + size_len as usize;
    let Some(&cookie_len) = value.get(at + 1) else {
        return Vec::new();
    };
    value
        .get(at + 2..at + 2 + cookie_len as usize)
        .unwrap_or_default()
        .to_vec()
}

fn search_request(base: &str, n: usize) -> ProtocolOp {
    ProtocolOp::SearchRequest(SearchRequest::new(
        base.into(),
        SearchRequestScope::SingleLevel,
        SearchRequestDerefAliases::NeverDerefAliases,
        0,
        0,
        false,
        Filter::EqualityMatch(rasn_ldap::AttributeValueAssertion::new(
            "cn".into(),
            format!("bench-{n:08}").into_bytes().into(),
        )),
        vec!["cn".into(), "objectClass".into()],
    ))
}

fn encode(id: u32, op: ProtocolOp) -> Vec<u8> {
    rasn::ber::encode(&LdapMessage::new(id, op)).expect("requests encode")
}

/// Splits complete messages off `buffer`; returns how many final responses (not entries) and
/// how many of them were not success.
fn count_responses(buffer: &mut BytesMut) -> (usize, usize, usize) {
    let (mut finals, mut failures, mut entries) = (0, 0, 0);
    loop {
        if buffer.len() < 2 {
            break;
        }
        let (length, header) = if buffer[1] < 0x80 {
            (buffer[1] as usize, 2)
        } else {
            let octets = (buffer[1] & 0x7f) as usize;
            if buffer.len() < 2 + octets {
                break;
            }
            (
                buffer[2..2 + octets]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | b as usize),
                2 + octets,
            )
        };
        if buffer.len() < header + length {
            break;
        }
        let message = buffer.split_to(header + length);
        let decoded: LdapMessage = rasn::ber::decode(&message).expect("responses decode");
        match decoded.protocol_op {
            ProtocolOp::SearchResEntry(_) => entries += 1,
            ProtocolOp::AddResponse(r) => {
                finals += 1;
                failures += usize::from(r.0.result_code != rasn_ldap::ResultCode::Success);
            }
            ProtocolOp::SearchResDone(r) => {
                finals += 1;
                failures += usize::from(r.0.result_code != rasn_ldap::ResultCode::Success);
            }
            ProtocolOp::BindResponse(r) => assert_eq!(
                r.result_code,
                rasn_ldap::ResultCode::Success,
                "bind: {}",
                r.diagnostic_message.as_str()
            ),
            other => panic!("unexpected response {other:?}"),
        }
    }
    let _ = buffer.remaining();
    (finals, failures, entries)
}

/// A connection on which `bind_dn` has bound, and its read buffer.
async fn connect(address: &str, bind_dn: String, password: String) -> (TcpStream, BytesMut) {
    let mut stream = TcpStream::connect(address.trim_start_matches("ldap://"))
        .await
        .expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let bind = encode(
        1,
        ProtocolOp::BindRequest(BindRequest::new(
            3,
            bind_dn.into(),
            AuthenticationChoice::Simple(password.into_bytes().into()),
        )),
    );
    stream.write_all(&bind).await.expect("bind sent");
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    while buffer.is_empty() || count_responses(&mut buffer.clone()).0 == 0 && buffer.len() < 8 {
        stream.read_buf(&mut buffer).await.expect("bind answered");
    }
    buffer.clear();
    (stream, buffer)
}

/// Splits one complete message off `buffer`, if there is one.
fn next_message(buffer: &mut BytesMut) -> Option<LdapMessage> {
    if buffer.len() < 2 {
        return None;
    }
    let (length, header) = if buffer[1] < 0x80 {
        (buffer[1] as usize, 2)
    } else {
        let octets = (buffer[1] & 0x7f) as usize;
        if buffer.len() < 2 + octets {
            return None;
        }
        (
            buffer[2..2 + octets]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize),
            2 + octets,
        )
    };
    if buffer.len() < header + length {
        return None;
    }
    let message = buffer.split_to(header + length);
    Some(rasn::ber::decode(&message).expect("responses decode"))
}

/// Reads the whole of `base` (one level, objects of `class`) `rounds` times with the paged
/// results control on one connection; returns (pages, entries).
async fn drive_paged(
    address: String,
    bind_dn: String,
    password: String,
    search: (String, String, Vec<&'static str>),
    page_size: u32,
    rounds: usize,
) -> (usize, usize) {
    let (base, class, attributes) = search;
    let (mut stream, mut buffer) = connect(&address, bind_dn, password).await;
    let (mut pages, mut entries, mut id) = (0, 0, 1u32);
    for _ in 0..rounds {
        let mut cookie: Vec<u8> = Vec::new();
        loop {
            id += 1;
            let mut message = LdapMessage::new(
                id,
                ProtocolOp::SearchRequest(SearchRequest::new(
                    base.clone().into(),
                    SearchRequestScope::SingleLevel,
                    SearchRequestDerefAliases::NeverDerefAliases,
                    0,
                    0,
                    false,
                    Filter::EqualityMatch(rasn_ldap::AttributeValueAssertion::new(
                        "objectClass".into(),
                        class.clone().into_bytes().into(),
                    )),
                    attributes.iter().map(|a| (*a).into()).collect(),
                )),
            );
            message.controls = Some(vec![paged_control(page_size, &cookie)]);
            let request = rasn::ber::encode(&message).expect("requests encode");
            stream.write_all(&request).await.expect("search sent");
            let done = loop {
                match next_message(&mut buffer) {
                    Some(message) => match message.protocol_op {
                        ProtocolOp::SearchResEntry(_) => entries += 1,
                        ProtocolOp::SearchResRef(_) => {}
                        ProtocolOp::SearchResDone(done) => {
                            assert_eq!(
                                done.0.result_code,
                                rasn_ldap::ResultCode::Success,
                                "paged search: {}",
                                done.0.diagnostic_message.as_str()
                            );
                            break message.controls;
                        }
                        other => panic!("unexpected response {other:?}"),
                    },
                    None => {
                        stream.read_buf(&mut buffer).await.expect("responses read");
                    }
                }
            };
            pages += 1;
            cookie = done
                .unwrap_or_default()
                .iter()
                .find(|c| c.control_type.as_ref() == PAGED_RESULTS_OID.as_bytes())
                .and_then(|c| c.control_value.as_ref())
                .map(|v| paged_cookie(v))
                .unwrap_or_default();
            if cookie.is_empty() {
                break;
            }
        }
    }
    (pages, entries)
}

/// Each of `--paged-connections` connections reads the whole container `--paged-rounds`
/// times; returns entries per second over all of them.
async fn paged_phase(options: &Options, url: &str) -> f64 {
    let class = if options.kind == "openldap" {
        "device"
    } else {
        "msDS-Device"
    };
    let attributes = written_attributes(&options.kind, &options.shape);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..options.paged_connections {
        tasks.push(tokio::spawn(drive_paged(
            url.to_string(),
            options.bind_dn.clone(),
            options.password.clone(),
            (options.base.clone(), class.to_string(), attributes.clone()),
            options.page_size,
            options.paged_rounds,
        )));
    }
    let (mut pages, mut entries) = (0, 0);
    for task in tasks {
        let (p, e) = task.await.expect("client task");
        pages += p;
        entries += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = entries as f64 / elapsed;
    println!(
        "paged: {entries} entries in {pages} pages in {elapsed:.2}s = {rate:.0} entries/s ({} connections x {} rounds, page size {}, {} attributes)",
        options.paged_connections,
        options.paged_rounds,
        options.page_size,
        attributes.len()
    );
    rate
}

/// Sends `requests` on one connection with at most `window` outstanding; returns (failures, entries).
async fn drive(
    address: String,
    bind_dn: String,
    password: String,
    requests: Vec<Vec<u8>>,
    window: usize,
) -> (usize, usize) {
    let (mut stream, mut buffer) = connect(&address, bind_dn, password).await;
    let (mut sent, mut done, mut failures, mut entries) = (0, 0, 0, 0);
    let total = requests.len();
    while done < total {
        let mut batch = Vec::new();
        while sent < total && sent - done < window {
            batch.extend_from_slice(&requests[sent]);
            sent += 1;
        }
        if !batch.is_empty() {
            stream.write_all(&batch).await.expect("requests sent");
        }
        stream.read_buf(&mut buffer).await.expect("responses read");
        let (finished, failed, found) = count_responses(&mut buffer);
        done += finished;
        failures += failed;
        entries += found;
    }
    (failures, entries)
}

async fn phase(
    name: &str,
    options: &Options,
    url: &str,
    mut make: impl FnMut(usize) -> ProtocolOp,
) -> f64 {
    let per_connection = options.adds / options.connections;
    // Requests are encoded before the clock starts: the rate is the server's, not the
    // client's encoder's.
    let encoded: Vec<Vec<Vec<u8>>> = (0..options.connections)
        .map(|c| {
            (0..per_connection)
                .map(|i| encode(2 + i as u32, make(c * per_connection + i)))
                .collect()
        })
        .collect();
    let mut tasks = Vec::new();
    let started = Instant::now();
    for requests in encoded {
        tasks.push(tokio::spawn(drive(
            url.to_string(),
            options.bind_dn.clone(),
            options.password.clone(),
            requests,
            options.window,
        )));
    }
    let (mut failures, mut entries) = (0, 0);
    for task in tasks {
        let (f, e) = task.await.expect("client task");
        failures += f;
        entries += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = (per_connection * options.connections) as f64 / elapsed;
    println!(
        "{name}: {} operations in {elapsed:.2}s = {rate:.0}/s ({failures} failed, {entries} entries returned; {} connections, window {})",
        per_connection * options.connections,
        options.connections,
        options.window
    );
    assert_eq!(failures, 0, "every {name} succeeds");
    rate
}

fn main() {
    let mut options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut _sim = None;
        let url = match &options.url {
            Some(url) => url.clone(),
            None => {
                let sim = devwb_simulator::Simulator::builder()
                    .allow_plain_bind(true)
                    .ldaps(None)
                    .start()
                    .await
                    .expect("simulator starts");
                let container = format!("CN=RegisteredDevices,{}", sim.domain_dn());
                options.bind_dn = sim.admin_dn();
                options.password = sim.admin_password().to_string();
                options.base = container.clone();
                let ldif = format!(
                    "dn: {container}\nobjectClass: top\nobjectClass: msDS-DeviceContainer\n\n"
                );
                sim.apply_ldif(&ldif).expect("device container");
                let url = sim.url();
                _sim = Some(sim);
                url
            }
        };
        println!("target {url} kind {} base {}", options.kind, options.base);
        let base = options.base.clone();
        let kind = options.kind.clone();
        let mut result = format!("RESULT kind={}", options.kind);
        let wants = |phase: &str| options.phases.iter().any(|p| p == phase);
        if wants("add") {
            let adds = if options.shape == "writeback" {
                let mut generated = devices::writeback_devices(&base, options.adds as u64, 1);
                phase("add", &options, &url, |_| {
                    writeback_request(generated.next().expect("as many devices as adds"))
                })
                .await
            } else {
                phase("add", &options, &url, |n| add_request(&kind, &base, n)).await
            };
            result.push_str(&format!(" adds_per_s={adds:.0}"));
        }
        if wants("search") {
            let searches = phase("search", &options, &url, |n| search_request(&base, n)).await;
            result.push_str(&format!(" searches_per_s={searches:.0}"));
        }
        if wants("paged") {
            let paged = paged_phase(&options, &url).await;
            result.push_str(&format!(" paged_entries_per_s={paged:.0}"));
        }
        println!("{result}");
    });
}
