//! The routes without sockets: tokens, paging, delta rounds, the admin endpoint, faults.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::clock::FixedClock;
use crate::entra::{EntraTenant, GraphFaultRule, Route};

const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const SECRET: &str = "test-secret-value";
const APP_CERT: &[u8] = include_bytes!("../../../tests/data/entra-app-test.crt");
const APP_KEY: &[u8] = include_bytes!("../../../tests/data/entra-app-test.key");
const OTHER_CERT: &[u8] = include_bytes!("../../../tests/data/entra-other-test.crt");
const OTHER_KEY: &[u8] = include_bytes!("../../../tests/data/entra-other-test.key");
const HOST: &str = "127.0.0.1:9443";

struct Lab {
    tenant: Arc<Tenant>,
    clock: Arc<FixedClock>,
}

fn lab(devices: u64) -> Lab {
    let clock = Arc::new(FixedClock::new(SystemTime::now()));
    let tenant = EntraTenant::builder()
        .client_secret(CLIENT, SECRET)
        .client_certificate_pem(CLIENT, APP_CERT)
        .clock(clock.clone())
        .token_lifetime(Duration::from_secs(60))
        .synthetic_devices(devices, 7, devwb_synthetic::default_owner_domain())
        .build()
        .expect("tenant");
    Lab { tenant, clock }
}

fn respond(tenant: &Tenant, request: HttpRequest) -> HttpResponse {
    match tenant.handle(&request.header("host", HOST)) {
        Reply::Respond { response, .. } => response,
        Reply::Drop => panic!("dropped"),
    }
}

fn token_request(tenant: &Tenant, form: &str) -> HttpResponse {
    let path = format!("/{}/oauth2/v2.0/token", tenant.tenant_id());
    respond(
        tenant,
        HttpRequest::new("POST", &path).body(form.as_bytes().to_vec()),
    )
}

fn token(tenant: &Tenant) -> String {
    let response = token_request(
        tenant,
        &format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
    );
    assert_eq!(response.status, 200, "{}", response.json());
    response.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn get(tenant: &Tenant, token: &str, path: &str) -> HttpResponse {
    respond(
        tenant,
        HttpRequest::new("GET", path).header("authorization", &format!("Bearer {token}")),
    )
}

/// The path and query of an absolute link the fake gave.
fn relative(link: &str) -> String {
    link.strip_prefix(&format!("https://{HOST}"))
        .expect("link on the host called")
        .to_string()
}

#[test]
fn a_secret_buys_a_token_and_a_wrong_one_gets_aadsts7000215() {
    let lab = lab(0);
    let response = token_request(
        &lab.tenant,
        &format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
    );
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    let debug = format!("{:?}", lab.tenant);
    assert!(
        debug.contains("********") && !debug.contains(SECRET),
        "{debug}"
    );
    assert_eq!(body["expires_in"], 60);
    let check = |form: String, status: u16, error: &str, code: u64| {
        let response = token_request(&lab.tenant, &form);
        let body = response.json();
        assert_eq!(response.status, status, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"][0], code, "{body}");
        let description = body["error_description"].as_str().expect("description");
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(
            !description.contains(SECRET),
            "the secret leaked: {description}"
        );
    };
    let scope = "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    check(
        format!("grant_type=client_credentials&client_id={CLIENT}&client_secret=wrong&{scope}"),
        401,
        "invalid_client",
        7000215,
    );
    check(
        format!("grant_type=client_credentials&client_id=00000000-0000-4000-8000-000000000009&client_secret={SECRET}&{scope}"),
        400,
        "unauthorized_client",
        700016,
    );
    check(
        format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}&scope=User.Read"),
        400,
        "invalid_scope",
        1002012,
    );
    check(
        format!("client_id={CLIENT}&client_secret={SECRET}&{scope}"),
        400,
        "invalid_request",
        900144,
    );
    check(
        format!("grant_type=client_credentials&client_id={CLIENT}&{scope}"),
        401,
        "invalid_client",
        7000216,
    );
    // The fake's own URL is a Graph resource too.
    let own = token_request(
        &lab.tenant,
        &format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}&scope=https%3A%2F%2F{HOST}%2F.default"),
    );
    assert_eq!(own.status, 200, "{}", own.json());
    let wrong_tenant = respond(
        &lab.tenant,
        HttpRequest::new(
            "POST",
            "/00000000-0000-4000-8000-00000000dead/oauth2/v2.0/token",
        )
        .body(
            format!(
                "grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET}&{scope}"
            )
            .into_bytes(),
        ),
    );
    assert_eq!(wrong_tenant.json()["error_codes"][0], 90002);
}

fn assertion(key: &[u8], cert: &[u8], claims: Value, algorithm: Algorithm) -> String {
    let certificate = crate::entra::RegisteredCertificate::from_pem(cert).expect("cert");
    let mut header = Header::new(algorithm);
    header.x5t = Some(certificate.x5t());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(key).expect("key"),
    )
    .expect("signed")
}

#[test]
fn a_client_assertion_signed_by_the_registered_certificate_is_accepted_and_others_refused() {
    let lab = lab(0);
    let now = lab
        .clock
        .now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let audience = format!(
        "https://{HOST}/{}/oauth2/v2.0/token",
        lab.tenant.tenant_id()
    );
    let claims = |aud: &str, iss: &str, exp: u64| json!({"aud": aud, "iss": iss, "sub": iss, "jti": "1", "nbf": now - 10, "exp": exp});
    let send = |jwt: String| {
        token_request(
            &lab.tenant,
            &format!("grant_type=client_credentials&client_id={CLIENT}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}"),
        )
    };
    for algorithm in [Algorithm::RS256, Algorithm::PS256] {
        let good = send(assertion(
            APP_KEY,
            APP_CERT,
            claims(&audience, CLIENT, now + 600),
            algorithm,
        ));
        assert_eq!(good.status, 200, "{algorithm:?}: {}", good.json());
        let token = good.json()["access_token"]
            .as_str()
            .expect("token")
            .to_string();
        assert_eq!(get(&lab.tenant, &token, "/v1.0/devices").status, 200);
    }
    let refused = |jwt: String, code: u64| {
        let response = send(jwt);
        assert_eq!(response.status, 401, "{}", response.json());
        assert_eq!(response.json()["error"], "invalid_client");
        assert_eq!(
            response.json()["error_codes"][0],
            code,
            "{}",
            response.json()
        );
    };
    // Signed by a key whose certificate is not registered.
    refused(
        assertion(
            OTHER_KEY,
            OTHER_CERT,
            claims(&audience, CLIENT, now + 600),
            Algorithm::RS256,
        ),
        700027,
    );
    // Signed by another key but naming the registered certificate: the signature fails.
    refused(
        assertion(
            OTHER_KEY,
            APP_CERT,
            claims(&audience, CLIENT, now + 600),
            Algorithm::RS256,
        ),
        700027,
    );
    refused(
        assertion(
            APP_KEY,
            APP_CERT,
            claims("https://elsewhere/token", CLIENT, now + 600),
            Algorithm::RS256,
        ),
        700027,
    );
    refused(
        assertion(
            APP_KEY,
            APP_CERT,
            claims(&audience, CLIENT, now - 3600),
            Algorithm::RS256,
        ),
        700024,
    );
    refused(
        assertion(
            APP_KEY,
            APP_CERT,
            claims(&audience, "99999999-2222-4333-8444-555555555555", now + 600),
            Algorithm::RS256,
        ),
        700021,
    );
    refused("not.a.jwt".to_string(), 50027);
}

#[test]
fn graph_routes_want_a_valid_unexpired_token() {
    let lab = lab(3);
    let missing = respond(&lab.tenant, HttpRequest::new("GET", "/v1.0/devices"));
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.json()["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert_eq!(missing.json()["error"]["message"], "Access token is empty.");
    assert!(missing.json()["error"]["innerError"]["request-id"].is_string());
    assert!(missing.header("www-authenticate").is_some());
    let forged = get(
        &lab.tenant,
        "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln",
        "/v1.0/devices",
    );
    assert_eq!(forged.status, 401);
    let token = token(&lab.tenant);
    assert_eq!(get(&lab.tenant, &token, "/v1.0/devices").status, 200);
    lab.clock.advance(Duration::from_secs(61));
    let expired = get(&lab.tenant, &token, "/v1.0/devices");
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.json()["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
}

#[test]
fn devices_page_by_top_with_select_and_expanded_owners() {
    let lab = lab(25);
    let token = token(&lab.tenant);
    let mut path = "/v1.0/devices?$select=id,deviceId,displayName&$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)&$top=10".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = get(&lab.tenant, &token, &path);
        assert_eq!(response.status, 200, "{}", response.json());
        let body = response.json();
        pages += 1;
        if pages == 1 {
            assert_eq!(
                body["@odata.context"],
                format!("https://{HOST}/v1.0/$metadata#devices(id,deviceId,displayName,registeredOwners())")
            );
        }
        for device in body["value"].as_array().expect("value") {
            let keys: Vec<&String> = device.as_object().expect("object").keys().collect();
            assert_eq!(keys, ["deviceId", "displayName", "id", "registeredOwners"]);
            let owner = &device["registeredOwners"][0];
            assert_eq!(owner["@odata.type"], "#microsoft.graph.user");
            assert!(owner["onPremisesSecurityIdentifier"]
                .as_str()
                .expect("sid")
                .starts_with(&devwb_synthetic::default_owner_domain().to_string()));
            assert!(owner.get("userPrincipalName").is_none());
            seen.push(device["id"].as_str().expect("id").to_string());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => path = relative(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "every device once");
    // Users: one per distinct owner, with the SIDs the devices name.
    let users = get(
        &lab.tenant,
        &token,
        "/v1.0/users?$select=id,onPremisesSecurityIdentifier,userPrincipalName&$top=999",
    );
    assert_eq!(
        users.json()["value"].as_array().expect("users").len(),
        lab.tenant.user_count()
    );
    for (path, message) in [
        (
            "/v1.0/devices?$top=0",
            "Invalid page size specified: '0'. Must be between 1 and 999 inclusive.",
        ),
        (
            "/v1.0/devices?$top=1000",
            "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
        ),
        (
            "/v1.0/devices?$select=color",
            "Could not find a property named 'color' on type 'microsoft.graph.device'.",
        ),
    ] {
        let response = get(&lab.tenant, &token, path);
        assert_eq!(response.status, 400);
        assert_eq!(response.json()["error"]["message"], message);
    }
    assert_eq!(
        get(&lab.tenant, &token, "/v1.0/devices?$filter=x").json()["error"]["code"],
        "Request_UnsupportedQuery"
    );
    assert_eq!(
        get(&lab.tenant, &token, "/v1.0/devices?$skiptoken=garbage").status,
        400
    );
}

/// Runs a delta round from `path` to its deltaLink; returns the items and the deltaLink path.
fn delta_round(tenant: &Tenant, token: &str, mut path: String) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    loop {
        let response = respond(
            tenant,
            HttpRequest::new("GET", &path)
                .header("authorization", &format!("Bearer {token}"))
                .header("prefer", "odata.maxpagesize=4"),
        );
        assert_eq!(response.status, 200, "{}", response.json());
        let body = response.json();
        items.extend(body["value"].as_array().expect("value").iter().cloned());
        if let Some(next) = body["@odata.nextLink"].as_str() {
            assert!(body.get("@odata.deltaLink").is_none());
            path = relative(next);
        } else {
            return (
                items,
                relative(body["@odata.deltaLink"].as_str().expect("deltaLink")),
            );
        }
    }
}

#[test]
fn delta_rounds_report_adds_changes_and_removals_once() {
    let lab = lab(10);
    let token = token(&lab.tenant);
    let (first, link) = delta_round(
        &lab.tenant,
        &token,
        "/v1.0/devices/delta?$select=id,displayName,accountEnabled".to_string(),
    );
    assert_eq!(first.len(), 10);
    let (empty, link) = delta_round(&lab.tenant, &token, link);
    assert_eq!(empty, Vec::<Value>::new(), "nothing changed");
    let ids = lab.tenant.device_ids();
    let new_id = "0a0a0a0a-0000-4000-8000-000000000001";
    let admin = |method: &str, id: &str, body: Value| {
        respond(
            &lab.tenant,
            HttpRequest::new(method, &format!("/_adsim/entra/devices/{id}"))
                .body(body.to_string().into_bytes()),
        )
    };
    let created = admin(
        "PUT",
        new_id,
        json!({"displayName": "NEW-1", "accountEnabled": true,
        "registeredOwners": [{"id": "0b0b0b0b-0000-4000-8000-000000000001", "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1500"}]}),
    );
    assert_eq!(created.status, 201, "{}", created.json());
    assert_eq!(
        admin("PATCH", &ids[0], json!({"accountEnabled": false})).status,
        200
    );
    assert_eq!(admin("DELETE", &ids[1], Value::Null).status, 204);
    assert_eq!(admin("DELETE", &ids[1], Value::Null).status, 404);
    lab.tenant
        .set_account_enabled(&ids[2], false)
        .expect("library API");
    let (changes, link) = delta_round(&lab.tenant, &token, link);
    let find = |id: &str| {
        changes
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .expect("reported")
    };
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert_eq!(find(new_id)["displayName"], "NEW-1");
    assert_eq!(find(&ids[0])["accountEnabled"], false);
    assert_eq!(find(&ids[1])["@removed"], json!({"reason": "deleted"}));
    assert_eq!(find(&ids[2])["accountEnabled"], false);
    assert!(
        find(&ids[0]).get("operatingSystem").is_none(),
        "$select is carried in the token"
    );
    // Expired and unknown tokens: syncStateNotFound, 410.
    lab.tenant.expire_delta_tokens();
    for path in [
        link,
        "/v1.0/devices/delta?$deltatoken=bm9uc2Vuc2U".to_string(),
    ] {
        let gone = get(&lab.tenant, &token, &path);
        assert_eq!(gone.status, 410);
        assert_eq!(gone.json()["error"]["code"], "syncStateNotFound");
    }
    assert_eq!(
        get(
            &lab.tenant,
            &token,
            "/v1.0/devices/delta?$expand=registeredOwners"
        )
        .status,
        400
    );
}

#[test]
fn a_latest_delta_token_lists_nothing_and_links_from_the_present_state() {
    let lab = lab(6);
    let token = token(&lab.tenant);
    let ids = lab.tenant.device_ids();
    lab.tenant
        .set_account_enabled(&ids[0], false)
        .expect("library API");
    let (items, link) = delta_round(
        &lab.tenant,
        &token,
        "/v1.0/devices/delta?$select=id,displayName&$deltatoken=latest".to_string(),
    );
    assert_eq!(items, Vec::<Value>::new(), "sync from now lists no device");
    // What changed before the link is not in its round; what changed after is, with the
    // $select of the first request.
    lab.tenant
        .set_account_enabled(&ids[1], false)
        .expect("library API");
    let (changes, link) = delta_round(&lab.tenant, &token, link);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], ids[1].as_str());
    assert!(changes[0].get("accountEnabled").is_none(), "{changes:?}");
    assert!(changes[0]["displayName"].is_string(), "{changes:?}");
    let (nothing, _) = delta_round(&lab.tenant, &token, link);
    assert_eq!(nothing, Vec::<Value>::new());
}

#[test]
fn faults_answer_429_with_retry_after_then_stop() {
    let lab = lab(2);
    let token = token(&lab.tenant);
    lab.tenant.push_fault(
        GraphFaultRule::always(super::GraphFaultAction::Throttle {
            retry_after_seconds: 2,
        })
        .on(&[Route::Devices])
        .next(1),
    );
    let throttled = get(&lab.tenant, &token, "/v1.0/devices");
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("2"));
    assert_eq!(throttled.json()["error"]["code"], "TooManyRequests");
    assert_eq!(get(&lab.tenant, &token, "/v1.0/devices").status, 200);
    lab.tenant.push_fault(
        GraphFaultRule::always(super::GraphFaultAction::Drop)
            .on(&[Route::Users])
            .next(1),
    );
    assert_eq!(
        lab.tenant.handle(&HttpRequest::new("GET", "/v1.0/users")),
        Reply::Drop
    );
    lab.tenant
        .push_fault(GraphFaultRule::always(super::GraphFaultAction::ExpireAccessToken).next(1));
    assert_eq!(get(&lab.tenant, &token, "/v1.0/devices").status, 401);
    assert_eq!(get(&lab.tenant, &token, "/v1.0/devices").status, 200);
}
