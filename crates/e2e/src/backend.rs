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

impl Backend {
    /// Why this backend cannot run here, when it cannot.
    pub fn unavailable(self) -> Option<String> {
        match self {
            Backend::Simulator => None,
            Backend::Samba => devwb_samba::docker_available().err(),
        }
    }

    /// Starts a fresh forest at `level` (2012 R2 and 2008 R2 are what both backends offer).
    pub fn start(self, level: SchemaLevel) -> Result<BackendForest, String> {
        match self {
            Backend::Simulator => start_simulator(level),
            Backend::Samba => start_samba(level),
        }
    }
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
        let options = ConnectOptions::new(&self.ldaps_url).map_err(|e| e.to_string())?;
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
        let admin = self.admin_client()?;
        let dn =
            Dn::parse(&format!("CN={name},CN=Users,{}", self.domain)).map_err(|e| e.to_string())?;
        let quoted: Vec<u8> = format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let realm = self.domain.to_dns_domain().unwrap_or_default();
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

fn start_simulator(level: SchemaLevel) -> Result<BackendForest, String> {
    let sim = devwb_simulator::Simulator::builder()
        .forest(REALM)
        .schema_level(level)
        .start_blocking()
        .map_err(|e| format!("simulator: start: {e}"))?;
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
        _keep_alive: Box::new(()),
    };
    Ok(BackendForest {
        _keep_alive: Box::new(dc),
        ..forest
    })
}
