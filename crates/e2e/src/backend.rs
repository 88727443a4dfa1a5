//! The two backends and the forest handle scenarios get.
//!
//! A [`BackendForest`] is what a scenario may use: an LDAPS URL, how to trust its certificate, the
//! administrator's credentials, the domain's names, and the schema level. It keeps the backend
//! alive (the simulator's handle or the container) until it is dropped.

use std::any::Any;
use std::io::Write;

use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_model::{Dn, SchemaLevel, Sid};

/// Where a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The in-process simulator (`devwb-simulator`).
    Simulator,
    /// A Samba AD DC in a container (`devwb-samba`).
    Samba,
}

/// The domains of the forest a scenario needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One domain, `contoso.lab`.
    OneDomain,
    /// The root `contoso.lab`, its child `emea.contoso.lab` and a second tree `fabrikam.lab`,
    /// each with its own DC, and a global catalog.
    ThreeDomains,
}

/// The child domain of [`Shape::ThreeDomains`].
pub const CHILD: &str = "emea.contoso.lab";
/// The second tree of [`Shape::ThreeDomains`].
pub const TREE: &str = "fabrikam.lab";

impl Backend {
    /// Why this backend cannot run here, when it cannot.
    pub fn unavailable(self) -> Option<String> {
        match self {
            Backend::Simulator => None,
            Backend::Samba => devwb_samba::docker_available().err(),
        }
    }

    /// Why this backend cannot host a forest of this shape, when it cannot.
    pub fn cannot_host(self, shape: Shape) -> Option<String> {
        match (self, shape) {
            (Backend::Samba, Shape::ThreeDomains) => Some(
                "Samba cannot host child domains in a container here (docs/samba.md)".to_string(),
            ),
            _ => None,
        }
    }

    /// Starts a fresh forest at `level` (2012 R2 and 2008 R2 are what both backends offer).
    pub fn start(self, level: SchemaLevel, shape: Shape) -> Result<BackendForest, String> {
        if let Some(why) = self.cannot_host(shape) {
            return Err(why);
        }
        match self {
            Backend::Simulator => start_simulator(level, shape),
            Backend::Samba => start_samba(level),
        }
    }
}

/// A domain of the forest other than the root, with its own DC.
#[derive(Clone, Debug)]
pub struct BackendDomain {
    /// `emea.contoso.lab`.
    pub dns_name: String,
    /// `DC=emea,DC=contoso,DC=lab`.
    pub dn: Dn,
    /// `EMEA`.
    pub netbios: String,
    /// The domain SID.
    pub sid: Sid,
    /// Its DC, `ldaps://127.0.0.1:<port>`.
    pub ldaps_url: String,
}

/// A running forest and how to reach it.
pub struct BackendForest {
    /// The backend that runs it.
    pub backend: Backend,
    /// `ldaps://127.0.0.1:<port>`.
    pub ldaps_url: String,
    /// The administrator's bind DN and password.
    pub admin: Credentials,
    /// The forest root domain, which also receives the devices.
    pub domain: Dn,
    /// The domain's NetBIOS name (`CONTOSO`).
    pub netbios: String,
    /// The schema level the forest was made at.
    pub level: SchemaLevel,
    /// The simulator's certificate (PEM), trusted in memory by the clients; `None` for Samba,
    /// whose self-signed certificate the tests skip verifying, explicitly.
    ca_pem: Option<String>,
    /// The same certificate as a file, for the processes a scenario runs (ldapsearch, devwb).
    ca_file: Option<tempfile::NamedTempFile>,
    /// The forest's other domains ([`Shape::ThreeDomains`]).
    pub other_domains: Vec<BackendDomain>,
    /// The global catalog, `ldaps://127.0.0.1:<port>`, when the forest has one.
    pub gc_ldaps_url: Option<String>,
    _keep_alive: Box<dyn Any>,
}

impl std::fmt::Debug for BackendForest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendForest")
            .field("backend", &self.backend)
            .field("ldaps_url", &self.ldaps_url)
            .field("domain", &self.domain)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl BackendForest {
    /// Connection options for this forest: LDAPS, trusting the simulator's certificate, or
    /// skipping verification for Samba's self-signed one.
    pub fn options(&self) -> Result<ConnectOptions, String> {
        self.options_at(&self.ldaps_url)
    }

    /// [`BackendForest::options`] for another server of the forest (a domain's DC, the GC).
    pub fn options_at(&self, url: &str) -> Result<ConnectOptions, String> {
        let options = ConnectOptions::new(url).map_err(|e| e.to_string())?;
        match &self.ca_pem {
            Some(pem) => options
                .with_ca_pem(pem.as_bytes())
                .map_err(|e| e.to_string()),
            None => Ok(options.with_insecure_skip_verify(true)),
        }
    }

    /// The simulator's certificate as a PEM file to trust; `None` for Samba.
    pub fn ca_pem_path(&self) -> Option<&std::path::Path> {
        self.ca_file.as_ref().map(|file| file.path())
    }

    /// A client bound as the administrator.
    pub fn admin_client(&self) -> Result<Client, String> {
        Client::connect(&self.options()?, Some(&self.admin))
            .map_err(|e| format!("{}: bind as the administrator: {e}", self.backend_name()))
    }

    /// A client bound as `name` with `password` (any of AD's bind name forms).
    pub fn client_as(&self, name: &str, password: &str) -> Result<Client, String> {
        let credentials = Credentials::new(name, Password::new(password));
        Client::connect(&self.options()?, Some(&credentials))
            .map_err(|e| format!("{}: bind as {name}: {e}", self.backend_name()))
    }

    /// Creates an enabled user under `CN=Users` over LDAPS, with its password set through
    /// `unicodePwd` as AD takes it; returns its DN and SID.
    pub fn create_user(&self, name: &str, password: &str) -> Result<(Dn, Sid), String> {
        self.create_user_on(&self.admin_client()?, &self.domain, name, password)
    }

    /// [`BackendForest::create_user`] in the other domain `dns_name`, on its DC, by the forest
    /// root's administrator (an Enterprise Admin).
    pub fn create_user_in(
        &self,
        dns_name: &str,
        name: &str,
        password: &str,
    ) -> Result<(Dn, Sid), String> {
        let domain = self.other_domain(dns_name)?;
        let admin = Client::connect(&self.options_at(&domain.ldaps_url)?, Some(&self.admin))
            .map_err(|e| format!("bind as the administrator on {dns_name}'s DC: {e}"))?;
        self.create_user_on(&admin, &domain.dn, name, password)
    }

    fn create_user_on(
        &self,
        admin: &Client,
        domain: &Dn,
        name: &str,
        password: &str,
    ) -> Result<(Dn, Sid), String> {
        let dn = Dn::parse(&format!("CN={name},CN=Users,{domain}")).map_err(|e| e.to_string())?;
        let quoted: Vec<u8> = format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let realm = domain.to_dns_domain().unwrap_or_default();
        let attrs: devwb_ldap::Attributes = vec![
            (
                "objectClass".to_string(),
                vec![
                    b"top".to_vec(),
                    b"person".to_vec(),
                    b"organizationalPerson".to_vec(),
                    b"user".to_vec(),
                ],
            ),
            ("cn".to_string(), vec![name.as_bytes().to_vec()]),
            ("sAMAccountName".to_string(), vec![name.as_bytes().to_vec()]),
            (
                "userPrincipalName".to_string(),
                vec![format!("{name}@{realm}").into_bytes()],
            ),
            ("unicodePwd".to_string(), vec![quoted]),
            ("userAccountControl".to_string(), vec![b"512".to_vec()]),
        ]
        .into_iter()
        .collect();
        admin
            .add(&dn, attrs)
            .map_err(|e| format!("{}: create user {dn}: {e}", self.backend_name()))?;
        let entry = admin
            .read(&dn, &["objectSid"])
            .map_err(|e| format!("read {dn}: {e}"))?
            .ok_or_else(|| format!("{dn} is not there after its add"))?;
        let sid = entry
            .first_bytes("objectSid")
            .ok_or_else(|| format!("{dn} has no objectSid"))
            .and_then(|bytes| Sid::from_bytes(bytes).map_err(|e| e.to_string()))?;
        Ok((dn, sid))
    }

    /// The other domain named `dns_name`.
    pub fn other_domain(&self, dns_name: &str) -> Result<&BackendDomain, String> {
        self.other_domains
            .iter()
            .find(|domain| domain.dns_name == dns_name)
            .ok_or_else(|| format!("the forest has no domain {dns_name}"))
    }

    fn simulator(&self) -> Result<&devwb_simulator::SimHandle, String> {
        self._keep_alive
            .downcast_ref::<devwb_simulator::SimHandle>()
            .ok_or_else(|| format!("{} cannot do this: simulator only", self.backend_name()))
    }

    /// Makes the DC of the domain `dns_name` refuse connections (`true`) or serve again.
    pub fn set_dc_refusing(&self, dns_name: &str, refusing: bool) -> Result<(), String> {
        if self.simulator()?.set_dc_refusing(dns_name, refusing) {
            Ok(())
        } else {
            Err(format!("the forest has no DC for {dns_name}"))
        }
    }

    /// `simulator` or `samba`, for messages.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Simulator => "simulator",
            Backend::Samba => "samba",
        }
    }

    /// The domain's SID (the administrator's SID without its RID).
    pub fn domain_sid(&self) -> Result<Sid, String> {
        let admin = self.admin_client()?;
        let entry = admin
            .read(&self.domain, &["objectSid"])
            .map_err(|e| format!("read {}: {e}", self.domain))?
            .ok_or_else(|| format!("{} is missing", self.domain))?;
        entry
            .first_bytes("objectSid")
            .ok_or_else(|| format!("{} has no objectSid", self.domain))
            .and_then(|bytes| Sid::from_bytes(bytes).map_err(|e| e.to_string()))
    }
}

const REALM: &str = "contoso.lab";

fn start_simulator(level: SchemaLevel, shape: Shape) -> Result<BackendForest, String> {
    let mut builder = devwb_simulator::Simulator::builder()
        .forest(REALM)
        .schema_level(level);
    if shape == Shape::ThreeDomains {
        builder = builder.domain(CHILD).domain(TREE);
    }
    let sim = builder
        .start_blocking()
        .map_err(|e| format!("simulator: start: {e}"))?;
    let other_domains = sim
        .domains()
        .iter()
        .skip(1)
        .map(|names| BackendDomain {
            dns_name: names.dns_name.clone(),
            dn: names.domain_dn.clone(),
            netbios: names.netbios_name.clone(),
            sid: names.domain_sid,
            ldaps_url: sim.domain_ldaps_url(&names.dns_name),
        })
        .collect();
    let gc_ldaps_url = Some(sim.gc_ldaps_url()).filter(|url| !url.is_empty());
    let mut ca_file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    ca_file
        .write_all(sim.certificate_pem().as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(BackendForest {
        backend: Backend::Simulator,
        ldaps_url: sim.ldaps_url(),
        admin: Credentials::new(sim.admin_dn(), Password::new(sim.admin_password())),
        domain: Dn::parse(&sim.domain_dn()).map_err(|e| e.to_string())?,
        netbios: sim.netbios_name().to_string(),
        level,
        ca_pem: Some(sim.certificate_pem().to_string()),
        ca_file: Some(ca_file),
        other_domains,
        gc_ldaps_url,
        _keep_alive: Box::new(sim),
    })
}

fn start_samba(level: SchemaLevel) -> Result<BackendForest, String> {
    let base_schema = match level {
        SchemaLevel::W2008R2 => devwb_samba::BaseSchema::W2008R2,
        SchemaLevel::W2012R2 => devwb_samba::BaseSchema::W2012R2,
        other => return Err(format!("samba: no base schema for {other} in this image")),
    };
    // The image's default realm and password are provisioned when it is built, so such a
    // container is ready in about a second; any other realm provisions at start (4-13 s).
    let dc = devwb_samba::SambaDc::default()
        .with_base_schema(base_schema)
        .start_blocking()
        .map_err(|e| format!("samba: start: {e}"))?;
    let endpoint = dc.endpoint();
    let forest = BackendForest {
        backend: Backend::Samba,
        ldaps_url: endpoint.ldaps_url().to_string(),
        admin: Credentials::new(
            endpoint.admin_bind_dn().to_string(),
            Password::new(endpoint.admin_password()),
        ),
        domain: endpoint.base_dn().clone(),
        netbios: endpoint.netbios_domain().to_string(),
        level,
        ca_pem: None,
        ca_file: None,
        other_domains: Vec::new(),
        gc_ldaps_url: None,
        _keep_alive: Box::new(()),
    };
    Ok(BackendForest {
        _keep_alive: Box::new(dc),
        ..forest
    })
}
