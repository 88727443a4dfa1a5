//! Tokens: by secret and by certificate, cached across listings, refreshed near expiry and
//! once after a 401.

use std::collections::HashMap;
use std::time::Duration;

use devwb_graph::{ErrorKind, GraphClient};
use serde_json::json;

use crate::support::{
    certificate_credential, page, AppCredential, Canned, Fake, CLIENT_ID, SECRET, TENANT,
};

/// One device page at /v1.0/devices?$select=id&$top=999.
fn one_page(fake: &Fake) -> &'static str {
    let target = "/v1.0/devices?$select=id&$top=999";
    fake.route(
        target,
        [Canned::json(200, page(json!([{"id": "1"}]), None, None))],
    );
    target
}

fn list_once(client: &GraphClient) -> usize {
    client
        .list_devices(&["id"], false)
        .unwrap()
        .map(|page| page.unwrap().items)
        .sum()
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn a_client_secret_gets_a_token_and_graph_sees_it_as_bearer() {
    let fake = Fake::start();
    one_page(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    assert_eq!(list_once(&client), 1);

    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].target, format!("/{TENANT}/oauth2/v2.0/token"));
    let form = form(&tokens[0].body);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], format!("{}/.default", fake.url()));
    assert!(!form.contains_key("client_assertion"));

    let graph = fake.graph_requests();
    assert_eq!(graph.len(), 1);
    assert_eq!(
        graph[0].authorization.as_deref(),
        Some(format!("Bearer {}", fake.issued_tokens()[0]).as_str())
    );
}

#[test]
fn a_certificate_signs_an_assertion_the_token_endpoint_verifies() {
    let (credential, registered) = certificate_credential();
    let fake = Fake::start_with(registered.clone());
    one_page(&fake);
    let client = GraphClient::new(fake.config_with(credential)).unwrap();
    assert_eq!(list_once(&client), 1);

    // The fake verified signature, thumbprints, audience, issuer and subject; here the rest.
    let assertions = fake.assertions();
    assert_eq!(assertions.len(), 1);
    let (header, claims) = &assertions[0];
    let AppCredential::Certificate { cert_der, .. } = registered else {
        unreachable!()
    };
    use base64::Engine as _;
    use sha1::Digest as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], b64.encode(sha1::Sha1::digest(&cert_der)));
    assert_eq!(
        header["x5t#S256"],
        b64.encode(sha2::Sha256::digest(&cert_der))
    );
    assert_eq!(
        claims.aud,
        format!("{}/{TENANT}/oauth2/v2.0/token", fake.url())
    );
    assert_eq!(claims.iss, CLIENT_ID);
    assert_eq!(claims.sub, CLIENT_ID);
    assert_eq!(claims.exp - claims.nbf, 600);
    assert_eq!(claims.jti.len(), 32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        claims.nbf <= now && now - claims.nbf < 60,
        "nbf {}",
        claims.nbf
    );
    let form = form(&fake.token_requests()[0].body);
    assert!(!form.contains_key("client_secret"));
}

#[test]
fn a_certificate_the_tenant_does_not_know_is_refused_with_the_aadsts_text() {
    let (credential, _) = certificate_credential();
    // The tenant has another certificate registered for the app.
    let other = crate::support::make_pki("another cert");
    let other_der = rustls_pemfile::certs(&mut other.ca_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let fake = Fake::start_with(AppCredential::Certificate {
        cert_der: other_der.to_vec(),
        public_key: vec![1, 2, 3],
    });
    one_page(&fake);
    let client = GraphClient::new(fake.config_with(credential)).unwrap();
    let error = client
        .list_devices(&["id"], false)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    match error.kind() {
        ErrorKind::TokenRefused {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(code, "invalid_client");
            assert!(message.starts_with("AADSTS700027"), "{message}");
            // Only the first line of the description: no trace ids.
            assert!(!message.contains("Trace ID"), "{message}");
        }
        other => panic!("not a refused token: {other:?}"),
    }
    assert!(fake.graph_requests().is_empty());
}

#[test]
fn a_token_is_reused_across_listings_until_near_its_expiry() {
    let fake = Fake::start();
    one_page(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    for _ in 0..3 {
        assert_eq!(list_once(&client), 1);
    }
    // A clone on another thread shares the cache.
    let clone = client.clone();
    std::thread::spawn(move || assert_eq!(list_once(&clone), 1))
        .join()
        .unwrap();
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(client.stats().graph_requests, 4);
}

#[test]
fn a_short_lived_token_is_refreshed_before_it_expires() {
    let fake = Fake::start();
    // 2 s of life: used for 1.8 s (a tenth of the lifetime is kept as margin).
    fake.set_token_lifetime(2);
    one_page(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    list_once(&client);
    list_once(&client);
    assert_eq!(fake.token_requests().len(), 1);
    std::thread::sleep(Duration::from_millis(1900));
    list_once(&client);
    assert_eq!(fake.token_requests().len(), 2);
    let tokens = fake.issued_tokens();
    let last = fake.graph_requests().pop().unwrap();
    assert_eq!(last.authorization.unwrap(), format!("Bearer {}", tokens[1]));
}

#[test]
fn a_401_refreshes_the_token_once_and_retries() {
    let fake = Fake::start();
    one_page(&fake);
    let client = GraphClient::new(fake.config()).unwrap();
    list_once(&client);
    fake.revoke_tokens();
    assert_eq!(list_once(&client), 1);

    let statuses: Vec<u16> = fake.graph_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 401, 200]);
    assert_eq!(fake.token_requests().len(), 2);
    assert_eq!(client.stats().refreshes_after_401, 1);
}

#[test]
fn a_second_401_is_an_error_with_graphs_code() {
    let fake = Fake::start();
    let target = one_page(&fake);
    fake.reject_every_token();
    let client = GraphClient::new(fake.config()).unwrap();
    let error = client
        .list_devices(&["id"], false)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.graph_code(), Some("InvalidAuthenticationToken"));
    assert!(error.to_string().contains(target), "{error}");
    // One refresh, not a loop.
    assert_eq!(fake.token_requests().len(), 2);
    assert_eq!(fake.graph_requests().len(), 2);
}

#[test]
fn the_token_endpoint_is_retried_when_throttled() {
    let fake = Fake::start();
    one_page(&fake);
    fake.token_answers([
        Canned::json(
            429,
            r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: slow down"}"#,
        )
        .with_header("Retry-After", "0"),
        Canned::json(503, "{}"),
    ]);
    let client = GraphClient::new(fake.config()).unwrap();
    assert_eq!(list_once(&client), 1);
    let statuses: Vec<u16> = fake.token_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 200]);
}

#[test]
fn a_certificate_credential_loads_from_files_and_bad_files_are_named() {
    let (credential, registered) = certificate_credential();
    let devwb_graph::Credential::Certificate { key_pem, cert_pem } = credential else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("app.key");
    let cert = dir.path().join("app.crt");
    let both = dir.path().join("app.pem");
    std::fs::write(&key, key_pem.expose()).unwrap();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&both, format!("{}{cert_pem}", key_pem.expose())).unwrap();

    let fake = Fake::start_with(registered);
    one_page(&fake);
    for (key, cert) in [(&key, &cert), (&both, &both)] {
        let credential = devwb_graph::Credential::certificate_from_files(key, cert).unwrap();
        let client = GraphClient::new(fake.config_with(credential)).unwrap();
        assert_eq!(list_once(&client), 1);
    }

    // The key file holds a certificate, not a key; the certificate file holds a key.
    let error = devwb_graph::Credential::certificate_from_files(&cert, &cert).unwrap_err();
    assert!(
        error.to_string().contains("no PRIVATE KEY") && error.to_string().contains("app.crt"),
        "{error}"
    );
    let error = devwb_graph::Credential::certificate_from_files(&key, &key).unwrap_err();
    assert!(error.to_string().contains("no CERTIFICATE"), "{error}");
    let error =
        devwb_graph::Credential::certificate_from_files(&dir.path().join("none.key"), &cert)
            .unwrap_err();
    assert!(error.to_string().contains("none.key"), "{error}");
}
