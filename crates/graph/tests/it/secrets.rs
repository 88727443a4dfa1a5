//! Secrets never show: not in `Debug` of the configuration, the credential or the client, not in
//! errors (even when the token endpoint echoes the secret back), and not in the log lines the
//! client writes, at every level, through a refresh after a 401 and through retries.

use std::io::Write;
use std::sync::{Arc, Mutex};

use devwb_graph::{Credential, GraphClient, SecretString};

use crate::support::{certificate_credential, devices, page, Canned, Fake, SECRET, TEST_KEY};

const TARGET: &str = "/v1.0/devices?$select=id&$top=999";

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A line of the test key's base64 body.
fn key_material() -> &'static str {
    TEST_KEY.lines().nth(1).unwrap()
}

fn assert_hidden(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "a secret shows in:\n{text}");
    }
}

#[test]
fn debug_output_hides_the_secret_and_the_key() {
    let fake = Fake::start();
    let config = fake.config();
    let client = GraphClient::new(config.clone()).unwrap();
    let (certificate, _) = certificate_credential();
    let debug = format!("{config:?} {client:?} {certificate:?}");
    assert_hidden(&debug, &[SECRET, "PRIVATE KEY", key_material()]);
    assert!(debug.contains("********"));
}

#[test]
fn a_refused_secret_is_not_in_the_error_even_when_echoed_back() {
    let fake = Fake::start();
    let wrong = "Wr0ng~secret.value-that-must-not-leak";
    let client =
        GraphClient::new(fake.config_with(Credential::Secret(SecretString::new(wrong)))).unwrap();
    let error = client
        .list_devices(&["id"], false)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    // The fake echoed it; the client blanked it.
    assert!(fake.requests()[0].status == 401);
    let text = format!("{error} {error:?}");
    assert_hidden(&text, &[wrong]);
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("********"), "{text}");
}

#[test]
fn log_lines_at_every_level_hold_no_secret_and_no_token() {
    let fake = Fake::start();
    fake.route(
        TARGET,
        [
            Canned::graph_error(429, "TooManyRequests", "slow down")
                .with_header("Retry-After", "0"),
            Canned::json(200, page(devices("a", 1), None, None)),
        ],
    );
    let captured = Captured::default();
    let writer = captured.clone();
    // The global subscriber, not a scoped one: callsites first hit by tests on other threads
    // would keep an interest cached without it. Every test's log lines then land here, and none
    // may hold a secret either.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    for credential in [fake.config().credential.clone(), certificate_credential().0] {
        let client =
            GraphClient::new(fake.config_with(credential).with_insecure_skip_verify(true)).unwrap();
        let _ = client.list_devices(&["id"], false).unwrap().count();
        fake.revoke_tokens();
        let _ = client.list_devices(&["id"], false).unwrap().count();
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The run did log: the retry, the refresh after 401, the insecure warning.
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("refreshing the access token"), "{logs}");
    assert!(logs.contains("verification is OFF"), "{logs}");
    let tokens = fake.issued_tokens();
    let mut hidden: Vec<&str> = tokens.iter().map(String::as_str).collect();
    hidden.extend([SECRET, "PRIVATE KEY", key_material(), "fake-access-token"]);
    assert_hidden(&logs, &hidden);
}
