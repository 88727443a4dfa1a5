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
    let all = run(
        &handler,
        &mut session,
        search(
            "",
            SearchRequestScope::BaseObject,
            F::Present("objectClass".into()),
            &["*", "objectClass"],
        ),
        None,
    );
    let names: Vec<&str> = entries(&all)[0]
        .attributes
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(names.contains(&"namingContexts"), "{names:?}");
    assert!(!names.contains(&"objectClass"), "no objectClass: {names:?}");
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

/// What a search of a new user returns for an attribute list, in the shape of `expected`:
/// `rc=<code>` for a failed search, else space-separated checks on the returned names:
/// `=a,b` the exact names in order (`=` alone for none), `+a` present, `-a` absent.
fn check_selection(attributes: &[&str], scope: SearchRequestScope, expected: &str) {
    let handler = handler();
    let (dn, _) = handler
        .forest()
        .add_user("selection-user", "Passw0rd-1!")
        .unwrap();
    let responses = run(
        &handler,
        &mut admin_session(&handler),
        search(
            &dn.to_string(),
            scope,
            F::Present("objectClass".into()),
            attributes,
        ),
        None,
    );
    let code = final_code(&responses);
    if let Some(wanted) = expected.strip_prefix("rc=") {
        assert_eq!(code.0.to_string(), wanted, "{attributes:?}");
        assert!(entries(&responses).is_empty(), "{attributes:?}");
        return;
    }
    assert_eq!(code, ResultCode::SUCCESS, "{attributes:?}");
    let found = entries(&responses);
    assert_eq!(found.len(), 1, "{attributes:?}");
    let names: Vec<&str> = found[0]
        .attributes
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for check in expected.split(' ') {
        if let Some(exact) = check.strip_prefix('=') {
            let wanted: Vec<&str> = exact.split(',').filter(|n| !n.is_empty()).collect();
            assert_eq!(names, wanted, "{attributes:?}");
        } else if let Some(present) = check.strip_prefix('+') {
            assert!(
                names.contains(&present),
                "{attributes:?}: {present} in {names:?}"
            );
        } else if let Some(absent) = check.strip_prefix('-') {
            assert!(
                !names.contains(&absent),
                "{attributes:?}: no {absent} in {names:?}"
            );
        }
    }
}

#[test]
fn attribute_selection_is_a_windows_dcs() {
    use SearchRequestScope::{BaseObject as Base, WholeSubtree as Subtree};
    let stored = "+objectClass +whenCreated +uSNChanged +objectSid +pwdLastSet";
    let no_extras = "-nTSecurityDescriptor -createTimeStamp -canonicalName -tokenGroups";
    for (attributes, scope, expected) in [
        (&[][..], Base, format!("{stored} {no_extras}")),
        (&["*"][..], Base, format!("{stored} {no_extras}")),
        (&["*", "+"][..], Base, format!("{stored} {no_extras}")),
        (&["+"][..], Base, "=".to_string()),
        (&["1.1"][..], Base, "=".to_string()),
        (&["+", "1.1"][..], Base, "=".to_string()),
        (&["1.1", "cn"][..], Base, "=cn".to_string()),
        (&["noSuchAttribute", "cn"][..], Base, "=cn".to_string()),
        (&["cn", "CN", "2.5.4.3"][..], Base, "=cn".to_string()),
        (
            &["SAMACCOUNTNAME", "objectguid", "1.2.840.113556.1.4.90"][..],
            Base,
            // unicodePwd, by OID: resolved, but never returned.
            "=sAMAccountName,objectGUID".to_string(),
        ),
        (
            &["*", "createTimeStamp", "CANONICALNAME"][..],
            Base,
            format!("{stored} +createTimeStamp +canonicalName"),
        ),
        (
            &["nTSecurityDescriptor"][..],
            Base,
            "=nTSecurityDescriptor".to_string(),
        ),
        (
            &["subschemaSubentry"][..],
            Base,
            "=subSchemaSubEntry".to_string(),
        ),
        (
            &["structuralObjectClass", "parentGUID", "primaryGroupToken"][..],
            Base,
            "=structuralObjectClass,parentGUID".to_string(),
        ),
        (&["tokenGroups"][..], Base, "=tokenGroups".to_string()),
        (&["tokenGroups"][..], Subtree, "rc=1".to_string()),
        (
            &["cn", "msds-memberOfTransitive"][..],
            Subtree,
            "rc=1".to_string(),
        ),
        (
            &["createTimeStamp"][..],
            Subtree,
            "=createTimeStamp".to_string(),
        ),
    ] {
        check_selection(attributes, scope, &expected);
    }
}

#[test]
fn constructed_values_are_computed_from_the_entry_and_the_schema() {
    let handler = handler();
    let (dn, _) = handler
        .forest()
        .add_user("constructed", "Passw0rd-1!")
        .unwrap();
    let names = &handler.forest().names;
    let responses = run(
        &handler,
        &mut admin_session(&handler),
        search(
            &dn.to_string(),
            SearchRequestScope::BaseObject,
            F::Present("objectClass".into()),
            &[
                "structuralObjectClass",
                "tokenGroups",
                "createTimeStamp",
                "canonicalName",
                "parentGUID",
            ],
        ),
        None,
    );
    let entry = entries(&responses)[0];
    let values = |name: &str| -> Vec<Bytes> {
        entry
            .attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let texts = |name: &str| -> Vec<String> {
        values(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    assert_eq!(
        texts("structuralObjectClass"),
        ["top", "person", "organizationalPerson", "user"]
    );
    // Domain Users, the primary group; the account's own SID is not a group's.
    let domain_users = Bytes::from(names.domain_sid.with_rid(513).to_bytes());
    assert_eq!(values("tokenGroups"), vec![domain_users]);
    assert_eq!(texts("createTimeStamp"), ["20261125010203.0Z"]);
    assert_eq!(texts("canonicalName"), ["contoso.lab/Users/constructed"]);
    let users = handler.forest().store.get(&dn.parent().unwrap()).unwrap();
    assert_eq!(
        values("parentGUID"),
        users.attrs.values("objectGUID").to_vec()
    );
}
