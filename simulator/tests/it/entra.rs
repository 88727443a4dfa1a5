//! The fake Entra tenant over HTTPS with clients that are not ours: curl (token, paging, delta
//! after admin changes, 410, 401, 429, dropped connections, client assertions) and python's
//! requests package, plus the `adsim --entra` command-line contract. TLS is verified against the
//! simulator's certificate (`--cacert`), never skipped. A missing tool is said and skipped.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use devwb_simulator::entra::{
    EntraHandle, EntraTenant, GraphFaultAction, GraphFaultRule, RegisteredCertificate, Route,
};
use serde_json::{json, Value};

const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const SECRET: &str = "it-secret~value";
const APP_CERT: &[u8] = include_bytes!("../data/entra-app-test.crt");
const APP_KEY: &[u8] = include_bytes!("../data/entra-app-test.key");
const OTHER_KEY: &[u8] = include_bytes!("../data/entra-other-test.key");
const SCOPE: &str = "https://graph.microsoft.com/.default";

fn curl_present() -> bool {
    let present = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        #[allow(clippy::print_stderr)] // The skip message a test without its tools prints.
        {
            eprintln!("skipped: curl is not installed");
        }
    }
    present
}

/// An HTTP answer as curl saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: Value,
    exit: i32,
}

/// Runs curl with the CA file and `args`; `-i` so the status and headers come back too.
fn curl(ca: &std::path::Path, args: &[&str]) -> Answer {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        exit: output.status.code().unwrap_or(-1),
    }
}

struct Lab {
    tenant: EntraHandle,
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
}

fn start(devices: u64, lifetime: Duration) -> Lab {
    let tenant = EntraTenant::builder()
        .client_secret(CLIENT, SECRET)
        .client_certificate_pem(CLIENT, APP_CERT)
        .token_lifetime(lifetime)
        .synthetic_devices(devices, 3, devwb_synthetic::default_owner_domain())
        .start_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, tenant.certificate_pem()).unwrap();
    Lab {
        tenant,
        _dir: dir,
        ca,
    }
}

fn secret_token(lab: &Lab) -> String {
    let answer = curl(
        &lab.ca,
        &[
            "-d",
            "grant_type=client_credentials",
            "--data-urlencode",
            &format!("client_id={CLIENT}"),
            "--data-urlencode",
            &format!("client_secret={SECRET}"),
            "--data-urlencode",
            &format!("scope={SCOPE}"),
            &lab.tenant.token_url(),
        ],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["access_token"].as_str().unwrap().to_string()
}

fn graph(lab: &Lab, token: &str, url: &str, extra: &[&str]) -> Answer {
    let bearer = format!("Authorization: Bearer {token}");
    let mut args = vec!["-H", bearer.as_str()];
    args.extend_from_slice(extra);
    args.push(url);
    curl(&lab.ca, &args)
}

/// Follows `@odata.nextLink` from `url`; returns the items and the final page.
fn all_pages(lab: &Lab, token: &str, url: &str, extra: &[&str]) -> (Vec<Value>, Value, usize) {
    let mut items = Vec::new();
    let mut url = url.to_string();
    let mut pages = 0;
    loop {
        let answer = graph(lab, token, &url, extra);
        assert_eq!(answer.status, 200, "{answer:?}");
        pages += 1;
        items.extend(answer.body["value"].as_array().unwrap().iter().cloned());
        match answer.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return (items, answer.body, pages),
        }
    }
}

#[test]
fn curl_pages_devices_and_follows_delta_after_admin_changes() {
    if !curl_present() {
        return;
    }
    let lab = start(20, Duration::from_secs(3599));
    let token = secret_token(&lab);
    let base = lab.tenant.url();
    let (devices, _, pages) = all_pages(
        &lab,
        &token,
        &format!("{base}/v1.0/devices?$select=id,deviceId,displayName&$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)&$top=7"),
        &["-g"],
    );
    assert_eq!((devices.len(), pages), (20, 3));
    assert!(devices
        .iter()
        .all(|d| d["registeredOwners"][0]["onPremisesSecurityIdentifier"]
            .as_str()
            .is_some_and(|sid| sid.starts_with("S-1-5-21-"))));

    let prefer = ["-g", "-H", "Prefer: odata.maxpagesize=8"];
    let (first, last, pages) = all_pages(
        &lab,
        &token,
        &format!("{base}/v1.0/devices/delta?$select=id,displayName,accountEnabled"),
        &prefer,
    );
    assert_eq!((first.len(), pages), (20, 3));
    let delta_link = last["@odata.deltaLink"].as_str().unwrap().to_string();

    let ids = lab.tenant.device_ids();
    let new_id = "0a0a0a0a-0000-4000-8000-00000000c0de";
    let admin = |method: &str, id: &str, body: &str| {
        curl(
            &lab.ca,
            &[
                "-X",
                method,
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
                &format!("{base}/_adsim/entra/devices/{id}"),
            ],
        )
    };
    let added = admin("PUT", new_id, &json!({"displayName": "CURL-NEW", "accountEnabled": true,
        "deviceId": "0a0a0a0a-0000-4000-8000-00000000beef",
        "registeredOwners": [{"id": "0b0b0b0b-0000-4000-8000-000000000001", "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1500"}]}).to_string());
    assert_eq!(added.status, 201, "{added:?}");
    assert_eq!(
        admin("PATCH", &ids[3], r#"{"accountEnabled": false}"#).status,
        200
    );
    let deleted = curl(
        &lab.ca,
        &[
            "-X",
            "DELETE",
            &format!("{base}/_adsim/entra/devices/{}", ids[4]),
        ],
    );
    assert_eq!(deleted.status, 204);
    let refused = admin("PUT", new_id, r#"{"accountEnabled": "maybe"}"#);
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["error"]["message"],
        "Invalid value specified for property 'accountEnabled' of resource 'Device'."
    );

    let (changes, last, _) = all_pages(&lab, &token, &delta_link, &prefer);
    assert_eq!(changes.len(), 3, "{changes:?}");
    let by_id = |id: &str| changes.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(by_id(new_id)["displayName"], "CURL-NEW");
    assert_eq!(by_id(&ids[3])["accountEnabled"], false);
    assert_eq!(by_id(&ids[4])["@removed"]["reason"], "deleted");
    let next_link = last["@odata.deltaLink"].as_str().unwrap();
    let (quiet, _, _) = all_pages(&lab, &token, next_link, &prefer);
    assert!(quiet.is_empty(), "{quiet:?}");

    let gone = graph(
        &lab,
        &token,
        &format!("{base}/v1.0/devices/delta?$deltatoken=not-a-token"),
        &[],
    );
    assert_eq!(gone.status, 410, "{gone:?}");
    assert_eq!(gone.body["error"]["code"], "syncStateNotFound");
    lab.tenant.expire_delta_tokens();
    assert_eq!(graph(&lab, &token, next_link, &[]).status, 410);
}

#[test]
fn curl_sees_401_429_and_dropped_connections() {
    if !curl_present() {
        return;
    }
    // Token times are whole seconds: a 3 s token is good for at least 2 s, then sleep past it.
    let lab = start(3, Duration::from_secs(3));
    let base = lab.tenant.url();
    let devices = format!("{base}/v1.0/devices");
    let anonymous = curl(&lab.ca, &[&devices]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.body["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert!(anonymous.body["error"]["innerError"]["request-id"].is_string());
    let token = secret_token(&lab);
    assert_eq!(graph(&lab, &token, &devices, &[]).status, 200);
    std::thread::sleep(Duration::from_millis(4100));
    let expired = graph(&lab, &token, &devices, &[]);
    assert_eq!(expired.status, 401, "{expired:?}");
    assert_eq!(
        expired.body["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );

    let token = secret_token(&lab);
    lab.tenant.push_fault(
        GraphFaultRule::always(GraphFaultAction::Throttle {
            retry_after_seconds: 1,
        })
        .on(&[Route::Devices])
        .next(2),
    );
    for _ in 0..2 {
        let throttled = graph(&lab, &token, &devices, &[]);
        assert_eq!(throttled.status, 429);
        assert!(
            throttled.headers.contains("\r\nretry-after: 1"),
            "{}",
            throttled.headers
        );
        assert_eq!(throttled.body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(graph(&lab, &token, &devices, &[]).status, 200);
    lab.tenant.push_fault(
        GraphFaultRule::always(GraphFaultAction::Drop)
            .on(&[Route::Users])
            .next(1),
    );
    let dropped = graph(&lab, &token, &format!("{base}/v1.0/users"), &[]);
    assert_eq!(
        (dropped.status, dropped.exit),
        (0, 52),
        "curl: empty reply from server"
    );
    assert_eq!(
        graph(&lab, &token, &format!("{base}/v1.0/users"), &[]).status,
        200
    );
}

fn assertion(lab: &Lab, key: &[u8]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(RegisteredCertificate::from_pem(APP_CERT).unwrap().x5t());
    let claims = json!({"aud": lab.tenant.token_url(), "iss": CLIENT, "sub": CLIENT,
        "jti": format!("{now}"), "nbf": now, "exp": now + 600});
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(key).unwrap(),
    )
    .unwrap()
}

#[test]
fn curl_gets_a_token_with_a_client_assertion_and_a_forged_one_is_refused() {
    if !curl_present() {
        return;
    }
    let lab = start(1, Duration::from_secs(3599));
    let post = |jwt: &str| {
        curl(
            &lab.ca,
            &[
                "-d",
                "grant_type=client_credentials",
                "--data-urlencode",
                &format!("client_id={CLIENT}"),
                "--data-urlencode",
                &format!("scope={SCOPE}"),
                "--data-urlencode",
                "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "--data-urlencode",
                &format!("client_assertion={jwt}"),
                &lab.tenant.token_url(),
            ],
        )
    };
    let good = post(&assertion(&lab, APP_KEY));
    assert_eq!(good.status, 200, "{good:?}");
    let token = good.body["access_token"].as_str().unwrap();
    assert_eq!(
        graph(
            &lab,
            token,
            &format!("{}/v1.0/devices", lab.tenant.url()),
            &[]
        )
        .status,
        200
    );
    let forged = post(&assertion(&lab, OTHER_KEY));
    assert_eq!(forged.status, 401, "{forged:?}");
    assert_eq!(forged.body["error"], "invalid_client");
    assert!(forged.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS700027: "));
}

const PYTHON: &str = r##"
import sys, requests
base, tenant, client, secret, ca = sys.argv[1:6]
r = requests.post(f"{base}/{tenant}/oauth2/v2.0/token", verify=ca, data={
    "grant_type": "client_credentials", "client_id": client, "client_secret": secret,
    "scope": "https://graph.microsoft.com/.default"})
assert r.status_code == 200, r.text
s = requests.Session()
# verify per request: a session's verify loses to REQUESTS_CA_BUNDLE in the environment.
get = lambda url, **kw: s.get(url, verify=ca, **kw)
s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
url, devices = f"{base}/v1.0/devices?$top=5&$expand=registeredOwners", []
while url:
    page = get(url).json()
    devices += page["value"]
    url = page.get("@odata.nextLink")
assert len(devices) == 12, len(devices)
url, first = f"{base}/v1.0/devices/delta", []
while True:
    page = get(url, headers={"Prefer": "odata.maxpagesize=5"}).json()
    first += page["value"]
    if "@odata.deltaLink" in page:
        delta = page["@odata.deltaLink"]
        break
    url = page["@odata.nextLink"]
assert len(first) == 12
assert s.delete(f"{base}/_adsim/entra/devices/{devices[0]['id']}", verify=ca).status_code == 204
changes = get(delta).json()
assert changes["value"] == [{"@odata.type": "#microsoft.graph.device", "id": devices[0]["id"], "@removed": {"reason": "deleted"}}], changes
bad = get(f"{base}/v1.0/devices/delta?$deltatoken=x")
assert bad.status_code == 410 and bad.json()["error"]["code"] == "syncStateNotFound", bad.text
s.headers["Authorization"] = "Bearer nonsense"
assert get(f"{base}/v1.0/users").status_code == 401
print("ok")
"##;

#[test]
fn python_requests_pages_and_follows_delta() {
    let probe = Command::new("python3")
        .args(["-c", "import requests"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        #[allow(clippy::print_stderr)] // The skip message a test without its tools prints.
        {
            eprintln!("skipped: python3 with the requests package is not available (pip install requests)");
        }
        return;
    }
    let lab = start(12, Duration::from_secs(3599));
    let output = Command::new("python3")
        .args([
            "-c",
            PYTHON,
            &lab.tenant.url(),
            lab.tenant.tenant_id(),
            CLIENT,
            SECRET,
        ])
        .arg(&lab.ca)
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "ok",
        "python: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn adsim_serves_the_entra_command_line_contract() {
    if !curl_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("adsim.pem");
    let (ldaps, entra) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--no-plain",
            "--admin-password",
            "Adsim-Test-1!",
            "--ldaps",
            &format!("127.0.0.1:{ldaps}"),
        ])
        .args([
            "--entra",
            &format!("127.0.0.1:{entra}"),
            "--entra-client-id",
            CLIENT,
            "--entra-devices",
            "15",
        ])
        .arg("--write-cert")
        .arg(&cert)
        .env("ADSIM_ENTRA_CLIENT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("entra "))
        .unwrap();
    let tenant = devwb_simulator::entra::DEFAULT_TENANT_ID;
    assert_eq!(
        line,
        format!("entra https://127.0.0.1:{entra} tenant {tenant} client {CLIENT} devices 15")
    );
    let base = format!("https://127.0.0.1:{entra}");
    let token = curl(
        &cert,
        &[
            "-d",
            &format!("grant_type=client_credentials&client_id={CLIENT}&scope={SCOPE}"),
            "--data-urlencode",
            &format!("client_secret={SECRET}"),
            &format!("{base}/{tenant}/oauth2/v2.0/token"),
        ],
    );
    assert_eq!(token.status, 200, "{token:?}");
    let bearer = format!(
        "Authorization: Bearer {}",
        token.body["access_token"].as_str().unwrap()
    );
    let page = curl(&cert, &["-g", "-H", &bearer, &format!("{base}/v1.0/devices?$top=10&$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)")]);
    assert_eq!(page.body["value"].as_array().unwrap().len(), 10, "{page:?}");
    assert!(page.body["@odata.nextLink"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{base}/v1.0/devices?")));
    // Owners are users of the forest's domain: one domain SID for all, and each is a user.
    let users = curl(
        &cert,
        &[
            "-g",
            "-H",
            &bearer,
            &format!("{base}/v1.0/users?$select=id,onPremisesSecurityIdentifier&$top=999"),
        ],
    );
    let sids: Vec<&str> = users.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["onPremisesSecurityIdentifier"].as_str().unwrap())
        .collect();
    assert!(!sids.is_empty());
    let domain = |sid: &str| sid.rsplit_once('-').unwrap().0.to_string();
    assert!(
        sids.iter().all(|s| domain(s) == domain(sids[0])),
        "{sids:?}"
    );
    for device in page.body["value"].as_array().unwrap() {
        assert!(sids.contains(
            &device["registeredOwners"][0]["onPremisesSecurityIdentifier"]
                .as_str()
                .unwrap()
        ));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn seeded_owners_are_users_of_the_forests_domain() {
    let sim = devwb_simulator::Simulator::builder()
        .listen(None)
        .start_blocking()
        .unwrap();
    let tenant = EntraTenant::builder()
        .client_secret(CLIENT, SECRET)
        .synthetic_devices(200, 1, sim.domain_sid())
        .build()
        .unwrap();
    assert_eq!(tenant.device_count(), 200);
    assert!(tenant.user_count() > 0 && tenant.user_count() <= 200);
    for id in tenant.device_ids() {
        let device = tenant.device_json(&id).unwrap();
        let owner = &device["registeredOwners"][0];
        let sid = devwb_model::Sid::parse(owner["onPremisesSecurityIdentifier"].as_str().unwrap())
            .unwrap();
        assert!(
            sid.is_in_domain(&sim.domain_sid()),
            "{sid} not in {}",
            sim.domain_sid()
        );
        assert!(owner["id"].is_string() && device["deviceId"].is_string());
    }
}

#[test]
fn adsim_generates_a_secret_and_takes_faults_from_the_command_line() {
    if !curl_present() {
        return;
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--no-plain",
            "--ldaps",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .args([
            "--entra",
            &format!("127.0.0.1:{}", free_port()),
            "--entra-fault",
            "route=nowhere;drop",
        ])
        .env_remove("ADSIM_ENTRA_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--entra-fault") && stderr.contains("unknown route"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("adsim.pem");
    let entra = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--no-plain",
            "--ldaps",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .args([
            "--entra",
            &format!("127.0.0.1:{entra}"),
            "--entra-devices",
            "2",
        ])
        .args([
            "--entra-fault",
            "route=devices;next=1;status=429;retry-after=2",
        ])
        .arg("--write-cert")
        .arg(&cert)
        .env_remove("ADSIM_ENTRA_CLIENT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| l.unwrap());
    let secret_line = lines
        .find(|l| l.starts_with("entra client secret "))
        .unwrap();
    let secret = secret_line
        .trim_start_matches("entra client secret ")
        .to_string();
    let client = devwb_simulator::entra::DEFAULT_CLIENT_ID;
    let tenant = devwb_simulator::entra::DEFAULT_TENANT_ID;
    let base = format!("https://127.0.0.1:{entra}");
    let token = curl(
        &cert,
        &[
            "-d",
            &format!("grant_type=client_credentials&client_id={client}&scope={SCOPE}"),
            "--data-urlencode",
            &format!("client_secret={secret}"),
            &format!("{base}/{tenant}/oauth2/v2.0/token"),
        ],
    );
    assert_eq!(token.status, 200, "{token:?}");
    let bearer = format!(
        "Authorization: Bearer {}",
        token.body["access_token"].as_str().unwrap()
    );
    let first = curl(&cert, &["-H", &bearer, &format!("{base}/v1.0/devices")]);
    assert_eq!(first.status, 429, "{first:?}");
    assert!(
        first.headers.contains("\r\nretry-after: 2"),
        "{}",
        first.headers
    );
    let second = curl(&cert, &["-H", &bearer, &format!("{base}/v1.0/devices")]);
    assert_eq!(
        second.body["value"].as_array().unwrap().len(),
        2,
        "{second:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
