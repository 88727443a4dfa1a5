//! What the client needs to know: which cloud (authority and Graph hosts), which tenant and app,
//! which credential, whom to trust for TLS, and how patient to be (retries, total deadline).
//!
//! Secrets live in [`SecretString`], whose `Debug` and `Display` print `********`; the loading
//! helpers read files whose paths the caller chose. Nothing here reads environment variables or
//! prints: that is the binary's business.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use url::Url;

use crate::assertion::AssertionSigner;
use crate::error::{Error, Result};

/// A secret (a client secret, a private key's PEM, an access token). `Debug` and `Display` print
/// `********`; read it with [`SecretString::expose`], only where it goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretString {
        SecretString(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// How the app proves who it is to the identity platform.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A client secret (the app registration's "Certificates & secrets" value).
    Secret(SecretString),
    /// A certificate: the client assertion is a JWT signed with this RSA key, naming the
    /// certificate by its SHA-1 and SHA-256 thumbprints. What Microsoft tells admins to prefer.
    Certificate {
        /// The RSA private key, PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
        key_pem: SecretString,
        /// The certificate uploaded to the app registration, PEM; the first certificate is used.
        cert_pem: String,
    },
}

impl Credential {
    /// The assertion signer of a certificate credential (its PEMs checked and a trial signature
    /// made); `Ok(None)` for a secret. The error says what is wrong with which PEM, never what is
    /// in it.
    pub(crate) fn signer(&self) -> Result<Option<AssertionSigner>, String> {
        match self {
            Credential::Secret(_) => Ok(None),
            Credential::Certificate { key_pem, cert_pem } => {
                AssertionSigner::from_pems(key_pem.expose(), cert_pem).map(Some)
            }
        }
    }
}

impl Credential {
    /// A client secret read from a file: the first line, trailing whitespace removed (files
    /// written by `echo` or editors end with a newline that is not part of the secret).
    pub fn secret_from_file(path: &Path) -> Result<Credential> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::credential(format!(
                "cannot read the client secret file {}: {e}",
                path.display()
            ))
        })?;
        let secret = text.lines().next().unwrap_or("").trim_end();
        if secret.is_empty() {
            return Err(Error::credential(format!(
                "the client secret file {} is empty",
                path.display()
            )));
        }
        Ok(Credential::Secret(SecretString::new(secret)))
    }

    /// A certificate credential from a PEM key file and a PEM certificate file (they may be the
    /// same file holding both). Both are checked here, so a bad file fails before any request.
    pub fn certificate_from_files(key_path: &Path, cert_path: &Path) -> Result<Credential> {
        let key_pem = std::fs::read_to_string(key_path).map_err(|e| {
            Error::credential(format!(
                "cannot read the private key file {}: {e}",
                key_path.display()
            ))
        })?;
        let cert_pem = std::fs::read_to_string(cert_path).map_err(|e| {
            Error::credential(format!(
                "cannot read the certificate file {}: {e}",
                cert_path.display()
            ))
        })?;
        let credential = Credential::Certificate {
            key_pem: SecretString::new(key_pem),
            cert_pem,
        };
        credential.signer().map_err(|e| {
            Error::credential(format!(
                "key {} / certificate {}: {e}",
                key_path.display(),
                cert_path.display()
            ))
        })?;
        Ok(credential)
    }
}

/// A national cloud: its identity platform and its Graph host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cloud {
    /// The global service: `login.microsoftonline.com`, `graph.microsoft.com`.
    Public,
    /// US Government L4/L5: `login.microsoftonline.us`, `graph.microsoft.us`.
    UsGovernment,
    /// China, operated by 21Vianet: `login.chinacloudapi.cn`, `microsoftgraph.chinacloudapi.cn`.
    China,
}

impl Cloud {
    /// The authority host's URL.
    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::UsGovernment => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Graph host's URL.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Public => "https://graph.microsoft.com",
            Cloud::UsGovernment => "https://graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

/// How failed requests are retried. Throttling (429) and 503/504 wait for `Retry-After` when the
/// answer has one; everything retried without it waits an exponentially growing, jittered time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request after its first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// The first backoff; each further one doubles, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest backoff computed without `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Six retries from 500 ms up to 30 s: about a minute of backing off, which rides out
    /// Graph's usual throttling windows without hiding a real outage for long.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Everything the client needs. Build it with [`GraphConfig::new`] (public cloud) or
/// [`GraphConfig::for_cloud`], then the `with_*` methods.
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// The identity platform, `https://login.microsoftonline.com` by default. The token endpoint
    /// is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub authority: Url,
    /// The Graph service, `https://graph.microsoft.com` by default. Requests go to
    /// `{graph_url}/v1.0/...`; the token's scope is `{graph_url}/.default`.
    pub graph_url: Url,
    /// The tenant: its GUID or a verified domain name.
    pub tenant: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    /// The app's credential.
    pub credential: Credential,
    /// A PEM file of CA certificates to trust instead of the platform's store.
    pub ca_file: Option<PathBuf>,
    /// Further CA certificates (DER) to trust; with `ca_file`, both are trusted. When neither is
    /// given, the platform's store is used.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Accept any server certificate. For labs only: a warning is logged when the client is built.
    pub insecure_skip_verify: bool,
    /// An HTTP(S) proxy for every request; none by default (the library reads no environment
    /// variable, so a caller that honours `HTTPS_PROXY` passes it here).
    pub proxy: Option<Url>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// The most one listing may take, from the call that starts it to its last page: every
    /// request, retry and wait, and the time the caller spends between pages (a sync round
    /// that stalls fails rather than hangs).
    pub deadline: Duration,
    /// The most one request may take, connecting and reading the body included.
    pub request_timeout: Duration,
}

impl GraphConfig {
    /// The default total deadline of one listing: 100k devices are about 100 pages, each a
    /// second or two; half an hour leaves room for heavy throttling.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30 * 60);
    /// The default timeout of one request.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(100);

    /// A configuration for the public cloud.
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Result<GraphConfig> {
        GraphConfig::for_cloud(Cloud::Public, tenant, client_id, credential)
    }

    /// A configuration for a national cloud.
    pub fn for_cloud(
        cloud: Cloud,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Result<GraphConfig> {
        let config = GraphConfig {
            authority: parse_https_url("authority", cloud.authority())?,
            graph_url: parse_https_url("graph URL", cloud.graph_url())?,
            tenant: tenant.into(),
            client_id: client_id.into(),
            credential,
            ca_file: None,
            extra_roots: Vec::new(),
            insecure_skip_verify: false,
            proxy: None,
            retry: RetryPolicy::default(),
            deadline: GraphConfig::DEFAULT_DEADLINE,
            request_timeout: GraphConfig::DEFAULT_REQUEST_TIMEOUT,
        };
        config.validate()?;
        Ok(config)
    }

    /// Sets the authority (`--authority`): a national cloud's, or a fake tenant's.
    pub fn with_authority(mut self, authority: &str) -> Result<GraphConfig> {
        self.authority = parse_https_url("authority", authority)?;
        Ok(self)
    }

    /// Sets the Graph base URL (`--graph-url`).
    pub fn with_graph_url(mut self, graph_url: &str) -> Result<GraphConfig> {
        self.graph_url = parse_https_url("graph URL", graph_url)?;
        Ok(self)
    }

    /// Trusts the CA certificates of a PEM file instead of the platform's store.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> GraphConfig {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// Trusts one more CA certificate (DER).
    pub fn with_extra_root(mut self, certificate: CertificateDer<'static>) -> GraphConfig {
        self.extra_roots.push(certificate);
        self
    }

    /// Accepts any certificate (labs only; logged as a warning).
    pub fn with_insecure_skip_verify(mut self, skip: bool) -> GraphConfig {
        self.insecure_skip_verify = skip;
        self
    }

    /// Sends every request through this proxy.
    pub fn with_proxy(mut self, proxy: Url) -> GraphConfig {
        self.proxy = Some(proxy);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> GraphConfig {
        self.retry = retry;
        self
    }

    /// Sets the total deadline of one listing.
    pub fn with_deadline(mut self, deadline: Duration) -> GraphConfig {
        self.deadline = deadline;
        self
    }

    /// Sets the timeout of one request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> GraphConfig {
        self.request_timeout = timeout;
        self
    }

    /// The token endpoint, `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> Result<Url> {
        let base = with_trailing_slash(&self.authority);
        base.join(&format!("{}/oauth2/v2.0/token", self.tenant))
            .map_err(|e| Error::config(format!("token endpoint for tenant {:?}: {e}", self.tenant)))
    }

    /// The scope asked for, `{graph_url}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph_url.as_str().trim_end_matches('/'))
    }

    /// The base that API paths (`v1.0/devices`) are joined to: the Graph URL with a trailing slash.
    pub(crate) fn graph_base(&self) -> Url {
        with_trailing_slash(&self.graph_url)
    }

    /// Checks what can be checked before any request: HTTPS URLs, a tenant and client id that fit
    /// in a URL path and a form.
    pub fn validate(&self) -> Result<()> {
        check_https("authority", &self.authority)?;
        check_https("graph URL", &self.graph_url)?;
        let tenant_ok = !self.tenant.is_empty()
            && self
                .tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !tenant_ok {
            return Err(Error::config(format!(
                "tenant {:?} is not a tenant id or domain name (letters, digits, '-', '.', '_')",
                self.tenant
            )));
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::config("the client id is empty"));
        }
        if self.deadline.is_zero() {
            return Err(Error::config("the deadline is zero"));
        }
        Ok(())
    }
}

fn parse_https_url(what: &str, text: &str) -> Result<Url> {
    let url = Url::parse(text).map_err(|e| Error::config(format!("{what} {text:?}: {e}")))?;
    check_https(what, &url)?;
    Ok(url)
}

fn check_https(what: &str, url: &Url) -> Result<()> {
    if url.scheme() != "https" {
        return Err(Error::config(format!(
            "{what} {:?} is not https: tokens and devices never travel in clear text",
            url.as_str()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{what} {:?} has a query or fragment",
            url.as_str()
        )));
    }
    Ok(())
}

fn with_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Credential {
        Credential::Secret(SecretString::new("s3cr3t-value"))
    }

    #[test]
    fn clouds_have_their_hosts_and_endpoints() {
        let cases = [
            (
                Cloud::Public,
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://graph.microsoft.com/.default",
            ),
            (
                Cloud::UsGovernment,
                "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://graph.microsoft.us/.default",
            ),
            (
                Cloud::China,
                "https://login.chinacloudapi.cn/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, token, scope) in cases {
            let config =
                GraphConfig::for_cloud(cloud, "contoso.onmicrosoft.com", "app", secret()).unwrap();
            assert_eq!(
                config.token_endpoint().unwrap().as_str(),
                token,
                "{cloud:?}"
            );
            assert_eq!(config.scope(), scope, "{cloud:?}");
        }
    }

    #[test]
    fn a_fake_tenant_under_a_path_keeps_its_path() {
        let config = GraphConfig::new("t1", "app", secret())
            .unwrap()
            .with_authority("https://127.0.0.1:8443/login")
            .unwrap()
            .with_graph_url("https://127.0.0.1:8443/graph/")
            .unwrap();
        assert_eq!(
            config.token_endpoint().unwrap().as_str(),
            "https://127.0.0.1:8443/login/t1/oauth2/v2.0/token"
        );
        assert_eq!(config.scope(), "https://127.0.0.1:8443/graph/.default");
        assert_eq!(
            config.graph_base().join("v1.0/devices").unwrap().as_str(),
            "https://127.0.0.1:8443/graph/v1.0/devices"
        );
    }

    #[test]
    fn bad_configurations_are_refused_with_what_is_wrong() {
        let http = GraphConfig::new("t1", "app", secret())
            .unwrap()
            .with_graph_url("http://graph.example");
        assert!(http.unwrap_err().to_string().contains("is not https"));
        let tenant = GraphConfig::new("t1/../x", "app", secret()).unwrap_err();
        assert!(
            tenant.to_string().contains("tenant \"t1/../x\""),
            "{tenant}"
        );
        let client = GraphConfig::new("t1", " ", secret()).unwrap_err();
        assert!(client.to_string().contains("client id is empty"));
    }

    #[test]
    fn secrets_print_as_stars() {
        let config = GraphConfig::new("t1", "app", secret()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("********"));
        assert_eq!(SecretString::new("x").to_string(), "********");
    }

    #[test]
    fn a_secret_file_gives_its_first_line_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "abc~def.123\n").unwrap();
        match Credential::secret_from_file(&path).unwrap() {
            Credential::Secret(secret) => assert_eq!(secret.expose(), "abc~def.123"),
            other => panic!("not a secret: {other:?}"),
        }
        std::fs::write(&path, "\n").unwrap();
        let empty = Credential::secret_from_file(&path).unwrap_err().to_string();
        assert!(
            empty.contains("is empty") && empty.contains("secret"),
            "{empty}"
        );
        let missing = Credential::secret_from_file(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope"), "{missing}");
    }
}
