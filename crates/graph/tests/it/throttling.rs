//! Throttling and faults: `Retry-After` honoured, backoff without it, dropped connections and
//! refused connections retried, retries exhausted and the deadline reported with the last answer.

use std::time::{Duration, Instant};

use devwb_graph::{ErrorKind, GraphClient, RetryPolicy};

use crate::support::{devices, page, Canned, Fake};

const TARGET: &str = "/v1.0/devices?$select=id&$top=999";

fn first_page(client: &GraphClient) -> devwb_graph::Result<devwb_graph::Page> {
    client.list_devices(&["id"], false).unwrap().next().unwrap()
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::graph_error(429, "TooManyRequests", "Too many requests.")
                .with_header("Retry-After", "1"),
            Canned::json(200, page(devices("a", 2), None, None)),
        ],
    );
    let client = GraphClient::new(fake.config().with_deadline(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let page = first_page(&client).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(page.items, 2);
    // The backoff alone would be 10-20 ms: only Retry-After explains a second.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let statuses: Vec<u16> = fake.graph_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(client.stats().retries, 1);
}

#[test]
fn a_retry_after_as_an_http_date_is_honoured() {
    let fake = Fake::start();
    let in_two_seconds =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    fake.route(
        TARGET,
        [
            Canned::graph_error(503, "serviceNotAvailable", "try later")
                .with_header("Retry-After", &in_two_seconds),
            Canned::json(200, page(devices("a", 1), None, None)),
        ],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let started = Instant::now();
    first_page(&client).unwrap();
    // HTTP dates have whole seconds: the wait is between one and two of them.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_retry_after_past_the_deadline_fails_at_once_naming_the_throttling() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::graph_error(429, "TooManyRequests", "Too many requests.")
                .with_header("Retry-After", "30"),
        ],
    );
    let client = GraphClient::new(fake.config().with_deadline(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let error = first_page(&client).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "it did not sleep in vain"
    );
    assert!(
        matches!(error.kind(), ErrorKind::DeadlineExceeded { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("HTTP 429 (TooManyRequests: Too many requests.)"),
        "{text}"
    );
    assert!(text.contains(TARGET), "{text}");
}

#[test]
fn without_retry_after_503_and_504_back_off_and_succeed() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::graph_error(503, "serviceNotAvailable", "busy"),
            Canned::json(504, "upstream timeout"),
            Canned::json(200, page(devices("a", 1), None, None)),
        ],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    assert_eq!(first_page(&client).unwrap().items, 1);
    let statuses: Vec<u16> = fake.graph_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 504, 200]);
}

#[test]
fn retries_exhausted_give_the_last_status_and_graph_error() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [Canned::graph_error(
            503,
            "serviceNotAvailable",
            "The service is unavailable.",
        )],
    );
    let client = GraphClient::new(fake.config().with_retry(RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    }))
    .unwrap();
    let error = first_page(&client).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "GET {}{TARGET} failed after 3 attempt(s): HTTP 503 (serviceNotAvailable: The service is unavailable.)",
            fake.url()
        )
    );
    assert_eq!(fake.graph_requests().len(), 3);
}

#[test]
fn a_dropped_connection_is_retried() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::Drop,
            Canned::json(200, page(devices("a", 1), None, None)),
        ],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    assert_eq!(first_page(&client).unwrap().items, 1);
    assert_eq!(fake.graph_requests().len(), 2);
}

#[test]
fn a_server_that_refuses_connections_is_a_transport_error_after_the_retries() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = Fake::start();
    let config = fake
        .config()
        .with_graph_url(&format!("https://127.0.0.1:{port}"))
        .unwrap()
        .with_authority(&format!("https://127.0.0.1:{port}"))
        .unwrap();
    let client = GraphClient::new(config).unwrap();
    let error = first_page(&client).unwrap_err();
    match error.kind() {
        ErrorKind::Transport {
            attempts,
            detail,
            url,
        } => {
            assert_eq!(*attempts, 4, "1 + 3 retries");
            assert!(url.contains(&port.to_string()), "{url}");
            assert!(!detail.is_empty());
        }
        other => panic!("not a transport error: {other:?}"),
    }
}

#[test]
fn a_non_retryable_status_is_not_retried() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [Canned::graph_error(
            400,
            "Request_BadRequest",
            "Invalid $select.",
        )],
    );
    let client = GraphClient::new(fake.config()).unwrap();
    let error = first_page(&client).unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.graph_code(), Some("Request_BadRequest"));
    assert_eq!(fake.graph_requests().len(), 1);
}

#[test]
fn a_request_that_hangs_is_cut_by_the_request_timeout_and_retried() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::Slow(
                Duration::from_secs(3),
                Box::new(Canned::json(200, page(devices("late", 1), None, None))),
            ),
            Canned::json(200, page(devices("a", 2), None, None)),
        ],
    );
    let client = GraphClient::new(
        fake.config()
            .with_request_timeout(Duration::from_millis(400)),
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(first_page(&client).unwrap().items, 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().retries, 1);
}

#[test]
fn a_server_that_always_hangs_ends_at_the_deadline() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [Canned::Slow(
            Duration::from_secs(5),
            Box::new(Canned::json(200, "{}")),
        )],
    );
    let config = fake
        .config()
        .with_request_timeout(Duration::from_millis(300))
        .with_deadline(Duration::from_secs(1))
        .with_retry(RetryPolicy {
            max_retries: 100,
            ..RetryPolicy::default()
        });
    let client = GraphClient::new(config).unwrap();
    let started = Instant::now();
    let error = first_page(&client).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error.kind(), ErrorKind::DeadlineExceeded { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("timed out") || error.to_string().contains("timeout"),
        "{error}"
    );
}
