//! A fake Entra tenant: the identity platform's token endpoint and the part of Microsoft Graph
//! device writeback reads (`/v1.0/devices`, `/v1.0/devices/delta`, `/v1.0/users`), over HTTPS
//! with the simulator's certificate, so the lab, tests, demo and benches need no cloud.
//!
//! ```no_run
//! use devwb_simulator::entra::EntraTenant;
//!
//! let tenant = EntraTenant::builder()
//!     .client_secret("app-id-guid", "s3cret")        // or .client_certificate_pem(...)
//!     .synthetic_devices(1_000, 7, devwb_synthetic::default_owner_domain())
//!     .start_blocking()?;
//! let authority = tenant.url();                        // https://127.0.0.1:<port>
//! let token_url = tenant.token_url();                  // <url>/<tenant>/oauth2/v2.0/token
//! tenant.delete_device("6f9a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b").ok();
//! # Ok::<(), devwb_simulator::entra::EntraError>(())
//! ```
//!
//! Layout: [`model`] (device and user JSON, `$select`/`$expand`), [`state`] (devices, users, the
//! change log delta reads), [`auth`] (app credentials, tokens), [`faults`] (Graph-side fault
//! injection), [`routes`] (one request in, one answer out, no sockets), [`server`] (hyper over
//! tokio-rustls). Dropping the [`EntraHandle`] stops the listener.
//!
//! What it deliberately does not fake: delegated or interactive sign-in, refresh tokens, Graph
//! `$filter`/`$orderby`/`$search`/`$count`, writes through Graph itself (the admin endpoint and the
//! library API change the tenant), batching, HTTP/2, other resources than devices and users.
//! Its answers have Graph's shapes; its pacing, page sizes and token lifetimes are its own.

pub mod auth;
pub mod faults;
pub mod model;
pub mod routes;
mod server;
pub mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use devwb_model::Sid;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::{AppRegistration, ClientSecret, RegisteredCertificate};
pub use faults::{DeltaQuery, GraphFaultAction, GraphFaultConfig, GraphFaultRule, Route};
pub use routes::{HttpRequest, HttpResponse, Reply, Tenant};
pub use state::PutOutcome;

use crate::clock::{Clock, SystemClock};
use crate::transport::tls::TlsMaterial;

/// The tenant id when none is given (a fixed GUID, so lab scripts can name it).
pub const DEFAULT_TENANT_ID: &str = "7b3c1e2a-5d4f-4a6b-9c8d-0e1f2a3b4c5d";
/// The client id adsim registers when none is given.
pub const DEFAULT_CLIENT_ID: &str = "2f6c1d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f";
/// The access tokens' lifetime unless told otherwise (what Entra issues for app-only tokens).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// What can go wrong building, starting or changing a fake tenant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntraError {
    /// The listener could not bind.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate could not be made or used.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A client certificate could not be read or used.
    #[error("client certificate {path} for app {client_id}: {reason}")]
    Certificate {
        client_id: String,
        path: String,
        reason: String,
    },
    /// The tenant id is not a GUID.
    #[error("tenant id {0:?} is not a GUID")]
    TenantId(String),
    /// A device given through the library API was refused.
    #[error("invalid device: {0}")]
    InvalidDevice(String),
    /// No device with this id.
    #[error("no device with id {0}")]
    NoSuchDevice(String),
    /// No random bytes for the signing key.
    #[error("no randomness for the token signing key")]
    Random,
    /// The background runtime of a blocking tenant could not start.
    #[error("cannot start the tenant's runtime: {0}")]
    Runtime(std::io::Error),
}

/// The fake tenant's entry point.
#[derive(Debug)]
pub struct EntraTenant;

impl EntraTenant {
    /// A builder: tenant [`DEFAULT_TENANT_ID`], no app, no device, `127.0.0.1:0`, a self-signed
    /// certificate, tokens of [`DEFAULT_TOKEN_LIFETIME`], the system clock, no faults.
    pub fn builder() -> EntraTenantBuilder {
        EntraTenantBuilder::default()
    }
}

/// Builds and starts a fake tenant.
pub struct EntraTenantBuilder {
    listen: SocketAddr,
    tenant_id: String,
    apps: Vec<AppRegistration>,
    certificates: Vec<(String, CertificateSource)>,
    tls: Option<TlsMaterial>,
    token_lifetime: Duration,
    clock: Arc<dyn Clock>,
    faults: GraphFaultConfig,
    synthetic: Option<(u64, u64, Sid)>,
    devices: Vec<Value>,
    expired_delta_status: u16,
}

enum CertificateSource {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl std::fmt::Debug for EntraTenantBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraTenantBuilder")
            .field("listen", &self.listen)
            .field("tenant_id", &self.tenant_id)
            .field("apps", &self.apps)
            .field("token_lifetime", &self.token_lifetime)
            .field("synthetic", &self.synthetic)
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl Default for EntraTenantBuilder {
    fn default() -> EntraTenantBuilder {
        EntraTenantBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            apps: Vec::new(),
            certificates: Vec::new(),
            tls: None,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            clock: Arc::new(SystemClock),
            faults: GraphFaultConfig::default(),
            synthetic: None,
            devices: Vec::new(),
            expired_delta_status: 410,
        }
    }
}

impl EntraTenantBuilder {
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// The tenant id (a GUID; default [`DEFAULT_TENANT_ID`]).
    pub fn tenant_id(mut self, tenant_id: &str) -> Self {
        self.tenant_id = tenant_id.to_ascii_lowercase();
        self
    }

    fn app_mut(&mut self, client_id: &str) -> &mut AppRegistration {
        let client_id = client_id.to_ascii_lowercase();
        let index = match self.apps.iter().position(|a| a.client_id == client_id) {
            Some(index) => index,
            None => {
                self.apps.push(AppRegistration::new(client_id));
                self.apps.len() - 1
            }
        };
        &mut self.apps[index]
    }

    /// Registers an app (if new) with this client secret.
    pub fn client_secret(mut self, client_id: &str, secret: &str) -> Self {
        self.app_mut(client_id)
            .secrets
            .push(ClientSecret::new(secret));
        self
    }

    /// Registers an app (if new) with a certificate (PEM, RSA) for client assertions.
    pub fn client_certificate_pem(mut self, client_id: &str, pem: &[u8]) -> Self {
        self.app_mut(client_id);
        self.certificates
            .push((client_id.to_string(), CertificateSource::Pem(pem.to_vec())));
        self
    }

    /// Like [`Self::client_certificate_pem`], read from a file at start.
    pub fn client_certificate_file(mut self, client_id: &str, path: impl Into<PathBuf>) -> Self {
        self.app_mut(client_id);
        self.certificates
            .push((client_id.to_string(), CertificateSource::File(path.into())));
        self
    }

    /// Registers an app as given (credentials and roles).
    pub fn app(mut self, app: AppRegistration) -> Self {
        self.apps.retain(|a| a.client_id != app.client_id);
        self.apps.push(app);
        self
    }

    /// The server certificate (default: a fresh self-signed one for `localhost` and `127.0.0.1`).
    /// adsim passes the LDAP listeners' material so one CA file serves both.
    pub fn tls(mut self, material: TlsMaterial) -> Self {
        self.tls = Some(material);
        self
    }

    /// Access tokens' lifetime (default 3599 s; a second or two for expiry tests).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// The clock for token times and error dates.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Faults to inject (see [`faults`]); [`Tenant::set_faults`] changes them later.
    pub fn faults(mut self, faults: GraphFaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Seeds `count` synthetic devices (the generator of `cargo xtask gen-devices`, same seed,
    /// same devices) owned by users of `owner_domain`; each distinct owner is also a user.
    pub fn synthetic_devices(mut self, count: u64, seed: u64, owner_domain: Sid) -> Self {
        self.synthetic = Some((count, seed, owner_domain));
        self
    }

    /// Adds a device (Graph JSON, owners as `registeredOwners`) at start.
    pub fn device(mut self, device: Value) -> Self {
        self.devices.push(device);
        self
    }

    /// The HTTP status of an expired or unknown delta token: 410 (default, what the task and
    /// Graph's delta overview describe) or 400 (what Microsoft announced for directory objects).
    pub fn expired_delta_status(mut self, status: u16) -> Self {
        self.expired_delta_status = status;
        self
    }

    /// Builds the tenant without a listener (for tests of the routes and for embedding).
    pub fn build(self) -> Result<Arc<Tenant>, EntraError> {
        devwb_model::Guid::parse(&self.tenant_id)
            .map_err(|_| EntraError::TenantId(self.tenant_id.clone()))?;
        let mut apps = self.apps;
        for (client_id, source) in &self.certificates {
            let (path, pem) = match source {
                CertificateSource::Pem(pem) => ("<pem>".to_string(), pem.clone()),
                CertificateSource::File(path) => (
                    path.display().to_string(),
                    std::fs::read(path).map_err(|e| EntraError::Certificate {
                        client_id: client_id.clone(),
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?,
                ),
            };
            let certificate = RegisteredCertificate::from_pem(&pem).map_err(|reason| {
                EntraError::Certificate {
                    client_id: client_id.clone(),
                    path,
                    reason,
                }
            })?;
            let client_id = client_id.to_ascii_lowercase();
            if let Some(app) = apps.iter_mut().find(|a| a.client_id == client_id) {
                app.certificates.push(certificate);
            }
        }
        let mut random = [0u8; 40];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut random)
            .map_err(|_| EntraError::Random)?;
        let (key, epoch) = random.split_at(32);
        let epoch = u64::from_le_bytes(epoch.try_into().map_err(|_| EntraError::Random)?);
        let authority = auth::Authority::new(
            &self.tenant_id,
            apps,
            key,
            self.token_lifetime,
            self.clock.clone(),
        );
        let tenant = Arc::new(Tenant::new(
            authority,
            faults::GraphFaults::new(self.faults),
            epoch,
            self.clock,
            self.expired_delta_status,
        ));
        if let Some((count, seed, domain)) = self.synthetic {
            tenant.seed_synthetic(count, seed, domain)?;
        }
        for device in &self.devices {
            tenant
                .put_device(device, None)
                .map_err(|e| EntraError::InvalidDevice(e.0))?;
        }
        Ok(tenant)
    }

    /// Starts the tenant on the current tokio runtime.
    pub async fn start(self) -> Result<EntraHandle, EntraError> {
        let listen = self.listen;
        let material = match &self.tls {
            Some(material) => material.clone(),
            None => TlsMaterial::self_signed(&["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| EntraError::Tls(e.to_string()))?,
        };
        let acceptor = material
            .acceptor()
            .map_err(|e| EntraError::Tls(e.to_string()))?;
        let tenant = self.build()?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| EntraError::Listen {
                address: listen.to_string(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| EntraError::Listen {
            address: listen.to_string(),
            source,
        })?;
        *tenant
            .default_base_url
            .write()
            .unwrap_or_else(|e| e.into_inner()) = format!("https://{address}");
        let (shutdown, receiver) = watch::channel(false);
        tokio::spawn(server::serve(listener, acceptor, tenant.clone(), receiver));
        Ok(EntraHandle {
            tenant,
            address,
            certificate_pem: material.certificate_pem,
            shutdown,
            runtime_thread: None,
        })
    }

    /// Starts the tenant on a runtime of its own (a background thread), for synchronous tests.
    pub fn start_blocking(self) -> Result<EntraHandle, EntraError> {
        let (mut handle, thread) = crate::background::start_in_background(
            "adsim-entra",
            move || self.start(),
            |handle: &EntraHandle| handle.shutdown.subscribe(),
            EntraError::Runtime,
        )?;
        handle.runtime_thread = Some(thread);
        Ok(handle)
    }
}

impl Tenant {
    fn seed_synthetic(&self, count: u64, seed: u64, domain: Sid) -> Result<(), EntraError> {
        let config = devwb_synthetic::SyntheticConfig::new(count, seed, domain);
        // The generator gives every device a fresh owner id; owners with the same SID are one
        // user, so the first id seen for a SID is used for all its devices.
        let mut user_of_sid: HashMap<String, String> = HashMap::new();
        for device in devwb_synthetic::SyntheticDevices::new(config) {
            let sid = device.owner_sid.to_string();
            let owner_id = user_of_sid
                .entry(sid)
                .or_insert_with(|| device.owner_id.to_string().to_ascii_lowercase())
                .clone();
            let mut json = device.to_json();
            if let Some(owner) = json
                .get_mut("registeredOwners")
                .and_then(|o| o.get_mut(0))
                .and_then(Value::as_object_mut)
            {
                owner.insert("id".into(), Value::String(owner_id));
            }
            self.put_device(&json, None)
                .map_err(|e| EntraError::InvalidDevice(e.0))?;
        }
        Ok(())
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        self.authority.tenant_id()
    }

    /// Adds or replaces a device from Graph JSON (owners as `registeredOwners`); visible to the
    /// next delta round.
    pub fn put_device_json(&self, device: &Value) -> Result<PutOutcome, EntraError> {
        self.put_device(device, None)
            .map_err(|e| EntraError::InvalidDevice(e.0))
    }

    /// Changes some properties of a device (Graph PATCH semantics).
    pub fn update_device(&self, id: &str, properties: &Value) -> Result<(), EntraError> {
        let id = model::canonical_guid(id, "id").map_err(|e| EntraError::InvalidDevice(e.0))?;
        if self.read().device(&id).is_none() {
            return Err(EntraError::NoSuchDevice(id));
        }
        self.patch_device(&id, properties)
            .map(|_| ())
            .map_err(|e| EntraError::InvalidDevice(e.0))
    }

    /// Disables (or enables) a device.
    pub fn set_account_enabled(&self, id: &str, enabled: bool) -> Result<(), EntraError> {
        self.update_device(id, &serde_json::json!({ "accountEnabled": enabled }))
    }

    /// Deletes a device; the next delta round reports it `@removed`.
    pub fn delete_device(&self, id: &str) -> Result<(), EntraError> {
        let id = model::canonical_guid(id, "id").map_err(|e| EntraError::InvalidDevice(e.0))?;
        if self.write().delete_device(&id) {
            Ok(())
        } else {
            Err(EntraError::NoSuchDevice(id))
        }
    }

    /// A device as Graph JSON with its owners expanded.
    pub fn device_json(&self, id: &str) -> Option<Value> {
        let id = id.to_ascii_lowercase();
        let state = self.read();
        let device = state.device(&id)?;
        let owners = state.owners_of(device);
        Some(Value::Object(device.render(None, Some((&owners, None)))))
    }

    /// Device ids, in id order.
    pub fn device_ids(&self) -> Vec<String> {
        let state = self.read();
        let (devices, _) = state.devices_after(None, usize::MAX - 1);
        devices.into_iter().map(|d| d.id.clone()).collect()
    }

    /// How many devices the tenant has.
    pub fn device_count(&self) -> usize {
        self.read().device_count()
    }

    /// How many users (registered owners) the tenant has.
    pub fn user_count(&self) -> usize {
        self.read().user_count()
    }

    /// Makes every delta token issued so far answer `syncStateNotFound`.
    pub fn expire_delta_tokens(&self) {
        self.write().expire_delta_tokens();
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: GraphFaultConfig) {
        self.faults.set(faults);
    }

    /// Adds a fault rule after the current ones.
    pub fn push_fault(&self, rule: GraphFaultRule) {
        self.faults.push(rule);
    }
}

/// A running fake tenant. Dropping it stops the listener (and a blocking tenant's thread).
/// It dereferences to the [`Tenant`], whose methods change devices and faults.
pub struct EntraHandle {
    tenant: Arc<Tenant>,
    address: SocketAddr,
    certificate_pem: String,
    shutdown: watch::Sender<bool>,
    runtime_thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for EntraHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraHandle")
            .field("address", &self.address)
            .field("tenant", &self.tenant.tenant_id())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for EntraHandle {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        &self.tenant
    }
}

impl EntraHandle {
    /// `https://127.0.0.1:<port>`: the authority and the Graph base URL both.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// `<url>/<tenant>/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.url(),
            self.tenant.tenant_id()
        )
    }

    /// The server certificate (PEM), for clients that verify it (`curl --cacert`).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The tenant, to share with other threads.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// Stops the listener now (also done on drop).
    pub fn shutdown(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.runtime_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EntraHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
