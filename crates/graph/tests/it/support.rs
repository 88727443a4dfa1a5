//! A fake identity platform and Graph in one HTTPS server on 127.0.0.1, for these tests only:
//! routes plus state. The token endpoint checks a client secret or a client assertion (header,
//! signature and claims) the way the identity platform does and issues opaque tokens; Graph
//! routes check the bearer token and answer from canned responses queued per path and query,
//! with Graph's error body shapes. Everything received is recorded for the tests to inspect.
//!
//! The server runs on a runtime of its own on a background thread (the client under test is
//! blocking) and shuts down when the handle is dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use devwb_graph::{AssertionClaims, Credential, GraphConfig, RetryPolicy, SecretString};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use sha1::Digest as _;

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const SECRET: &str = "Zx8Q~not.a.real~secret-1234567890";
/// A throwaway RSA key for the certificate credential (ring, which rcgen uses here, cannot
/// generate RSA keys; the certificate is made from it at test time).
pub const TEST_KEY: &str = include_str!("data/test-rsa-key.pem");

/// A canned answer.
#[derive(Clone, Debug)]
pub enum Canned {
    /// A status, headers and a body.
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// The connection is closed without an answer.
    Drop,
    /// The answer after a delay (a hung or overloaded server).
    Slow(Duration, Box<Canned>),
}

impl Canned {
    pub fn json(status: u16, body: impl Into<String>) -> Canned {
        Canned::Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// Graph's error body: `{"error":{"code":..,"message":..}}`.
    pub fn graph_error(status: u16, code: &str, message: &str) -> Canned {
        Canned::json(
            status,
            serde_json::json!({"error": {"code": code, "message": message,
                "innerError": {"date": "2026-12-02T07:00:00", "request-id": "r"}}})
            .to_string(),
        )
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Canned {
        if let Canned::Answer { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub authorization: Option<String>,
    pub body: String,
    /// The answer's status (0 when the connection was dropped).
    pub status: u16,
}

/// How the token endpoint authenticates the app.
#[derive(Clone, Debug)]
pub enum AppCredential {
    Secret(String),
    /// The registered certificate's DER and its RSA public key (PKCS#1 DER).
    Certificate {
        cert_der: Vec<u8>,
        public_key: Vec<u8>,
    },
}

#[derive(Debug)]
struct State {
    app: AppCredential,
    token_lifetime: u64,
    issued: u64,
    valid_tokens: HashSet<String>,
    reject_every_token: bool,
    seen_jti: HashSet<String>,
    assertions: Vec<(serde_json::Value, AssertionClaims)>,
    token_queue: VecDeque<Canned>,
    routes: HashMap<String, VecDeque<Canned>>,
    requests: Vec<Recorded>,
}

/// The running fake. Dropping it stops the server.
pub struct Fake {
    url: String,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A CA and a server certificate it issued for 127.0.0.1 and localhost.
pub struct Pki {
    pub ca_pem: String,
    pub server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub server_key: rustls::pki_types::PrivateKeyDer<'static>,
}

pub fn make_pki(ca_name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server_cert.der().clone()],
        server_key: rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    }
}

/// A certificate credential for the app, and what the fake registers for it.
pub fn certificate_credential() -> (Credential, AppCredential) {
    let key = rcgen::KeyPair::from_pem(TEST_KEY).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "devwb test app");
    let certificate = params.self_signed(&key).unwrap();
    (
        Credential::Certificate {
            key_pem: SecretString::new(TEST_KEY),
            cert_pem: certificate.pem(),
        },
        AppCredential::Certificate {
            cert_der: certificate.der().to_vec(),
            public_key: key.public_key_raw().to_vec(),
        },
    )
}

impl Fake {
    /// A fake that accepts the client secret [`SECRET`].
    pub fn start() -> Fake {
        Fake::start_with(AppCredential::Secret(SECRET.to_string()))
    }

    pub fn start_with(app: AppCredential) -> Fake {
        let pki = make_pki("devwb fake tenant CA");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &pki.ca_pem).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let state = Arc::new(Mutex::new(State {
            app,
            token_lifetime: 3599,
            issued: 0,
            valid_tokens: HashSet::new(),
            reject_every_token: false,
            seen_jti: HashSet::new(),
            assertions: Vec::new(),
            token_queue: VecDeque::new(),
            routes: HashMap::new(),
            requests: Vec::new(),
        }));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let url = format!("https://127.0.0.1:{port}");
        let (shutdown, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server_state = state.clone();
        let token_url = format!("{url}/{TENANT}/oauth2/v2.0/token");
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    let (tcp, _) = tokio::select! {
                        _ = &mut shutdown_rx => break,
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(_) => continue,
                        },
                    };
                    let acceptor = acceptor.clone();
                    let state = server_state.clone();
                    let token_url = token_url.clone();
                    tokio::spawn(async move {
                        // A client that refuses our certificate ends the handshake: nothing to serve.
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |request| {
                            handle(state.clone(), token_url.clone(), request)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        });
        Fake {
            url,
            ca_pem: pki.ca_pem,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
            ca_file,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn ca_file(&self) -> &std::path::Path {
        &self.ca_file
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A configuration for this fake: secret credential, its CA trusted, quick retries.
    pub fn config(&self) -> GraphConfig {
        self.config_with(Credential::Secret(SecretString::new(SECRET)))
    }

    pub fn config_with(&self, credential: Credential) -> GraphConfig {
        GraphConfig::new(TENANT, CLIENT_ID, credential)
            .unwrap()
            .with_authority(&self.url)
            .unwrap()
            .with_graph_url(&self.url)
            .unwrap()
            .with_ca_file(&self.ca_file)
            .with_retry(RetryPolicy {
                max_retries: 3,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
            })
            .with_deadline(Duration::from_secs(20))
    }

    /// Queues answers for GET `target` (path and query as the client sends it). The last one
    /// queued is repeated for every further request.
    pub fn route(&self, target: &str, answers: impl IntoIterator<Item = Canned>) {
        let mut state = self.state.lock().unwrap();
        state
            .routes
            .entry(target.to_string())
            .or_default()
            .extend(answers);
    }

    /// Queues answers the token endpoint gives before it checks anything (throttling, outages).
    pub fn token_answers(&self, answers: impl IntoIterator<Item = Canned>) {
        self.state.lock().unwrap().token_queue.extend(answers);
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.lock().unwrap().token_lifetime = seconds;
    }

    /// Every token issued so far stops working (Graph answers 401).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().valid_tokens.clear();
    }

    /// Graph answers 401 to every token, new ones included.
    pub fn reject_every_token(&self) {
        self.state.lock().unwrap().reject_every_token = true;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn graph_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect()
    }

    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// The header and claims of every client assertion the token endpoint accepted.
    pub fn assertions(&self) -> Vec<(serde_json::Value, AssertionClaims)> {
        self.state.lock().unwrap().assertions.clone()
    }

    /// The tokens issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        let issued = self.state.lock().unwrap().issued;
        (1..=issued).map(token_value).collect()
    }
}

fn token_value(n: u64) -> String {
    format!("fake-access-token-{n}-eyJ0eXAiOiJKV1Qi")
}

type Body = Full<Bytes>;

async fn handle(
    state: Arc<Mutex<State>>,
    token_url: String,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let method = request.method().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let canned = {
        let mut state = state.lock().unwrap();
        let canned = if method == "POST" {
            token_endpoint(&mut state, &token_url, &target, &body)
        } else {
            graph(&mut state, &target, authorization.as_deref())
        };
        let status = match &canned {
            Canned::Answer { status, .. } => *status,
            Canned::Slow(_, answer) => match &**answer {
                Canned::Answer { status, .. } => *status,
                _ => 0,
            },
            Canned::Drop => 0,
        };
        state.requests.push(Recorded {
            method,
            target,
            authorization,
            body,
            status,
        });
        canned
    };
    let canned = match canned {
        Canned::Slow(delay, answer) => {
            tokio::time::sleep(delay).await;
            *answer
        }
        other => other,
    };
    match canned {
        Canned::Answer {
            status,
            headers,
            body,
        } => {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            Ok(response.body(Full::new(Bytes::from(body))).unwrap())
        }
        // An error from the service makes hyper close the connection without an answer.
        Canned::Drop | Canned::Slow(..) => Err(std::io::Error::other("dropped by the test")),
    }
}

fn pop(queue: &mut VecDeque<Canned>) -> Option<Canned> {
    if queue.len() > 1 {
        queue.pop_front()
    } else {
        queue.front().cloned()
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Canned {
    Canned::json(
        status,
        serde_json::json!({"error": error,
            "error_description": format!("{description}\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2026-12-02 07:00:00Z"),
            "error_codes": [7000215]})
        .to_string(),
    )
}

fn token_endpoint(state: &mut State, token_url: &str, target: &str, body: &str) -> Canned {
    if let Some(canned) = state.token_queue.pop_front() {
        return canned;
    }
    if target != format!("/{TENANT}/oauth2/v2.0/token") {
        return oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return oauth_error(400, "unsupported_grant_type", "AADSTS70003: grant_type.");
    }
    if field("client_id") != CLIENT_ID {
        return oauth_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found.",
        );
    }
    let scope = token_url.replace(&format!("/{TENANT}/oauth2/v2.0/token"), "/.default");
    if field("scope") != scope {
        return oauth_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided scope is invalid.",
        );
    }
    let accepted = match &state.app {
        AppCredential::Secret(secret) => {
            if field("client_secret") == secret {
                Ok(())
            } else {
                // The real service never echoes the secret; this fake does, so the test can see
                // that the client scrubs whatever comes back.
                Err(oauth_error(
                    401,
                    "invalid_client",
                    &format!(
                        "AADSTS7000215: Invalid client secret provided: {}",
                        field("client_secret")
                    ),
                ))
            }
        }
        AppCredential::Certificate {
            cert_der,
            public_key,
        } => check_assertion(
            &mut state.assertions,
            &mut state.seen_jti,
            token_url,
            cert_der,
            public_key,
            &form,
        )
        .map_err(|why| oauth_error(401, "invalid_client", &why)),
    };
    if let Err(refused) = accepted {
        return refused;
    }
    state.issued += 1;
    let token = token_value(state.issued);
    state.valid_tokens.insert(token.clone());
    Canned::json(
        200,
        serde_json::json!({"token_type": "Bearer", "expires_in": state.token_lifetime,
            "ext_expires_in": state.token_lifetime, "access_token": token})
        .to_string(),
    )
}

/// Checks a client assertion as the identity platform does: the type, the thumbprints of the
/// registered certificate, the RS256 signature, the audience, issuer, subject, lifetime, and
/// that the jti was not seen before.
fn check_assertion(
    accepted: &mut Vec<(serde_json::Value, AssertionClaims)>,
    seen_jti: &mut HashSet<String>,
    token_url: &str,
    cert_der: &[u8],
    public_key: &[u8],
    form: &HashMap<String, String>,
) -> Result<(), String> {
    if form.get("client_secret").is_some() {
        return Err("AADSTS: a secret was sent with a certificate credential".into());
    }
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err("AADSTS7000012: wrong client_assertion_type".into());
    }
    let jwt = form
        .get("client_assertion")
        .ok_or("AADSTS: no client_assertion")?;
    let header_part = jwt.split('.').next().unwrap_or("");
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header_part)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("AADSTS: the assertion header is not JSON")?;
    let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(cert_der));
    let x5t_s256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(cert_der));
    if header["alg"] != "RS256" {
        return Err(format!("AADSTS: alg {}", header["alg"]));
    }
    if header["x5t"] != x5t.as_str() || header["x5t#S256"] != x5t_s256.as_str() {
        return Err("AADSTS700027: the certificate thumbprint matches no registered key".into());
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_der(public_key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(CLIENT_ID.to_string());
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &validation)
        .map_err(|e| format!("AADSTS700027: the assertion does not verify: {e}"))?
        .claims;
    if claims.exp.saturating_sub(claims.nbf) > 3600 {
        return Err("AADSTS700025: the assertion lives too long".into());
    }
    if !seen_jti.insert(claims.jti.clone()) {
        return Err("AADSTS700023: the assertion was replayed".into());
    }
    accepted.push((header, claims));
    Ok(())
}

fn graph(state: &mut State, target: &str, authorization: Option<&str>) -> Canned {
    let token = authorization.and_then(|value| value.strip_prefix("Bearer "));
    let valid =
        token.is_some_and(|token| state.valid_tokens.contains(token)) && !state.reject_every_token;
    if !valid {
        return Canned::graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        );
    }
    match state.routes.get_mut(target).and_then(pop) {
        Some(canned) => canned,
        None => Canned::graph_error(
            404,
            "Request_ResourceNotFound",
            &format!("no route for {target}"),
        ),
    }
}

/// A page body as Graph sends it.
pub fn page(values: serde_json::Value, next: Option<&str>, delta: Option<&str>) -> String {
    let mut body = serde_json::json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices",
        "value": values,
    });
    if let Some(next) = next {
        body["@odata.nextLink"] = next.into();
    }
    if let Some(delta) = delta {
        body["@odata.deltaLink"] = delta.into();
    }
    body.to_string()
}

/// `n` devices with ids `{prefix}-{i}`.
pub fn devices(prefix: &str, n: usize) -> serde_json::Value {
    (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("{prefix}-{i}"), "deviceId": format!("d-{prefix}-{i}"),
                "accountEnabled": true, "displayName": format!("PC-{prefix}-{i}")})
        })
        .collect()
}
