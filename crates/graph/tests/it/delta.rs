//! Delta rounds: the first reads every device and ends in a delta link; a later round started
//! from the saved link returns changes and `@removed` devices; an expired link is its own error.

use devwb_graph::{DeltaLink, ErrorKind, GraphClient};
use serde_json::json;

use crate::support::{devices, page, Canned, Fake};

const FIRST: &str = "/v1.0/devices/delta?$select=id,deviceId,accountEnabled";
const SELECT: [&str; 3] = ["id", "deviceId", "accountEnabled"];

#[test]
fn a_first_round_pages_to_a_delta_link_and_a_later_round_starts_from_it() {
    let fake = Fake::start();
    let second = "/v1.0/devices/delta?$skiptoken=page2";
    let round_2 = "/v1.0/devices/delta?$deltatoken=R2-aGVsbG8gd29ybGQ%3d";
    let round_3 = "/v1.0/devices/delta?$deltatoken=R3";
    fake.route(
        FIRST,
        [Canned::json(
            200,
            page(
                devices("a", 3),
                Some(&format!("{}{second}", fake.url())),
                None,
            ),
        )],
    );
    fake.route(
        second,
        [Canned::json(
            200,
            page(
                devices("b", 2),
                None,
                Some(&format!("{}{round_2}", fake.url())),
            ),
        )],
    );
    let changes = json!([
        {"id": "a-1", "deviceId": "d-a-1", "accountEnabled": false},
        {"id": "b-0", "@removed": {"reason": "deleted"}},
        {"id": "n-1", "deviceId": "d-n-1", "accountEnabled": true},
    ]);
    fake.route(
        round_2,
        [Canned::json(
            200,
            page(changes, None, Some(&format!("{}{round_3}", fake.url()))),
        )],
    );

    let client = GraphClient::new(fake.config()).unwrap();
    let mut first = client.devices_delta(None, &SELECT).unwrap();
    let items: Vec<usize> = first.by_ref().map(|p| p.unwrap().items).collect();
    assert_eq!(items, [3, 2]);
    let link = first.delta_link().cloned().unwrap();
    assert_eq!(link.as_str(), format!("{}{round_2}", fake.url()));
    assert_eq!(first.summary().delta_link.as_ref(), Some(&link));

    // The link survives being saved as JSON and read back, as the sync state will do.
    let saved = serde_json::to_string(&link).unwrap();
    let link: DeltaLink = serde_json::from_str(&saved).unwrap();

    let mut later = client.devices_delta(Some(link), &SELECT).unwrap();
    let pages: Vec<_> = later.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(pages.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&pages[0].body).unwrap();
    assert_eq!(body["value"][1]["@removed"]["reason"], "deleted");
    assert_eq!(pages[0].items, 3);
    assert_eq!(
        later.delta_link().unwrap().as_str(),
        format!("{}{round_3}", fake.url())
    );

    let targets: Vec<String> = fake
        .graph_requests()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(targets, [FIRST, second, round_2]);
}

#[test]
fn a_410_gone_is_delta_token_expired() {
    let fake = Fake::start();
    let stale = "/v1.0/devices/delta?$deltatoken=stale";
    fake.route(stale, [Canned::graph_error(410, "", "")]);
    let client = GraphClient::new(fake.config()).unwrap();
    let link = DeltaLink::new(format!("{}{stale}", fake.url())).unwrap();
    let error = client
        .devices_delta(Some(link), &SELECT)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(error.is_delta_token_expired(), "{error}");
    assert!(matches!(
        error.kind(),
        ErrorKind::DeltaTokenExpired { status: 410, .. }
    ));
    assert!(
        error.to_string().contains("a full resync is needed"),
        "{error}"
    );
    assert_eq!(fake.graph_requests().len(), 1, "not retried");
}

#[test]
fn a_sync_state_not_found_is_delta_token_expired() {
    let fake = Fake::start();
    let stale = "/v1.0/devices/delta?$deltatoken=week-old";
    fake.route(stale, [Canned::graph_error(
        400,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    )]);
    let client = GraphClient::new(fake.config()).unwrap();
    let link = DeltaLink::new(format!("{}{stale}", fake.url())).unwrap();
    let error = client
        .devices_delta(Some(link), &SELECT)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(error.is_delta_token_expired(), "{error}");
    assert_eq!(error.graph_code(), Some("syncStateNotFound"));

    // A full round then works.
    fake.route(
        FIRST,
        [Canned::json(
            200,
            page(
                devices("a", 1),
                None,
                Some(&format!(
                    "{}/v1.0/devices/delta?$deltatoken=new",
                    fake.url()
                )),
            ),
        )],
    );
    let mut full = client.devices_delta(None, &SELECT).unwrap();
    assert_eq!(full.by_ref().count(), 1);
    assert!(full.delta_link().is_some());
}

#[test]
fn the_same_status_outside_delta_is_a_plain_http_error() {
    let fake = Fake::start();
    fake.route(
        "/v1.0/devices?$select=id&$top=999",
        [Canned::graph_error(410, "", "gone")],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let error = client
        .list_devices(&["id"], false)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(!error.is_delta_token_expired());
    assert_eq!(error.status(), Some(410));
}

#[test]
fn a_delta_page_with_no_link_at_all_is_an_error() {
    let fake = Fake::start();
    fake.route(
        FIRST,
        [Canned::json(200, page(devices("a", 1), None, None))],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let error = client
        .devices_delta(None, &SELECT)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("neither @odata.nextLink nor @odata.deltaLink"),
        "{error}"
    );
}

#[test]
fn a_saved_link_to_another_host_is_refused_before_any_request() {
    let fake = Fake::start();
    let client = GraphClient::new(fake.config()).unwrap();
    let link =
        DeltaLink::new("https://elsewhere.example/v1.0/devices/delta?$deltatoken=x").unwrap();
    let error = client.devices_delta(Some(link), &SELECT).unwrap_err();
    assert!(error.to_string().contains("elsewhere.example"), "{error}");
    assert!(fake.requests().is_empty());
}

#[test]
fn a_link_from_now_is_one_request_and_a_service_that_lists_anyway_is_read_to_its_link() {
    let latest = "/v1.0/devices/delta?$select=id,deviceId,accountEnabled&$deltatoken=latest";
    let round_1 = "/v1.0/devices/delta?$deltatoken=now";
    let fake = Fake::start();
    fake.route(
        latest,
        [Canned::json(
            200,
            page(json!([]), None, Some(&format!("{}{round_1}", fake.url()))),
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let link = client.devices_delta_link_from_now(&SELECT).unwrap();
    assert_eq!(link.as_str(), format!("{}{round_1}", fake.url()));
    let targets: Vec<String> = fake
        .graph_requests()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(targets, [latest]);

    // A service that ignores the token and starts a first round: its pages are read through.
    let fake = Fake::start();
    let second = "/v1.0/devices/delta?$skiptoken=page2";
    fake.route(
        latest,
        [Canned::json(
            200,
            page(
                devices("a", 3),
                Some(&format!("{}{second}", fake.url())),
                None,
            ),
        )],
    );
    fake.route(
        second,
        [Canned::json(
            200,
            page(
                devices("b", 1),
                None,
                Some(&format!("{}{round_1}", fake.url())),
            ),
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let link = client.devices_delta_link_from_now(&SELECT).unwrap();
    assert_eq!(link.as_str(), format!("{}{round_1}", fake.url()));

    // One that refuses it says so with Graph's status, for the caller to take a first round.
    let fake = Fake::start();
    fake.route(
        latest,
        [Canned::graph_error(
            400,
            "Request_UnsupportedQuery",
            "Unsupported query.",
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let error = client.devices_delta_link_from_now(&SELECT).unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
}
