//! Golden-byte tests of the response encoder and recovery tests of the decoder.

use super::*;
use rasn_ldap::{LdapString, PartialAttribute, ProtocolOp, SearchResultEntry};

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn values(list: &[&str]) -> Vec<Bytes> {
    list.iter()
        .map(|v| Bytes::copy_from_slice(v.as_bytes()))
        .collect()
}

#[test]
fn search_entry_keeps_object_class_order() {
    let response = Response::new(
        2,
        ResponseOp::SearchEntry(SearchEntry {
            dn: "CN=a".into(),
            attributes: vec![(
                "objectClass".into(),
                values(&["top", "person", "organizationalPerson", "user"]),
            )],
        }),
    );
    let expected = hex(concat!(
        "30 47 02 01 02",                                 // message, id 2
        "64 42 04 04 434e3d61",                           // SearchResultEntry, "CN=a"
        "30 3a 30 38 04 0b 6f626a656374436c617373",       // attributes, "objectClass"
        "31 29",                                          // SET OF values, in the order written:
        "04 03 746f70",                                   // top
        "04 06 706572736f6e",                             // person
        "04 14 6f7267616e697a6174696f6e616c506572736f6e", // organizationalPerson
        "04 04 75736572",                                 // user
    ));
    let encoded = encode(&response);
    assert_eq!(encoded.as_ref(), expected.as_slice());

    // A real decoder reads the values back in the same order.
    let decoded: LdapMessage = rasn::ber::decode(&encoded).unwrap();
    let ProtocolOp::SearchResEntry(entry) = decoded.protocol_op else {
        panic!("not an entry: {decoded:?}");
    };
    let order: Vec<Vec<u8>> = entry.attributes[0]
        .vals
        .iter()
        .map(|v| v.to_vec())
        .collect();
    assert_eq!(
        order,
        vec![
            b"top".to_vec(),
            b"person".to_vec(),
            b"organizationalPerson".to_vec(),
            b"user".to_vec()
        ]
    );
}

#[test]
fn single_valued_entry_matches_rasn() {
    // Where order cannot differ, the hand-written encoder must agree with rasn byte for byte.
    let ours = encode(&Response::new(
        300,
        ResponseOp::SearchEntry(SearchEntry {
            dn: "CN=RegisteredDevices,DC=contoso,DC=lab".into(),
            attributes: vec![
                ("cn".into(), values(&["RegisteredDevices"])),
                ("description".into(), vec![Bytes::from(vec![b'x'; 200])]),
            ],
        }),
    ));
    let theirs = rasn::ber::encode(&LdapMessage::new(
        300,
        ProtocolOp::SearchResEntry(SearchResultEntry::new(
            LdapString::from("CN=RegisteredDevices,DC=contoso,DC=lab"),
            vec![
                PartialAttribute::new(
                    "cn".into(),
                    vec![rasn::types::OctetString::from(&b"RegisteredDevices"[..])].into(),
                ),
                PartialAttribute::new(
                    "description".into(),
                    vec![rasn::types::OctetString::from(vec![b'x'; 200])].into(),
                ),
            ],
        )),
    ))
    .unwrap();
    assert_eq!(ours.as_ref(), theirs.as_slice());
}

#[test]
fn results_and_controls_golden() {
    let mut response = Response::new(
        5,
        ResponseOp::SearchDone(Outcome::new(ResultCode::SIZE_LIMIT_EXCEEDED, "")),
    );
    response.controls.push(ResponseControl {
        oid: "1.2.840.113556.1.4.319".into(),
        critical: false,
        value: Some(Bytes::from_static(&[
            0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00,
        ])),
    });
    let expected = hex(concat!(
        "30 31 02 01 05",
        "65 07 0a 01 04 04 00 04 00",
        "a0 23 30 21 04 16 312e322e3834302e3131333535362e312e342e333139",
        "04 07 30 05 02 01 00 04 00",
    ));
    assert_eq!(encode(&response).as_ref(), expected.as_slice());

    let notice = encode(&Response::notice_of_disconnection(
        ResultCode::PROTOCOL_ERROR,
        "x",
    ));
    let decoded: LdapMessage = rasn::ber::decode(&notice).unwrap();
    let ProtocolOp::ExtendedResp(resp) = decoded.protocol_op else {
        panic!("not an extended response");
    };
    assert_eq!(decoded.message_id, 0);
    assert_eq!(
        resp.response_name.as_deref(),
        Some(NOTICE_OF_DISCONNECTION_OID.as_bytes())
    );
}

fn check_undecodable(input: &[u8], expected: Undecodable) {
    let got = decode(input, &Limits::default()).expect_err("must not decode");
    assert_eq!(got, expected);
}

#[test]
fn sicily_bind_gets_auth_method_not_supported() {
    // SEQUENCE { id 7, BindRequest { version 3, name "", [9] sicily package discovery } }
    let input = hex("30 0c 02 01 07 60 07 02 01 03 04 00 89 00");
    let Err(Undecodable::Answer(response)) = decode(&input, &Limits::default()) else {
        panic!("sicily bind must be answered");
    };
    assert_eq!(response.message_id, 7);
    let ResponseOp::Bind(outcome) = response.op else {
        panic!("must be a bind response");
    };
    assert_eq!(outcome.code, ResultCode::AUTH_METHOD_NOT_SUPPORTED);
}

#[test]
fn wrong_tags_get_protocol_error_in_their_response_type() {
    // A search request whose scope is an OCTET STRING instead of an ENUMERATED.
    let input = hex("30 0d 02 01 09 63 08 04 00 04 01 00 0a 01 00");
    let Err(Undecodable::Answer(response)) = decode(&input, &Limits::default()) else {
        panic!("must be answered");
    };
    assert_eq!(response.message_id, 9);
    assert!(
        matches!(&response.op, ResponseOp::SearchDone(o) if o.code == ResultCode::PROTOCOL_ERROR)
    );

    // An unknown application tag.
    let input = hex("30 05 02 01 0a 7f 00");
    let Err(Undecodable::Answer(response)) = decode(&input, &Limits::default()) else {
        panic!("must be answered");
    };
    assert!(
        matches!(&response.op, ResponseOp::Extended { outcome, .. } if outcome.code == ResultCode::PROTOCOL_ERROR)
    );
}

#[test]
fn message_without_an_id_disconnects() {
    let input = hex("30 03 04 01 00");
    let Err(Undecodable::Disconnect(notice)) = decode(&input, &Limits::default()) else {
        panic!("must disconnect");
    };
    assert_eq!(notice.message_id, 0);
    check_undecodable(
        &hex("30 00"),
        Undecodable::Disconnect(notice.clone()).clone_with(&hex("30 00")),
    );
}

impl Undecodable {
    /// The same kind of answer as `decode` gives for `input` (a helper for comparing).
    fn clone_with(self, input: &[u8]) -> Undecodable {
        match decode(input, &Limits::default()) {
            Err(other) => other,
            Ok(_) => self,
        }
    }
}

#[test]
fn binary_assertion_values_decode() {
    // (objectGUID=<16 raw bytes, some not UTF-8>)
    let mut filter = vec![0xa3, 0x1e, 0x04, 0x0a];
    filter.extend_from_slice(b"objectGUID");
    filter.extend_from_slice(&[0x04, 0x10]);
    filter.extend_from_slice(&[
        0xff, 0xfe, 0x80, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    let mut search = hex("04 00 0a 01 02 0a 01 00 02 01 00 02 01 00 01 01 00");
    search.extend_from_slice(&filter);
    search.extend_from_slice(&hex("30 00"));
    let mut op = vec![0x63, search.len() as u8];
    op.extend_from_slice(&search);
    let mut message = hex("02 01 03");
    message.extend_from_slice(&op);
    let mut input = vec![0x30, message.len() as u8];
    input.extend_from_slice(&message);
    let decoded = decode(&input, &Limits::default()).unwrap();
    let ProtocolOp::SearchRequest(request) = decoded.protocol_op else {
        panic!("not a search");
    };
    let rasn_ldap::Filter::EqualityMatch(ava) = request.filter else {
        panic!("not an equality filter");
    };
    assert_eq!(ava.assertion_value.len(), 16);
}

#[test]
fn a_referral_carries_its_urls_in_the_result() {
    let mut outcome = Outcome::new(ResultCode::REFERRAL, "r");
    outcome.referral = vec!["ldap://h/DC=a".into()];
    let response = Response::new(3, ResponseOp::SearchDone(outcome));
    let expected = hex(concat!(
        "30 1e 02 01 03",                         // message, id 3
        "65 19 0a 01 0a",                         // SearchResultDone, referral (10)
        "04 00 04 01 72",                         // matched DN "", message "r"
        "a3 0f 04 0d 6c6461703a2f2f682f44433d61", // [3] Referral: "ldap://h/DC=a"
    ));
    let encoded = encode(&response);
    assert_eq!(encoded.as_ref(), expected.as_slice());
    // A real decoder reads the URL back.
    let decoded: LdapMessage = rasn::ber::decode(&encoded).unwrap();
    let ProtocolOp::SearchResDone(done) = decoded.protocol_op else {
        panic!("not a result: {decoded:?}");
    };
    let referral: Vec<String> = done
        .0
        .referral
        .unwrap()
        .iter()
        .map(|uri| uri.to_string())
        .collect();
    assert_eq!(referral, ["ldap://h/DC=a"]);
}
