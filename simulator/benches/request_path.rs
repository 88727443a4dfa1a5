//! The request path without sockets: decoding a request, evaluating a search against the
//! store, encoding the entries, and a whole add through the handler.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use devwb_model::SchemaLevel;
use devwb_simulator::clock::{FixedClock, SeededIds};
use devwb_simulator::codec::{self, Limits};
use devwb_simulator::forest::Forest;
use devwb_simulator::handler::{Handler, HandlerConfig, Session};
use devwb_simulator::request::Identity;
use rasn_ldap::{
    AddRequest, Attribute, AttributeValueAssertion, Filter, LdapMessage, ProtocolOp, SearchRequest,
    SearchRequestDerefAliases, SearchRequestScope,
};

fn forest() -> (Handler, Session) {
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
    (handler, session)
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

fn add(base: &str, n: u64) -> LdapMessage {
    let cn = format!("bench-{n:08}");
    let mut id = [7u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    LdapMessage::new(
        2,
        ProtocolOp::AddRequest(AddRequest {
            entry: format!("CN={cn},{base}").into(),
            attributes: vec![
                attribute("objectClass", &[b"top", b"msDS-Device"]),
                attribute("cn", &[cn.as_bytes()]),
                attribute("displayName", &[cn.as_bytes()]),
                attribute("msDS-DeviceID", &[&id]),
                attribute("msDS-IsEnabled", &[b"TRUE"]),
                attribute(
                    "altSecurityIdentities",
                    &[format!("X509:<SHA1-TP-PUBKEY>{n:040x}").as_bytes()],
                ),
            ],
        }),
    )
}

fn search(base: &str, filter: Filter) -> LdapMessage {
    LdapMessage::new(
        3,
        ProtocolOp::SearchRequest(SearchRequest::new(
            base.into(),
            SearchRequestScope::SingleLevel,
            SearchRequestDerefAliases::NeverDerefAliases,
            0,
            0,
            false,
            filter,
            vec!["cn".into(), "objectClass".into(), "msDS-DeviceID".into()],
        )),
    )
}

fn benches(c: &mut Criterion) {
    let (handler, mut session) = forest();
    let container = format!("CN=RegisteredDevices,{}", handler.forest().names.domain_dn);
    let create = LdapMessage::new(
        1,
        ProtocolOp::AddRequest(AddRequest {
            entry: container.clone().into(),
            attributes: vec![attribute("objectClass", &[b"top", b"msDS-DeviceContainer"])],
        }),
    );
    handler.handle(&mut session, create);
    for n in 0..1000 {
        handler.handle(&mut session, add(&container, n));
    }
    let by_cn = search(
        &container,
        Filter::EqualityMatch(AttributeValueAssertion::new(
            "cn".into(),
            b"bench-00000500".to_vec().into(),
        )),
    );
    let encoded = rasn::ber::encode(&by_cn).expect("encodes");
    let limits = Limits::default();

    c.bench_function("decode a search request", |b| {
        b.iter(|| codec::decode(std::hint::black_box(&encoded), &limits).expect("decodes"))
    });
    c.bench_function("one-level search of 1000 devices, one match", |b| {
        b.iter(|| handler.handle(&mut session, by_cn.clone()))
    });
    let responses = handler.handle(&mut session, by_cn.clone());
    c.bench_function("encode the search's responses", |b| {
        b.iter(|| {
            responses
                .iter()
                .map(codec::encode)
                .map(|b| b.len())
                .sum::<usize>()
        })
    });
    let mut n = 10_000u64;
    c.bench_function("add one device through the handler", |b| {
        b.iter(|| {
            n += 1;
            handler.handle(&mut session, add(&container, n))
        })
    });
}

criterion_group!(request_path, benches);
criterion_main!(request_path);
