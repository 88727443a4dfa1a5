//! Starting a simulator: the [`SimulatorBuilder`], and the [`SimHandle`] that owns the
//! running server and shuts it down when dropped.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use devwb_model::{Dn, SchemaLevel, Sid};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, IdSource, SeededIds, SystemClock};
use crate::codec::Limits;
use crate::error::ResultCode;
use crate::error::{OpError, SimError};
use crate::forest::Forest;
use crate::handler::{DcRole, Endpoints, Handler, HandlerConfig, Session, Topology};
use crate::ldif::{self, Record};
use crate::names::DomainNames;
use crate::request::{Identity, RequestControls};
use crate::store::{Entry, Secret, Snapshot};
use crate::transport::tls::TlsMaterial;
use crate::transport::{self, Shared};

/// The simulator's entry point.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// A builder with the defaults: forest `contoso.lab`, schema 2016, plain LDAP and LDAPS
    /// on `127.0.0.1:0`, a self-signed certificate, simple binds only over TLS, the system
    /// clock, random ids and a generated admin password.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

/// Where a listener goes. `None` turns it off.
#[derive(Clone, Debug)]
pub struct Listeners {
    pub plain: Option<SocketAddr>,
    pub ldaps: Option<SocketAddr>,
}

/// Builds and starts a simulator.
pub struct SimulatorBuilder {
    forest: String,
    /// The other domains of the forest and where their DCs listen.
    domains: Vec<(String, Listeners)>,
    /// Where the global catalog listens (on ephemeral ports by default when the forest has
    /// more than one domain).
    global_catalog: Option<Listeners>,
    schema_level: SchemaLevel,
    listeners: Listeners,
    tls_files: Option<(PathBuf, PathBuf)>,
    seed_ldif: Vec<PathBuf>,
    allow_plain_bind: bool,
    admin_password: Option<String>,
    clock: Arc<dyn Clock>,
    ids: Option<Arc<dyn IdSource>>,
    limits: Limits,
    handler: HandlerConfig,
    faults: crate::faults::FaultConfig,
}

impl fmt::Debug for SimulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorBuilder")
            .field("forest", &self.forest)
            .field("domains", &self.domains)
            .field("global_catalog", &self.global_catalog)
            .field("schema_level", &self.schema_level)
            .field("listeners", &self.listeners)
            .field("tls_files", &self.tls_files)
            .field("seed_ldif", &self.seed_ldif)
            .field("allow_plain_bind", &self.allow_plain_bind)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "********"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for SimulatorBuilder {
    fn default() -> SimulatorBuilder {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        SimulatorBuilder {
            forest: "contoso.lab".to_string(),
            domains: Vec::new(),
            global_catalog: None,
            schema_level: SchemaLevel::W2016,
            listeners: Listeners {
                plain: Some(loopback),
                ldaps: Some(loopback),
            },
            tls_files: None,
            seed_ldif: Vec::new(),
            allow_plain_bind: false,
            admin_password: None,
            clock: Arc::new(SystemClock),
            ids: None,
            limits: Limits::default(),
            handler: HandlerConfig::default(),
            faults: crate::faults::FaultConfig::default(),
        }
    }
}

impl SimulatorBuilder {
    /// Faults to inject (latency, result codes, dropped or refused connections; see
    /// [`crate::faults`]). Default: none. [`SimHandle::set_faults`] changes them later.
    pub fn faults(mut self, faults: crate::faults::FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// The forest's DNS name (default `contoso.lab`).
    pub fn forest(mut self, dns_name: &str) -> Self {
        self.forest = dns_name.to_string();
        self
    }

    /// Adds a domain to the forest: a child domain (`emea.contoso.lab`) or a new tree
    /// (`fabrikam.lab`), with its own domain SID, default objects and crossRef, and its own DC
    /// listening for plain LDAP and LDAPS on `127.0.0.1:0`. Repeatable. The forest then also
    /// gets a global catalog (see [`SimulatorBuilder::global_catalog`]).
    pub fn domain(self, dns_name: &str) -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        self.domain_listeners(dns_name, Some(loopback), Some(loopback))
    }

    /// [`SimulatorBuilder::domain`] with its DC on these addresses (`None` turns one off).
    pub fn domain_listeners(
        mut self,
        dns_name: &str,
        plain: Option<SocketAddr>,
        ldaps: Option<SocketAddr>,
    ) -> Self {
        self.domains
            .push((dns_name.to_string(), Listeners { plain, ldaps }));
        self
    }

    /// The global catalog's listeners (AD's ports 3268 and 3269; any address here). Without
    /// this call a forest of one domain has no global catalog and a forest of several has one
    /// on `127.0.0.1:0` for both.
    pub fn global_catalog(mut self, plain: Option<SocketAddr>, ldaps: Option<SocketAddr>) -> Self {
        self.global_catalog = Some(Listeners { plain, ldaps });
        self
    }

    /// The schema level (default 2016).
    pub fn schema_level(mut self, level: SchemaLevel) -> Self {
        self.schema_level = level;
        self
    }

    /// Where plain LDAP listens (default `127.0.0.1:0`, an ephemeral port); `None` for none.
    pub fn listen(mut self, address: Option<SocketAddr>) -> Self {
        self.listeners.plain = address;
        self
    }

    /// Where LDAPS listens (default `127.0.0.1:0`); `None` for none.
    pub fn ldaps(mut self, address: Option<SocketAddr>) -> Self {
        self.listeners.ldaps = address;
        self
    }

    /// A certificate chain and key (PEM files) instead of a generated self-signed certificate.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_files = Some((cert.into(), key.into()));
        self
    }

    /// An LDIF file applied at start (content and change records); may be given several times.
    pub fn seed_ldif(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed_ldif.push(path.into());
        self
    }

    /// Accept simple binds without TLS (default false: `strongerAuthRequired`, as AD).
    pub fn allow_plain_bind(mut self, allow: bool) -> Self {
        self.allow_plain_bind = allow;
        self
    }

    /// The Administrator's password (default: generated, see [`SimHandle::admin_password`]).
    pub fn admin_password(mut self, password: &str) -> Self {
        self.admin_password = Some(password.to_string());
        self
    }

    /// The clock for `whenCreated`, `whenChanged` and `currentTime`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The source of GUIDs, SIDs and the generated password.
    pub fn ids(mut self, ids: Arc<dyn IdSource>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// Shortcut for deterministic ids: [`SeededIds`] with `seed`.
    pub fn seed(self, seed: u64) -> Self {
        self.ids(Arc::new(SeededIds::new(seed)))
    }

    /// The connection limits (maximum message size and nesting, bytes held for unbound
    /// connections, timeouts); see [`Limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long the rest of a started message may take (default 30 s).
    pub fn partial_message_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limits.partial_message_timeout = timeout;
        self
    }

    /// How long a connection nobody has bound on may stay idle (default 900 s, AD's
    /// MaxConnIdleTime).
    pub fn idle_unauthenticated_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.limits.idle_unauthenticated_timeout = timeout;
        self
    }

    /// The most bytes of unfinished messages held for all unbound connections together
    /// (default 16 MiB).
    pub fn max_unauthenticated_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_unauthenticated_bytes = bytes;
        self
    }

    /// The most values of non-linked multi-valued attributes one entry may hold (default
    /// [`HandlerConfig::DEFAULT_MAX_NONLINKED_VALUES`], about AD's; `None` lifts the limit).
    /// A write beyond it answers `adminLimitExceeded`, as AD does.
    pub fn max_nonlinked_values(mut self, limit: Option<usize>) -> Self {
        self.handler.max_nonlinked_values = limit;
        self
    }

    /// AD's MaxPageSize (default 1000).
    pub fn max_page_size(mut self, size: usize) -> Self {
        self.handler.max_page_size = size.max(1);
        self
    }

    fn build_forest(&self) -> Result<(Arc<Forest>, String), SimError> {
        let ids = self
            .ids
            .clone()
            .unwrap_or_else(|| Arc::new(SeededIds::from_entropy()));
        let password = match &self.admin_password {
            Some(password) => password.clone(),
            None => format!("Adsim-{:016x}!", ids.next_u64()),
        };
        let domains: Vec<String> = self.domains.iter().map(|(name, _)| name.clone()).collect();
        let forest = Arc::new(Forest::build_with_domains(
            &self.forest,
            &domains,
            self.schema_level,
            &password,
            self.clock.clone(),
            ids,
        )?);
        forest.semantics.set_faults(self.faults.clone());
        for path in &self.seed_ldif {
            let text = std::fs::read_to_string(path).map_err(|source| SimError::File {
                path: path.display().to_string(),
                source,
            })?;
            apply_ldif(&forest, &text, &path.display().to_string())?;
        }
        refuse_unknown_domains(&forest, &self.seed_ldif)?;
        // A seed may carry the Administrator's password (a dump does): a password given to the
        // builder still wins; a generated one gives way to the seed's, so the handle tells the
        // password that works.
        let admin = &forest.names.admin_dn;
        let password = match (&self.admin_password, forest.store.secret(admin)) {
            (Some(given), _) => {
                // Every domain's Administrator has the one password.
                for domain in &forest.names.domains {
                    forest
                        .store
                        .set_secret(&domain.admin_dn, Secret::new(given.clone()));
                }
                password
            }
            (None, Some(seeded)) => seeded.expose().to_string(),
            (None, None) => password,
        };
        Ok((forest, password))
    }

    /// Starts the server on the current tokio runtime: the forest root domain's DC, each
    /// other domain's DC and the global catalog, each on its own listeners.
    pub async fn start(self) -> Result<SimHandle, SimError> {
        let (forest, password) = self.build_forest()?;
        let mut config = self.handler.clone();
        config.allow_plain_bind = self.allow_plain_bind;
        let material = match &self.tls_files {
            Some((cert, key)) => TlsMaterial::from_pem_files(cert, key)?,
            None => {
                let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
                names.extend(forest.names.domains.iter().map(|d| d.dc_host_name.clone()));
                TlsMaterial::self_signed(&names)?
            }
        };
        let (shutdown, receiver) = watch::channel(false);
        let bind = |address: SocketAddr| async move {
            TcpListener::bind(address)
                .await
                .map_err(|source| SimError::Listen {
                    address: address.to_string(),
                    source,
                })
        };
        // Every listener is bound before any serves: each DC's referrals name the others.
        let mut roles = vec![(DcRole::Domain(0), self.listeners.clone())];
        for (index, (_, listeners)) in self.domains.iter().enumerate() {
            roles.push((DcRole::Domain(index + 1), listeners.clone()));
        }
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let gc = self.global_catalog.clone().or_else(|| {
            (!self.domains.is_empty()).then_some(Listeners {
                plain: Some(loopback),
                ldaps: Some(loopback),
            })
        });
        if let Some(listeners) = gc {
            roles.push((DcRole::GlobalCatalog, listeners));
        }
        let mut bound = Vec::new();
        let mut topology = Topology::default();
        let mut gc_endpoints = None;
        for (role, listeners) in roles {
            let mut endpoints = Endpoints::default();
            let mut sockets = Vec::new();
            if let Some(address) = listeners.plain {
                let listener = bind(address).await?;
                endpoints.plain = listener.local_addr().ok();
                sockets.push((listener, false));
            }
            if let Some(address) = listeners.ldaps {
                let listener = bind(address).await?;
                endpoints.ldaps = listener.local_addr().ok();
                sockets.push((listener, true));
            }
            match role {
                DcRole::GlobalCatalog => gc_endpoints = Some(endpoints),
                DcRole::Domain(_) => topology.domains.push(endpoints),
            }
            bound.push((role, sockets));
        }
        let topology = Arc::new(topology);
        let acceptor = material.acceptor()?;
        let open_connections = Arc::new(AtomicUsize::new(0));
        let unauthenticated_bytes = Arc::new(AtomicUsize::new(0));
        let mut root_shared = None;
        let mut dcs = Vec::new();
        for (role, sockets) in bound {
            let handler =
                Handler::with_role(forest.clone(), config.clone(), role, topology.clone());
            let shared = Arc::new(Shared {
                handler,
                limits: self.limits,
                tls: Some(acceptor.clone()),
                open_connections: open_connections.clone(),
                unauthenticated_bytes: unauthenticated_bytes.clone(),
                refusing: AtomicBool::new(false),
            });
            if role == DcRole::Domain(0) {
                root_shared = Some(shared.clone());
            }
            dcs.push((role, shared.clone()));
            for (listener, ldaps) in sockets {
                tokio::spawn(transport::serve(
                    listener,
                    ldaps,
                    shared.clone(),
                    receiver.clone(),
                ));
            }
        }
        let shared = match root_shared {
            Some(shared) => shared,
            None => Arc::new(Shared {
                handler: Handler::new(forest.clone(), config),
                limits: self.limits,
                tls: Some(acceptor),
                open_connections,
                unauthenticated_bytes,
                refusing: AtomicBool::new(false),
            }),
        };
        let root = topology.domains.first().copied().unwrap_or_default();
        Ok(SimHandle {
            forest,
            shared,
            plain_addr: root.plain,
            ldaps_addr: root.ldaps,
            topology,
            global_catalog: gc_endpoints,
            dcs,
            admin_password: password,
            certificate_pem: material.certificate_pem.clone(),
            tls_material: material,
            shutdown,
            runtime_thread: None,
        })
    }

    /// Starts the server on a runtime of its own (a background thread with two workers), for
    /// synchronous tests. Dropping the handle stops the server and the thread.
    pub fn start_blocking(self) -> Result<SimHandle, SimError> {
        let (mut handle, thread) = crate::background::start_in_background(
            "adsim",
            move || self.start(),
            |handle: &SimHandle| handle.shutdown.subscribe(),
            SimError::Runtime,
        )?;
        handle.runtime_thread = Some(thread);
        Ok(handle)
    }
}

/// Applies LDIF records to a forest as the Administrator would, except that content records
/// replace an existing entry (so a dump can be loaded back) and may carry generated
/// attributes (`objectGUID`, `objectSid`, `whenCreated`), which are kept.
pub fn apply_ldif(forest: &Arc<Forest>, text: &str, source: &str) -> Result<(), SimError> {
    let records = ldif::parse(text).map_err(|e| SimError::Ldif {
        path: source.to_string(),
        line: e.line,
        reason: e.reason,
    })?;
    let handler = Handler::new(forest.clone(), HandlerConfig::default());
    let session = admin_session(forest);
    let controls = RequestControls::default();
    for located in records {
        let fail = |error: OpError| SimError::LdifApply {
            path: source.to_string(),
            line: located.line,
            dn: located.record.dn().to_string(),
            error: Box::new(error),
        };
        let dn = Dn::parse(located.record.dn())
            .map_err(|e| fail(OpError::invalid_dn(located.record.dn(), e.kind)))?;
        match &located.record {
            Record::Add { attributes, .. } => {
                let mut entry = Entry::new(dn.clone());
                for (name, values) in attributes {
                    entry.attrs.set(name, values.clone());
                }
                import(forest, entry).map_err(fail)?;
            }
            Record::Delete { .. } => {
                forest.store.delete(&dn, false).map_err(fail)?;
            }
            Record::Modify { changes, .. } => handler
                .modify_entry(&session, &controls, &dn, changes)
                .map_err(fail)?,
            Record::ModRdn {
                new_rdn,
                delete_old_rdn,
                new_superior,
                ..
            } => {
                let mut message = rasn_ldap::ModifyDnRequest {
                    entry: dn.to_string().into(),
                    new_rdn: new_rdn.as_str().into(),
                    delete_old_rdn: *delete_old_rdn,
                    new_superior: new_superior.as_deref().map(Into::into),
                };
                message.entry = dn.to_string().into();
                let request =
                    rasn_ldap::LdapMessage::new(1, rasn_ldap::ProtocolOp::ModDnRequest(message));
                let mut session = session.clone();
                let responses = handler.handle(&mut session, request);
                if let Some(outcome) = responses.last().and_then(|r| r.op.outcome()) {
                    if outcome.code != crate::error::ResultCode::SUCCESS {
                        return Err(fail(OpError::new(outcome.code, outcome.message.clone())));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The attribute a dump holds an account's password in (base64 in the LDIF). Only a seed reads
/// it: the schema does not know it, so no LDAP operation can write or read it, and it is never
/// stored as an attribute.
pub const PASSWORD_ATTRIBUTE: &str = "adsim-password";

/// Stores `entry` as given, generating only the attributes it lacks; replaces an existing entry.
/// Keeps the entry's `uSNCreated` and `uSNChanged` when given (the store's counter moves past
/// them) and sets its password from [`PASSWORD_ATTRIBUTE`], so a dump loads back as it was.
fn import(forest: &Forest, mut given: Entry) -> Result<(), OpError> {
    let password = match given.attrs.remove(PASSWORD_ATTRIBUTE) {
        None => None,
        Some(attribute) => match attribute.values.as_slice() {
            [value] => Some(String::from_utf8(value.to_vec()).map_err(|_| {
                OpError::new(
                    ResultCode::CONSTRAINT_VIOLATION,
                    format!("{PASSWORD_ATTRIBUTE} is not UTF-8 text"),
                )
            })?),
            _ => {
                return Err(OpError::new(
                    ResultCode::CONSTRAINT_VIOLATION,
                    format!("{PASSWORD_ATTRIBUTE} needs exactly one value"),
                ))
            }
        },
    };
    let usn = |name: &str| {
        given
            .attrs
            .first_str(name)
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    let usns = usn("uSNCreated").zip(usn("uSNChanged"));
    let mut entry = given.clone();
    forest.stamp_new(&mut entry);
    let parent = entry.dn.parent().and_then(|p| forest.store.get(&p));
    forest
        .semantics
        .complete_seed(parent.as_deref(), &mut entry);
    for attribute in given.attrs.iter() {
        if !attribute.name.eq_ignore_ascii_case("uSNCreated")
            && !attribute.name.eq_ignore_ascii_case("uSNChanged")
        {
            entry.attrs.set_values(attribute.name, attribute.values);
        }
    }
    let store = &forest.store;
    let dn = entry.dn.clone();
    match store.get(&entry.dn) {
        Some(existing) => {
            store.replace(&existing, entry)?;
        }
        None => {
            let parent_exists = entry.dn.parent().is_some_and(|p| store.get(&p).is_some());
            // A child domain's head has a parent in the store (the parent domain's head) but
            // starts a naming context of its own.
            let is_domain_head = forest.names.domains.iter().any(|d| d.domain_dn == entry.dn);
            if parent_exists && !is_domain_head {
                store.add(entry)?;
            } else {
                store.add_naming_context(entry)?;
            }
        }
    }
    if let Some((created, changed)) = usns {
        store.keep_usns(&dn, created, changed);
    }
    if let Some(password) = password {
        store.set_secret(&dn, Secret::new(password));
    }
    Ok(())
}

/// Refuses a seed that holds a domain this forest was not built with (a dump of a forest of
/// several domains loaded without their `--domain`s): its entries would be in no DC's view.
fn refuse_unknown_domains(forest: &Forest, seeds: &[PathBuf]) -> Result<(), SimError> {
    let partitions = forest
        .names
        .config_dn
        .child(crate::names::rdn("CN", "Partitions"));
    for cross_ref in forest.store.children(&partitions) {
        let is_domain = cross_ref
            .attrs
            .first_str("systemFlags")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|flags| flags & 2 != 0);
        let Some(nc) = cross_ref
            .attrs
            .first_str("nCName")
            .and_then(|v| Dn::parse(v).ok())
        else {
            continue;
        };
        if is_domain && !forest.names.domains.iter().any(|d| d.domain_dn == nc) {
            let dns = cross_ref
                .attrs
                .first_str("dnsRoot")
                .map_or_else(|| nc.to_string(), str::to_string);
            let seed = seeds
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(SimError::DomainName {
                name: dns.clone(),
                reason: format!(
                    "the seed ({seed}) holds the domain {dns}, which this forest was not built with: start it with --domain {dns} (every domain of the dumped forest, in the same order)"
                ),
            });
        }
    }
    Ok(())
}

fn admin_session(forest: &Forest) -> Session {
    let mut session = Session::new(true);
    session.identity = Identity {
        dn: Some(forest.names.admin_dn.clone()),
        sid: Some(forest.names.domain_sid.with_rid(500)),
    };
    session
}

/// A running simulator. Dropping it shuts the server down (a message to every listener and
/// connection; a blocking simulator's thread is joined).
pub struct SimHandle {
    forest: Arc<Forest>,
    shared: Arc<Shared>,
    plain_addr: Option<SocketAddr>,
    ldaps_addr: Option<SocketAddr>,
    topology: Arc<Topology>,
    global_catalog: Option<Endpoints>,
    /// Every DC's (and the global catalog's) shared state, for [`SimHandle::set_dc_refusing`].
    dcs: Vec<(DcRole, Arc<Shared>)>,
    admin_password: String,
    certificate_pem: String,
    tls_material: TlsMaterial,
    shutdown: watch::Sender<bool>,
    runtime_thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("forest", &self.forest.names.dns_name)
            .field("plain", &self.plain_addr)
            .field("ldaps", &self.ldaps_addr)
            .field("domains", &self.topology)
            .field("global_catalog", &self.global_catalog)
            .field("admin_password", &"********")
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// The root domain's DC's listeners.
    fn root_endpoints(&self) -> Endpoints {
        Endpoints {
            plain: self.plain_addr,
            ldaps: self.ldaps_addr,
        }
    }

    /// `ldap://127.0.0.1:<port>` (empty when plain LDAP is off).
    pub fn url(&self) -> String {
        self.root_endpoints().ldap_url()
    }

    /// `ldaps://127.0.0.1:<port>` (empty when LDAPS is off).
    pub fn ldaps_url(&self) -> String {
        self.root_endpoints().ldaps_url()
    }

    /// The plain listener's address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.plain_addr
    }

    /// The LDAPS listener's address.
    pub fn ldaps_addr(&self) -> Option<SocketAddr> {
        self.ldaps_addr
    }

    /// Every domain of the forest, the root first: names, SIDs, DNs (see [`DomainNames`]).
    pub fn domains(&self) -> &[DomainNames] {
        &self.forest.names.domains
    }

    /// The names of the domain `domain` (DNS or NetBIOS name, any case).
    pub fn domain(&self, domain: &str) -> Option<&DomainNames> {
        self.forest.names.domain_named(domain)
    }

    /// Where the DC of the domain `domain` (DNS or NetBIOS name) listens; `None` for a name
    /// that is no domain of the forest. The root domain's DC is [`SimHandle::url`]'s.
    pub fn dc(&self, domain: &str) -> Option<Endpoints> {
        let names = &self.forest.names;
        let index = names.domains.iter().position(|d| {
            d.dns_name.eq_ignore_ascii_case(domain) || d.netbios_name.eq_ignore_ascii_case(domain)
        })?;
        self.topology.domains.get(index).copied()
    }

    /// `ldap://127.0.0.1:<port>` of the DC of `domain` (empty when it has no plain listener or
    /// is no domain of the forest).
    pub fn domain_url(&self, domain: &str) -> String {
        self.dc(domain).map(|e| e.ldap_url()).unwrap_or_default()
    }

    /// `ldaps://127.0.0.1:<port>` of the DC of `domain` (empty as for [`SimHandle::domain_url`]).
    pub fn domain_ldaps_url(&self, domain: &str) -> String {
        self.dc(domain).map(|e| e.ldaps_url()).unwrap_or_default()
    }

    /// Makes the DC of `domain` (DNS or NetBIOS name) refuse every new connection (accept and
    /// close at once), or serve again: a domain controller that is down while the rest of the
    /// forest serves. Connections already open are kept. Returns `false` for a name that is no
    /// domain of the forest.
    pub fn set_dc_refusing(&self, domain: &str, refusing: bool) -> bool {
        let names = &self.forest.names;
        let Some(index) = names.domains.iter().position(|d| {
            d.dns_name.eq_ignore_ascii_case(domain) || d.netbios_name.eq_ignore_ascii_case(domain)
        }) else {
            return false;
        };
        self.set_refusing(DcRole::Domain(index), refusing)
    }

    /// [`SimHandle::set_dc_refusing`] for the global catalog; `false` when there is none.
    pub fn set_gc_refusing(&self, refusing: bool) -> bool {
        self.set_refusing(DcRole::GlobalCatalog, refusing)
    }

    fn set_refusing(&self, role: DcRole, refusing: bool) -> bool {
        let mut found = false;
        for (_, shared) in self.dcs.iter().filter(|(r, _)| *r == role) {
            shared.refusing.store(refusing, Ordering::Relaxed);
            found = true;
        }
        found
    }

    /// Where the global catalog listens; `None` when the forest has none.
    pub fn global_catalog(&self) -> Option<Endpoints> {
        self.global_catalog
    }

    /// `ldap://127.0.0.1:<port>` of the global catalog (empty when there is none).
    pub fn gc_url(&self) -> String {
        self.global_catalog
            .map(|e| e.ldap_url())
            .unwrap_or_default()
    }

    /// `ldaps://127.0.0.1:<port>` of the global catalog (empty when there is none).
    pub fn gc_ldaps_url(&self) -> String {
        self.global_catalog
            .map(|e| e.ldaps_url())
            .unwrap_or_default()
    }

    /// `CN=Administrator,CN=Users,<domain>`.
    pub fn admin_dn(&self) -> String {
        self.forest.names.admin_dn.to_string()
    }

    /// The Administrator's password.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// `DC=contoso,DC=lab`.
    pub fn domain_dn(&self) -> String {
        self.forest.names.domain_dn.to_string()
    }

    /// `CN=Configuration,DC=contoso,DC=lab`.
    pub fn config_dn(&self) -> String {
        self.forest.names.config_dn.to_string()
    }

    /// `CN=Schema,CN=Configuration,DC=contoso,DC=lab`.
    pub fn schema_dn(&self) -> String {
        self.forest.names.schema_dn.to_string()
    }

    /// The domain's SID.
    pub fn domain_sid(&self) -> Sid {
        self.forest.names.domain_sid
    }

    /// The NetBIOS domain name (`CONTOSO`).
    pub fn netbios_name(&self) -> &str {
        &self.forest.names.netbios_name
    }

    /// The server certificate (PEM), for clients that verify it.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The server certificate and key, so the fake Entra tenant can serve with the same one.
    pub fn tls_material(&self) -> &TlsMaterial {
        &self.tls_material
    }

    /// The forest: store, names and semantics, for direct inspection in tests.
    pub fn forest(&self) -> &Arc<Forest> {
        &self.forest
    }

    /// Adds an enabled user `CN=<name>,CN=Users,<domain>` (sAMAccountName `name`, UPN
    /// `name@<forest>`) with a password; returns its DN and SID.
    pub fn add_user(&self, name: &str, password: &str) -> Result<(Dn, Sid), SimError> {
        Ok(self.forest.add_user(name, password)?)
    }

    /// [`SimHandle::add_user`] in the domain `domain` (DNS or NetBIOS name): the user is
    /// `CN=<name>,CN=Users,<that domain>` with UPN `name@<its DNS name>` and a SID of that
    /// domain.
    pub fn add_user_in(
        &self,
        domain: &str,
        name: &str,
        password: &str,
    ) -> Result<(Dn, Sid), SimError> {
        Ok(self.forest.add_user_in(domain, name, password)?)
    }

    /// Applies LDIF text (as a seed file would be applied).
    pub fn apply_ldif(&self, text: &str) -> Result<(), SimError> {
        apply_ldif(&self.forest, text, "<ldif>")
    }

    /// The whole directory as LDIF content records, parents first: every entry with every
    /// attribute (USNs included), and each account's password as [`PASSWORD_ATTRIBUTE`], so
    /// that [`SimulatorBuilder::seed_ldif`] of the dump gives back the same directory and the
    /// accounts still bind. The text therefore holds secrets: keep it as private as the
    /// passwords (adsim writes it readable by its owner only).
    pub fn dump_ldif(&self) -> String {
        let mut out = String::from(
            "version: 1\n\n# Written by adsim. adsim-password values are the accounts' passwords (base64):\n# only adsim --seed reads them, no LDAP operation can. Keep this file private.\n\n",
        );
        let semantics = &self.forest.semantics;
        let store = &self.forest.store;
        let is_binary =
            |name: &str| name.eq_ignore_ascii_case(PASSWORD_ATTRIBUTE) || semantics.is_binary(name);
        for entry in store.all() {
            match store.secret(&entry.dn) {
                Some(secret) => {
                    let mut with_secret = (*entry).clone();
                    with_secret.attrs.set(
                        PASSWORD_ATTRIBUTE,
                        vec![bytes::Bytes::copy_from_slice(secret.expose().as_bytes())],
                    );
                    ldif::write_entry(&mut out, &with_secret, &is_binary);
                }
                None => ldif::write_entry(&mut out, &entry, &is_binary),
            }
        }
        out
    }

    /// Replaces the injected faults while the simulator runs.
    pub fn set_faults(&self, faults: crate::faults::FaultConfig) {
        self.forest.semantics.set_faults(faults);
    }

    /// A copy of the directory's state, for [`SimHandle::restore`].
    pub fn snapshot(&self) -> Snapshot {
        self.forest.store.snapshot()
    }

    /// Puts the directory back to a snapshot (per-test reset without a restart).
    pub fn restore(&self, snapshot: &Snapshot) {
        self.forest.store.restore(snapshot);
        // Tokens cached from memberships the snapshot does not have must go.
        self.forest.semantics.reset_caches();
    }

    /// Bytes of unfinished messages held right now for connections nobody has bound on.
    pub fn unauthenticated_bytes(&self) -> usize {
        self.shared
            .unauthenticated_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared
            .open_connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the server now (also done on drop).
    pub fn shutdown(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.runtime_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
