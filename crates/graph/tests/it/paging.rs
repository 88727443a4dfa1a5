//! Paging: three pages handed out byte for byte, `@odata.nextLink` followed verbatim, the
//! documented first URLs, callbacks that stop a listing, and links that must not be followed.

use devwb_graph::{Error, ErrorKind, GraphClient, Listing};
use serde_json::json;

use crate::support::{devices, page, Canned, Fake};

const FIRST: &str = "/v1.0/devices?$select=id,deviceId,accountEnabled,displayName&$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)&$top=999";

/// Three pages of 999, 999 and 2 devices; the skip tokens have characters a client must not
/// re-encode.
fn three_pages(fake: &Fake) -> Vec<String> {
    let second = "/v1.0/devices?$select=id&$top=999&$skiptoken=RFNwdAIAAQAAACo6%2bX%3d%3d";
    let third = "/v1.0/devices?$select=id&$top=999&$skiptoken=RFNwdAoAAQ~_-.AAA";
    let bodies = vec![
        page(
            devices("a", 999),
            Some(&format!("{}{second}", fake.url())),
            None,
        ),
        page(
            devices("b", 999),
            Some(&format!("{}{third}", fake.url())),
            None,
        ),
        page(devices("c", 2), None, None),
    ];
    fake.route(FIRST, [Canned::json(200, bodies[0].clone())]);
    fake.route(second, [Canned::json(200, bodies[1].clone())]);
    fake.route(third, [Canned::json(200, bodies[2].clone())]);
    bodies
}

#[test]
fn three_pages_are_read_in_order_byte_for_byte() {
    let fake = Fake::start();
    let bodies = three_pages(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    let pages: Vec<_> = client
        .list_devices(&["id", "deviceId", "accountEnabled", "displayName"], true)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 3);
    for (index, (page, body)) in pages.iter().zip(&bodies).enumerate() {
        assert_eq!(page.index, index);
        assert_eq!(&page.body[..], body.as_bytes(), "page {index}");
        assert!(page.delta_link.is_none());
    }
    let items: Vec<usize> = pages.iter().map(|p| p.items).collect();
    assert_eq!(items, [999, 999, 2]);
    let targets: Vec<String> = fake
        .graph_requests()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(
        targets,
        [
            FIRST,
            "/v1.0/devices?$select=id&$top=999&$skiptoken=RFNwdAIAAQAAACo6%2bX%3d%3d",
            "/v1.0/devices?$select=id&$top=999&$skiptoken=RFNwdAoAAQ~_-.AAA",
        ]
    );
}

#[test]
fn for_each_page_hands_every_page_to_the_callback_and_sums_up() {
    let fake = Fake::start();
    three_pages(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    let mut seen = Vec::new();
    let summary = client
        .for_each_page(
            Listing::Devices {
                select: vec![
                    "id".into(),
                    "deviceId".into(),
                    "accountEnabled".into(),
                    "displayName".into(),
                ],
                expand_owners: true,
            },
            |page| {
                seen.push(page.items);
                Ok::<(), Error>(())
            },
        )
        .unwrap();
    assert_eq!(seen, [999, 999, 2]);
    assert_eq!(summary.pages, 3);
    assert_eq!(summary.items, 2000);
    assert!(summary.delta_link.is_none());
}

/// A caller's own error type, as the writeback crate has.
#[derive(Debug)]
enum CallerError {
    Graph(Error),
    Stop(usize),
}

impl From<Error> for CallerError {
    fn from(error: Error) -> CallerError {
        CallerError::Graph(error)
    }
}

#[test]
fn a_callback_error_stops_the_listing_and_is_returned_as_is() {
    let fake = Fake::start();
    three_pages(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    let listing = Listing::Devices {
        select: vec![
            "id".into(),
            "deviceId".into(),
            "accountEnabled".into(),
            "displayName".into(),
        ],
        expand_owners: true,
    };
    let result = client.for_each_page(listing, |page| {
        if page.index == 1 {
            Err(CallerError::Stop(page.index))
        } else {
            Ok(())
        }
    });
    assert!(matches!(result, Err(CallerError::Stop(1))), "{result:?}");
    assert_eq!(
        fake.graph_requests().len(),
        2,
        "the third page is never asked for"
    );

    // The client's own errors reach the caller through its From<Error>.
    let unknown = Listing::Users {
        select: vec!["id".into()],
    };
    match client.for_each_page(unknown, |_| Ok::<(), CallerError>(())) {
        Err(CallerError::Graph(error)) => assert_eq!(error.status(), Some(404)),
        other => panic!("not the client's error: {other:?}"),
    }
}

#[test]
fn a_page_that_fails_fails_the_listing_naming_the_url_status_and_graph_error() {
    let fake = Fake::start();
    let next = "/v1.0/devices?$select=id&$top=999&$skiptoken=X";
    fake.route(
        "/v1.0/devices?$select=id&$top=999",
        [Canned::json(
            200,
            page(
                devices("a", 1),
                Some(&format!("{}{next}", fake.url())),
                None,
            ),
        )],
    );
    fake.route(
        next,
        [Canned::graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let listing = Listing::Devices {
        select: vec!["id".into()],
        expand_owners: false,
    };
    let error = client
        .for_each_page(listing, |_| Ok::<(), Error>(()))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "GET {}{next} failed after 1 attempt(s): HTTP 403 (Authorization_RequestDenied: \
             Insufficient privileges to complete the operation.)",
            fake.url()
        )
    );
}

#[test]
fn a_next_link_to_another_host_is_not_followed() {
    let fake = Fake::start();
    fake.route(
        "/v1.0/devices?$select=id&$top=999",
        [Canned::json(
            200,
            page(
                devices("a", 1),
                Some("https://attacker.example/v1.0/devices?$skiptoken=1"),
                None,
            ),
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let results: Vec<_> = client.list_devices(&["id"], false).unwrap().collect();
    assert_eq!(
        results.len(),
        1,
        "the page itself comes out; the link is refused before it is used"
    );
    let error = results.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::InvalidResponse { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("attacker.example"), "{error}");
    assert_eq!(fake.graph_requests().len(), 1);
}

#[test]
fn a_body_that_is_not_a_collection_is_an_error_naming_the_page() {
    let fake = Fake::start();
    fake.route(
        "/v1.0/devices?$select=id&$top=999",
        [Canned::json(200, "<html>gateway</html>")],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let error = client
        .list_devices(&["id"], false)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("page 0 is not a Graph collection"),
        "{error}"
    );
}

#[test]
fn users_and_a_devices_owners_are_listed_with_their_documented_urls() {
    let fake = Fake::start();
    fake.route(
        "/v1.0/users?$select=id,onPremisesSecurityIdentifier&$top=999",
        [Canned::json(
            200,
            page(
                json!([{"id": "u1", "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1105"}]),
                None,
                None,
            ),
        )],
    );
    fake.route(
        "/v1.0/devices/0f6a1c52-aaaa-4b0e-9d2b-0123456789ab/registeredOwners?$select=id,onPremisesSecurityIdentifier",
        [Canned::json(200, page(json!([{"@odata.type": "#microsoft.graph.user", "id": "u1"}]), None, None))],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let users: Vec<_> = client
        .list_users(&["id", "onPremisesSecurityIdentifier"])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users[0].items, 1);
    let owners: Vec<_> = client
        .device_owners("0f6a1c52-aaaa-4b0e-9d2b-0123456789ab")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(owners[0].items, 1);
}

#[test]
fn the_client_and_its_pages_can_be_shared_with_and_sent_to_other_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<GraphClient>();
    send_sync::<devwb_graph::Page>();
    send_sync::<devwb_graph::Error>();
}

/// 100,000 devices in 101 pages of 999 (the fake's canned pages, each about 190 KiB), read over
/// TLS: the count and the bytes must add up. Prints the time it took, for the record.
#[test]
fn a_hundred_thousand_devices_come_through_in_101_pages() {
    let fake = Fake::start();
    let pages = 100_000usize.div_ceil(999);
    let mut expected_bytes = 0;
    for index in 0..pages {
        let target = if index == 0 {
            "/v1.0/devices?$select=id,deviceId,accountEnabled,displayName&$top=999".to_string()
        } else {
            format!("/v1.0/devices?$select=id,deviceId,accountEnabled,displayName&$top=999&$skiptoken=p{index}")
        };
        let count = (100_000 - index * 999).min(999);
        let next = (index + 1 < pages).then(|| {
            format!(
                "{}/v1.0/devices?$select=id,deviceId,accountEnabled,displayName&$top=999&$skiptoken=p{}",
                fake.url(),
                index + 1
            )
        });
        let body = page(devices(&format!("p{index}"), count), next.as_deref(), None);
        expected_bytes += body.len();
        fake.route(&target, [Canned::json(200, body)]);
    }
    let client = GraphClient::new(fake.config()).unwrap();
    let started = std::time::Instant::now();
    let summary = client
        .for_each_page(
            Listing::Devices {
                select: vec![
                    "id".into(),
                    "deviceId".into(),
                    "accountEnabled".into(),
                    "displayName".into(),
                ],
                expand_owners: false,
            },
            |_| Ok::<(), Error>(()),
        )
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(summary.pages, pages);
    assert_eq!(summary.items, 100_000);
    assert_eq!(summary.bytes, expected_bytes);
    println!(
        "100k devices: {pages} pages, {} MiB in {elapsed:?} ({:.0} MiB/s)",
        expected_bytes / (1 << 20),
        expected_bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
    );
}
