//! The handler without sockets: a request in, responses out.

use std::sync::Arc;

use devwb_model::SchemaLevel;
use rasn_ldap::{
    AuthenticationChoice, BindRequest, Control, ExtendedRequest, Filter as F, LdapMessage,
    ModifyDnRequest, ProtocolOp, SearchRequest, SearchRequestDerefAliases, SearchRequestScope,
};

use super::*;
use crate::clock::{FixedClock, SeededIds};

fn handler() -> Handler {
    let forest = Forest::build(
        "contoso.lab",
        SchemaLevel::W2016,
        "Admin-Pw1!",
        Arc::new(FixedClock::at_unix(1_795_568_523)),
        Arc::new(SeededIds::new(3)),
    )
    .unwrap();
    Handler::new(Arc::new(forest), HandlerConfig::default())
}

fn admin_session(handler: &Handler) -> Session {
    let mut session = Session::new(true);
    let names = &handler.forest().names;
    session.identity = Identity {
        dn: Some(names.admin_dn.clone()),
        sid: Some(names.domain_sid.with_rid(500)),
    };
    session
}

fn search(base: &str, scope: SearchRequestScope, filter: F, attributes: &[&str]) -> ProtocolOp {
    ProtocolOp::SearchRequest(SearchRequest::new(
        base.into(),
        scope,
        SearchRequestDerefAliases::NeverDerefAliases,
        0,
        0,
        false,
        filter,
        attributes.iter().map(|a| (*a).into()).collect(),
    ))
}

fn run(
    handler: &Handler,
    session: &mut Session,
    op: ProtocolOp,
    controls: Option<Vec<Control>>,
) -> Vec<Response> {
    let mut message = LdapMessage::new(1, op);
    message.controls = controls;
    handler.handle(session, message)
}

fn final_code(responses: &[Response]) -> ResultCode {
    responses
        .last()
        .and_then(|r| r.op.outcome())
        .map(|o| o.code)
        .expect("a final response")
}

fn entries(responses: &[Response]) -> Vec<&crate::codec::SearchEntry> {
    responses
        .iter()
        .filter_map(|r| match &r.op {
            ResponseOp::SearchEntry(entry) => Some(entry),
            _ => None,
        })
        .collect()
}

#[test]
fn root_dse_is_generated_from_the_forest_and_clock() {
    let handler = handler();
    let mut session = Session::new(false);
    let responses = run(
        &handler,
        &mut session,
        search(
            "",
            SearchRequestScope::BaseObject,
            F::Present("objectclass".into()),
            &["currentTime", "namingContexts", "highestCommittedUSN"],
        ),
        None,
    );
    assert_eq!(final_code(&responses), ResultCode::SUCCESS);
    let root = entries(&responses)[0];
    let value = |name: &str| {
        root.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        value("currentTime"),
        vec![Bytes::from_static(b"20261125010203.0Z")]
    );
    assert_eq!(value("namingContexts").len(), 3);
    assert_eq!(
        value("highestCommittedUSN"),
        vec![Bytes::from(
            handler.forest().store.highest_usn().to_string()
        )]
    );
    assert_eq!(root.attributes.len(), 3, "only what was asked for");
}

#[test]
fn binds() {
    let handler = handler();
    let bind = |name: &str, password: &str| {
        ProtocolOp::BindRequest(BindRequest::new(
            3,
            name.into(),
            AuthenticationChoice::Simple(password.as_bytes().into()),
        ))
    };
    let admin = handler.forest().names.admin_dn.to_string();
    let mut plain = Session::new(false);
    assert_eq!(
        final_code(&run(&handler, &mut plain, bind(&admin, "Admin-Pw1!"), None)),
        ResultCode::STRONGER_AUTH_REQUIRED
    );
    let mut tls = Session::new(true);
    assert_eq!(
        final_code(&run(&handler, &mut tls, bind(&admin, "wrong"), None)),
        ResultCode::INVALID_CREDENTIALS
    );
    assert!(tls.identity.is_anonymous());
    assert_eq!(
        final_code(&run(
            &handler,
            &mut tls,
            bind("Administrator@contoso.lab", "Admin-Pw1!"),
            None
        )),
        ResultCode::SUCCESS
    );
    assert_eq!(
        tls.identity.dn.as_ref(),
        Some(&handler.forest().names.admin_dn)
    );
    assert_eq!(
        final_code(&run(&handler, &mut tls, bind(&admin, ""), None)),
        ResultCode::UNWILLING_TO_PERFORM
    );
    assert_eq!(
        final_code(&run(&handler, &mut tls, bind("", ""), None)),
        ResultCode::SUCCESS
    );
    assert!(tls.identity.is_anonymous());
    let who = run(
        &handler,
        &mut admin_session(&handler),
        ProtocolOp::ExtendedReq(ExtendedRequest {
            request_name: WHO_AM_I_OID.as_bytes().into(),
            request_value: None,
        }),
        None,
    );
    assert!(
        matches!(&who[0].op, ResponseOp::Extended { value: Some(v), .. } if v.as_ref() == b"u:CONTOSO\\Administrator")
    );
}

#[test]
fn paged_search_walks_all_pages_with_cookies() {
    let handler = handler();
    let mut session = admin_session(&handler);
    let users = format!("CN=Users,{}", handler.forest().names.domain_dn);
    let paged = |cookie: &[u8]| {
        let mut value = Vec::new();
        crate::codec::ber::write_constructed(&mut value, 0x30, |out| {
            crate::codec::ber::write_integer(out, 0x02, 2);
            crate::codec::ber::write_primitive(out, 0x04, cookie);
        });
        vec![Control::new(
            controls::PAGED_RESULTS.as_bytes().into(),
            true,
            Some(value.into()),
        )]
    };
    let mut cookie = Vec::new();
    let mut seen = 0;
    for _ in 0..10 {
        let responses = run(
            &handler,
            &mut session,
            search(
                &users,
                SearchRequestScope::SingleLevel,
                F::Present("objectClass".into()),
                &["1.1"],
            ),
            Some(paged(&cookie)),
        );
        assert_eq!(final_code(&responses), ResultCode::SUCCESS);
        seen += entries(&responses).len();
        let control = responses
            .last()
            .unwrap()
            .controls
            .first()
            .cloned()
            .expect("paged response control");
        let value = control.value.unwrap();
        let (_, content, _) = crate::codec::ber::read_tlv(&value).unwrap();
        let (_, _, rest) = crate::codec::ber::read_tlv(content).unwrap();
        let (_, next, _) = crate::codec::ber::read_tlv(rest).unwrap();
        cookie = next.to_vec();
        if cookie.is_empty() {
            break;
        }
    }
    assert!(cookie.is_empty(), "paging ends");
    assert_eq!(
        seen,
        handler
            .forest()
            .store
            .children(&devwb_model::Dn::parse(&users).unwrap())
            .len()
    );
    let stale = run(
        &handler,
        &mut session,
        search(
            &users,
            SearchRequestScope::SingleLevel,
            F::Present("objectClass".into()),
            &["1.1"],
        ),
        Some(paged(b"nonsense")),
    );
    assert_eq!(final_code(&stale), ResultCode::UNWILLING_TO_PERFORM);
}

#[test]
fn rename_and_extended_dn_and_missing_objects() {
    let handler = handler();
    let mut session = admin_session(&handler);
    let domain = handler.forest().names.domain_dn.to_string();
    let missing = run(
        &handler,
        &mut session,
        search(
            &format!("CN=nope,CN=Users,{domain}"),
            SearchRequestScope::BaseObject,
            F::Present("objectClass".into()),
            &[],
        ),
        None,
    );
    assert_eq!(final_code(&missing), ResultCode::NO_SUCH_OBJECT);
    assert!(
        matches!(&missing[0].op, ResponseOp::SearchDone(o) if o.matched == format!("CN=Users,{domain}"))
    );

    let rename = ProtocolOp::ModDnRequest(ModifyDnRequest {
        entry: format!("CN=Domain Users,CN=Users,{domain}").into(),
        new_rdn: "CN=All Users".into(),
        delete_old_rdn: true,
        new_superior: None,
    });
    assert_eq!(
        final_code(&run(&handler, &mut session, rename, None)),
        ResultCode::SUCCESS
    );
    let sid = handler.forest().names.domain_sid.with_rid(513);
    let by_sid = run(
        &handler,
        &mut session,
        search(
            &format!("<SID={sid}>"),
            SearchRequestScope::BaseObject,
            F::Present("objectClass".into()),
            &["cn", "name"],
        ),
        None,
    );
    let entry = entries(&by_sid)[0];
    assert_eq!(entry.dn, format!("CN=All Users,CN=Users,{domain}"));
    assert_eq!(
        entry.attributes,
        vec![
            ("cn".to_string(), vec![Bytes::from_static(b"All Users")]),
            ("name".to_string(), vec![Bytes::from_static(b"All Users")])
        ]
    );
    let bad = run(
        &handler,
        &mut session,
        search(
            "<GUID=zz>",
            SearchRequestScope::BaseObject,
            F::Present("objectClass".into()),
            &[],
        ),
        None,
    );
    assert_eq!(final_code(&bad), ResultCode::INVALID_DN_SYNTAX);
}
