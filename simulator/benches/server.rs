//! Drives a running LDAP server over sockets with pipelined adds, then pipelined searches,
//! and prints the rates. By default it starts the simulator in process (plain LDAP, simple
//! bind allowed, so TLS cost is left out on both sides); with `--url` it drives another server
//! (OpenLDAP's slapd, see docs/benchmarks.md) with the same client and the same workload.
//!
//! `cargo bench -p devwb-simulator --bench server -- [--url U --bind-dn D --password P --base B]
//!  [--kind ad|openldap] [--adds N] [--connections C] [--window W]`

// A bench binary reports by printing, and a failed request is a failed run.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use bytes::{Buf, BytesMut};
use rasn_ldap::{
    AddRequest, Attribute, AuthenticationChoice, BindRequest, Filter, LdapMessage, ProtocolOp,
    SearchRequest, SearchRequestDerefAliases, SearchRequestScope,
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

/// Sends `requests` on one connection with at most `window` outstanding; returns (failures, entries).
async fn drive(
    address: String,
    bind_dn: String,
    password: String,
    requests: Vec<Vec<u8>>,
    window: usize,
) -> (usize, usize) {
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
    make: impl Fn(usize) -> ProtocolOp,
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
        let adds = phase("add", &options, &url, |n| add_request(&kind, &base, n)).await;
        let searches = phase("search", &options, &url, |n| search_request(&base, n)).await;
        println!(
            "RESULT kind={} adds_per_s={adds:.0} searches_per_s={searches:.0}",
            options.kind
        );
    });
}
