//! Memory per device entry (issue 16): loads N devices shaped as `devwb writeback` writes them
//! (benches/common/devices.rs) into a simulator forest through the request handler, without
//! sockets, and reports what the process's resident set grew by, per entry. Each N runs in a
//! child process of its own, so that memory one run gave back to the allocator is not counted
//! in the next. The adds are the whole add path: schema checks, generated attributes, the
//! security descriptor, the store's indexes.
//!
//! `cargo bench -p devwb-simulator --bench entry_memory -- [--devices 100000,300000]`
//! (`simulator/benches/memory.sh` measures `adsim` as its own process, over sockets, with
//! OpenLDAP's slapd beside it.)

// A bench reports by printing, and a failed add is a failed run.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "common/devices.rs"]
mod devices;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use devwb_model::SchemaLevel;
use devwb_simulator::clock::{FixedClock, SeededIds};
use devwb_simulator::codec::ResponseOp;
use devwb_simulator::forest::Forest;
use devwb_simulator::handler::{Handler, HandlerConfig, Session};
use devwb_simulator::request::Identity;
use rasn_ldap::{AddRequest, Attribute, LdapMessage, ProtocolOp};

/// The resident set of this process, in bytes, and its peak.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn add_message(add: devices::DeviceAdd, id: u32) -> LdapMessage {
    LdapMessage::new(
        id,
        ProtocolOp::AddRequest(AddRequest {
            entry: add.dn.into(),
            attributes: add
                .attributes
                .into_iter()
                .map(|(name, values)| {
                    Attribute::new(
                        name.into(),
                        values
                            .into_iter()
                            .map(rasn::types::OctetString::from)
                            .collect::<Vec<_>>()
                            .into(),
                    )
                })
                .collect(),
        }),
    )
}

fn child(count: u64) {
    let forest = Forest::build(
        "contoso.lab",
        SchemaLevel::W2016,
        "Bench-Pw1!",
        Arc::new(FixedClock::at_unix(1_795_568_523)),
        Arc::new(SeededIds::new(1)),
    )
    .expect("forest");
    let handler = Handler::new(Arc::new(forest), HandlerConfig::default());
    let mut session = Session::new(true);
    let names = &handler.forest().names;
    session.identity = Identity {
        dn: Some(names.admin_dn.clone()),
        sid: Some(names.domain_sid.with_rid(500)),
    };
    let container = format!("CN=RegisteredDevices,{}", names.domain_dn);
    let create = devices::DeviceAdd {
        dn: container.clone(),
        attributes: vec![(
            "objectClass",
            vec![b"top".to_vec(), b"msDS-DeviceContainer".to_vec()],
        )],
    };
    handler.handle(&mut session, add_message(create, 1));
    // Each request is built just before it is handled and freed after: what the process
    // keeps is what the store keeps (requests built in advance would leave freed memory for
    // the store to grow into unseen).
    let before = rss().0;
    let started = Instant::now();
    for (n, add) in devices::writeback_devices(&container, count, 1).enumerate() {
        let request = add_message(add, 2 + n as u32);
        let responses = handler.handle(&mut session, request);
        match responses.first().map(|r| &r.op) {
            Some(ResponseOp::Add(outcome)) if outcome.code.0 == 0 => {}
            other => panic!("add refused: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let (after, peak) = rss();
    let grown = after.saturating_sub(before);
    println!(
        "RESULT devices={count} rss_grown_bytes={grown} bytes_per_entry={} rss_after_mib={} peak_mib={} adds_per_s={:.0}",
        grown / count.max(1),
        after >> 20,
        peak >> 20,
        count as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(args[at + 1].parse().expect("a count"));
        return;
    }
    let counts: Vec<u64> = args
        .iter()
        .position(|a| a == "--devices")
        .and_then(|at| args.get(at + 1))
        .map_or("100000,300000", String::as_str)
        .split(',')
        .map(|n| n.trim().parse().expect("--devices takes numbers"))
        .collect();
    println!("entry_memory: writeback-shaped devices through the handler, one process per count");
    for count in counts {
        let output = Command::new(std::env::current_exe().expect("own path"))
            .args(["--child", &count.to_string()])
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        print!("{text}");
    }
}
