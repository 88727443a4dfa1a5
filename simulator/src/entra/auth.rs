//! The fake identity platform: app registrations (client secrets, certificates), the client
//! credentials grant of `POST /{tenant}/oauth2/v2.0/token`, and the access tokens the Graph
//! routes check.
//!
//! A client authenticates with a client secret or a client assertion: a JWT signed RS256 or PS256
//! with the private key of a registered certificate, named by its `x5t` (SHA-1) or `x5t#S256`
//! thumbprint header, with `aud` the token endpoint, `iss` = `sub` = the client id, and a valid
//! `exp`/`nbf` (five minutes of skew allowed, as Entra does). Errors have the identity platform's
//! shape (`error`, `error_description` starting `AADSTS<code>:`, `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`); the codes are the ones Entra documents for each
//! case, the descriptions are shortened.
//!
//! Access tokens are HS256 JWTs signed with a random key of this tenant (Graph's are RS256 from
//! Entra's published keys; a client must treat them as opaque either way), with `aud`
//! `https://graph.microsoft.com`, `iss`, `tid`, `appid`, `roles`, `iat`/`nbf`/`exp` (default
//! lifetime 3599 s). Times come from the injected clock, so tests can expire tokens.
//!
//! Not faked: delegated flows, refresh tokens, `jti` replay detection, certificate validity dates,
//! conditional access, secret expiry. Secrets are compared in constant time and never logged.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::Digest as _;

use crate::clock::Clock;

/// Graph's resource identifier: the audience of every access token the fake issues.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Graph's first-party application id, which Entra accepts as a resource name too.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The application roles an app gets unless told otherwise.
pub const DEFAULT_ROLES: [&str; 2] = ["Device.Read.All", "User.Read.All"];
/// Clock skew Entra tolerates on a client assertion's `exp` and `nbf`.
const ASSERTION_SKEW_SECONDS: u64 = 300;

/// A client secret; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> ClientSecret {
        ClientSecret(secret.into())
    }

    /// The secret itself, for the code that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(********)")
    }
}

/// A certificate registered on an app: its thumbprints and public key.
#[derive(Clone)]
pub struct RegisteredCertificate {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    key: DecodingKey,
}

impl std::fmt::Debug for RegisteredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegisteredCertificate(x5t {})", hex(&self.sha1))
    }
}

impl RegisteredCertificate {
    /// A certificate from PEM text (the first certificate in it, an RSA key).
    pub fn from_pem(pem: &[u8]) -> Result<RegisteredCertificate, String> {
        let der = rustls_pemfile::certs(&mut &pem[..])
            .next()
            .ok_or_else(|| "no CERTIFICATE block found".to_string())?
            .map_err(|e| format!("unreadable PEM: {e}"))?;
        let key = DecodingKey::from_rsa_pem(pem)
            .map_err(|e| format!("not an RSA certificate jsonwebtoken can read: {e}"))?;
        Ok(RegisteredCertificate {
            sha1: sha1::Sha1::digest(der.as_ref()).to_vec(),
            sha256: sha2::Sha256::digest(der.as_ref()).to_vec(),
            key,
        })
    }

    /// The `x5t` header value a client puts in its assertion (base64url of the SHA-1).
    pub fn x5t(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.sha1)
    }
}

/// An app registration (with its service principal consented in the tenant).
#[derive(Clone, Debug)]
pub struct AppRegistration {
    pub client_id: String,
    pub secrets: Vec<ClientSecret>,
    pub certificates: Vec<RegisteredCertificate>,
    /// Application permissions granted (admin consent), as `roles` in the token.
    pub roles: Vec<String>,
}

impl AppRegistration {
    /// An app with the default roles and no credential yet.
    pub fn new(client_id: impl Into<String>) -> AppRegistration {
        AppRegistration {
            client_id: client_id.into().to_ascii_lowercase(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            roles: DEFAULT_ROLES.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// An identity platform error: HTTP status, `error`, AADSTS number and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, code: u32, description: String) -> TokenError {
        TokenError {
            status,
            error,
            code,
            description,
        }
    }

    fn invalid_client(code: u32, description: impl Into<String>) -> TokenError {
        TokenError::new(401, "invalid_client", code, description.into())
    }

    fn missing(parameter: &str) -> TokenError {
        TokenError::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    /// The body Entra sends, with trace and correlation ids.
    pub fn body(&self, trace_id: &str, correlation_id: &str, timestamp: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

/// Why a Graph request's access token was refused: HTTP status, Graph code, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessError {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
}

impl AccessError {
    const fn unauthorized(message: &'static str) -> AccessError {
        AccessError {
            status: 401,
            code: "InvalidAuthenticationToken",
            message,
        }
    }

    /// Graph's answer to an expired token.
    pub const EXPIRED: AccessError =
        AccessError::unauthorized("Lifetime validation failed, the token is expired.");
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    aud: String,
    iss: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    tid: String,
    appid: String,
    azp: String,
    idtyp: String,
    oid: String,
    sub: String,
    roles: Vec<String>,
    ver: String,
    uti: String,
}

/// The tenant's token service.
pub struct Authority {
    tenant_id: String,
    apps: Vec<AppRegistration>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("tenant_id", &self.tenant_id)
            .field("apps", &self.apps)
            .field("signing_key", &"********")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A field of a form body (first occurrence).
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl Authority {
    /// A token service for `tenant_id` with these apps, signing with `signing_key`.
    pub fn new(
        tenant_id: &str,
        apps: Vec<AppRegistration>,
        signing_key: &[u8],
        lifetime: Duration,
        clock: Arc<dyn Clock>,
    ) -> Authority {
        Authority {
            tenant_id: tenant_id.to_ascii_lowercase(),
            apps,
            encoding: EncodingKey::from_secret(signing_key),
            decoding: DecodingKey::from_secret(signing_key),
            lifetime,
            clock,
        }
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    fn now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn app(&self, client_id: &str) -> Result<&AppRegistration, TokenError> {
        self.apps
            .iter()
            .find(|app| app.client_id.eq_ignore_ascii_case(client_id))
            .ok_or_else(|| {
                TokenError::new(
                    400,
                    "unauthorized_client",
                    700016,
                    format!(
                        "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                        self.tenant_id
                    ),
                )
            })
    }

    /// The client credentials grant. `tenant` is the path segment, `form` the decoded body,
    /// `base_url` the scheme and host the client called (`https://127.0.0.1:port`), which is
    /// what a client assertion's `aud` names.
    pub fn token(
        &self,
        tenant: &str,
        form: &[(String, String)],
        base_url: &str,
    ) -> Result<Value, TokenError> {
        if !tenant.eq_ignore_ascii_case(&self.tenant_id) {
            return Err(TokenError::new(
                400,
                "invalid_request",
                90002,
                format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            ));
        }
        let grant = field(form, "grant_type").ok_or_else(|| TokenError::missing("grant_type"))?;
        if grant != "client_credentials" {
            return Err(TokenError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'. The fake tenant supports client_credentials only."),
            ));
        }
        let scope = field(form, "scope").ok_or_else(|| TokenError::missing("scope"))?;
        self.check_scope(scope, base_url)?;
        let app = match field(form, "client_assertion") {
            Some(assertion) => {
                match field(form, "client_assertion_type") {
                    Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") => {}
                    Some(other) => {
                        return Err(TokenError::new(
                            400,
                            "invalid_request",
                            50027,
                            format!("client_assertion_type '{other}' is not supported; it must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer."),
                        ))
                    }
                    None => return Err(TokenError::missing("client_assertion_type")),
                }
                self.check_assertion(assertion, field(form, "client_id"), tenant, base_url)?
            }
            None => {
                let client_id =
                    field(form, "client_id").ok_or_else(|| TokenError::missing("client_id"))?;
                let app = self.app(client_id)?;
                let Some(secret) = field(form, "client_secret") else {
                    return Err(TokenError::invalid_client(
                        7000216,
                        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
                    ));
                };
                let known = app
                    .secrets
                    .iter()
                    .any(|s| constant_time_eq(s.expose().as_bytes(), secret.as_bytes()));
                if !known {
                    return Err(TokenError::invalid_client(
                        7000215,
                        format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id),
                    ));
                }
                app
            }
        };
        let token = self.issue(app).map_err(|e| {
            TokenError::new(
                500,
                "server_error",
                50000,
                format!("cannot sign a token: {e}"),
            )
        })?;
        Ok(json!({
            "token_type": "Bearer",
            "expires_in": self.lifetime.as_secs(),
            "ext_expires_in": self.lifetime.as_secs(),
            "access_token": token,
        }))
    }

    fn check_scope(&self, scope: &str, base_url: &str) -> Result<(), TokenError> {
        let scopes: Vec<&str> = scope.split_whitespace().collect();
        let [only] = scopes.as_slice() else {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                1002012,
                format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
            ));
        };
        let Some(resource) = only.strip_suffix("/.default") else {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                1002012,
                format!("The provided value for scope {only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
            ));
        };
        let resource = resource.trim_end_matches('/');
        let graph = [GRAPH_RESOURCE, GRAPH_APP_ID, base_url.trim_end_matches('/')];
        if graph.iter().any(|g| g.eq_ignore_ascii_case(resource)) {
            Ok(())
        } else {
            Err(TokenError::new(
                400,
                "invalid_resource",
                500011,
                format!("The resource principal named {resource} was not found in the tenant named {}. The fake tenant serves Microsoft Graph only ({GRAPH_RESOURCE}/.default or {}/.default).", self.tenant_id, base_url.trim_end_matches('/')),
            ))
        }
    }

    fn check_assertion(
        &self,
        assertion: &str,
        client_id: Option<&str>,
        tenant: &str,
        base_url: &str,
    ) -> Result<&AppRegistration, TokenError> {
        let malformed = |why: &str| {
            TokenError::invalid_client(50027, format!("JWT token is invalid or malformed: {why}"))
        };
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|e| malformed(&format!("the client assertion's header: {e}")))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(malformed(&format!(
                "the client assertion is signed {:?}; Entra accepts RS256 and PS256",
                header.alg
            )));
        }
        // Which app: the client_id parameter, else the assertion's own sub (read unverified
        // only to find the key that will verify it).
        let claimed_sub = unverified_claim(assertion, "sub");
        let app = match (client_id, claimed_sub.as_deref()) {
            (Some(id), _) | (None, Some(id)) => self.app(id)?,
            (None, None) => return Err(TokenError::missing("client_id")),
        };
        let wanted_sha1 = header.x5t.as_deref().and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
        });
        let wanted_sha256 = header.x5t_s256.as_deref().and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
        });
        if wanted_sha1.is_none() && wanted_sha256.is_none() {
            return Err(TokenError::invalid_client(
                700027,
                "Client assertion contains no x5t or x5t#S256 header naming the signing certificate.",
            ));
        }
        let certificate = app
            .certificates
            .iter()
            .find(|c| {
                wanted_sha1.as_deref() == Some(c.sha1.as_slice())
                    || wanted_sha256.as_deref() == Some(c.sha256.as_slice())
            })
            .ok_or_else(|| {
                TokenError::invalid_client(
                    700027,
                    format!(
                        "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                        wanted_sha1.as_deref().map(hex).unwrap_or_default()
                    ),
                )
            })?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(assertion, &certificate.key, &validation)
            .map_err(|e| {
                TokenError::invalid_client(
                    700027,
                    format!("Client assertion failed signature validation. ({e})"),
                )
            })?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
        let (iss, sub) = (text("iss"), text("sub"));
        if iss.as_deref().map(str::to_ascii_lowercase) != Some(app.client_id.clone())
            || sub.as_deref().map(str::to_ascii_lowercase) != Some(app.client_id.clone())
        {
            return Err(TokenError::invalid_client(
                700021,
                format!(
                    "Client assertion application identifier doesn't match 'client_id' parameter: iss {iss:?} and sub {sub:?} must both be {}.",
                    app.client_id
                ),
            ));
        }
        let base = base_url.trim_end_matches('/');
        let accepted = [
            format!("{base}/{tenant}/oauth2/v2.0/token"),
            format!("{base}/{tenant}/oauth2/token"),
            format!("{base}/{tenant}/v2.0"),
        ];
        let audiences: Vec<String> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        if !audiences
            .iter()
            .any(|aud| accepted.iter().any(|a| a.eq_ignore_ascii_case(aud)))
        {
            return Err(TokenError::invalid_client(
                700027,
                format!(
                    "Client assertion audience claim does not match the token endpoint: aud {audiences:?}, expected {}.",
                    accepted[0]
                ),
            ));
        }
        let now = self.now();
        let exp = claims.get("exp").and_then(Value::as_u64);
        let nbf = claims.get("nbf").and_then(Value::as_u64);
        let expired = exp.is_none_or(|exp| exp + ASSERTION_SKEW_SECONDS < now);
        let early = nbf.is_some_and(|nbf| nbf > now + ASSERTION_SKEW_SECONDS);
        if expired || early {
            return Err(TokenError::invalid_client(
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {}, expiry time of assertion {}.",
                    nbf.map_or("(none)".to_string(), |n| n.to_string()),
                    exp.map_or("(none)".to_string(), |e| e.to_string())
                ),
            ));
        }
        Ok(app)
    }

    fn issue(&self, app: &AppRegistration) -> Result<String, jsonwebtoken::errors::Error> {
        let now = self.now();
        let claims = AccessClaims {
            aud: GRAPH_RESOURCE.to_string(),
            iss: format!("https://sts.windows.net/{}/", self.tenant_id),
            iat: now,
            nbf: now,
            exp: now + self.lifetime.as_secs(),
            tid: self.tenant_id.clone(),
            appid: app.client_id.clone(),
            azp: app.client_id.clone(),
            idtyp: "app".to_string(),
            oid: app.client_id.clone(),
            sub: app.client_id.clone(),
            roles: app.roles.clone(),
            ver: "1.0".to_string(),
            uti: format!("{now:x}"),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks the `Authorization` header of a Graph request and that the token grants `role`.
    pub fn check_access(&self, authorization: Option<&str>, role: &str) -> Result<(), AccessError> {
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
            return Err(AccessError::unauthorized("Access token is empty."));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AccessError::unauthorized("Access token is empty."))?;
        if token.split('.').count() != 3 {
            return Err(AccessError::unauthorized(
                "IDX14100: JWT is not well formed, there are no dots (.).",
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|_| AccessError::unauthorized("Access token validation failure."))?
            .claims;
        if claims.aud != GRAPH_RESOURCE {
            return Err(AccessError::unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        if claims.tid != self.tenant_id {
            return Err(AccessError::unauthorized(
                "Access token validation failure. Invalid issuer.",
            ));
        }
        let now = self.now();
        if claims.exp <= now {
            return Err(AccessError::EXPIRED);
        }
        if claims.nbf > now + ASSERTION_SKEW_SECONDS {
            return Err(AccessError::unauthorized(
                "Access token validation failure. The token is not yet valid.",
            ));
        }
        if !claims
            .roles
            .iter()
            .any(|r| r == role || r == "Directory.Read.All")
        {
            return Err(AccessError {
                status: 403,
                code: "Authorization_RequestDenied",
                message: "Insufficient privileges to complete the operation.",
            });
        }
        Ok(())
    }
}

/// A claim read from a JWT's payload without checking anything (to pick the verification key).
fn unverified_claim(token: &str, name: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get(name)?.as_str().map(str::to_string)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
