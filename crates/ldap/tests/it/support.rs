//! Starting a simulator and connecting to it as the administrator.

use std::io::Write as _;

use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_model::SchemaLevel;
use devwb_simulator::{SimHandle, Simulator};

/// A running simulator, the CA file that verifies it, and an admin client.
pub struct Lab {
    pub sim: SimHandle,
    pub ca: tempfile::NamedTempFile,
    pub client: Client,
}

impl Lab {
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::new(&self.sim.ldaps_url())
            .unwrap()
            .with_ca_file(self.ca.path())
    }

    /// Adds `OU=<name>` under the domain head and returns its DN.
    pub fn add_ou(&self, name: &str) -> devwb_model::Dn {
        let domain = devwb_model::Dn::parse(&self.sim.domain_dn()).unwrap();
        let ou = domain.child(devwb_model::Rdn::new("OU", name).unwrap());
        self.client
            .add(
                &ou,
                vec![("objectClass".into(), vec![b"organizationalUnit".to_vec()])],
            )
            .unwrap();
        ou
    }

    pub fn admin(&self) -> Credentials {
        Credentials::new(
            self.sim.admin_dn(),
            Password::new(self.sim.admin_password()),
        )
    }
}

pub fn start(level: SchemaLevel) -> Lab {
    let sim = Simulator::builder()
        .forest("contoso.lab")
        .schema_level(level)
        .start_blocking()
        .expect("simulator starts");
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(sim.certificate_pem().as_bytes()).unwrap();
    let options = ConnectOptions::new(&sim.ldaps_url())
        .unwrap()
        .with_ca_file(ca.path());
    let admin = Credentials::new(sim.admin_dn(), Password::new(sim.admin_password()));
    let client = Client::connect(&options, Some(&admin)).expect("admin connects over LDAPS");
    Lab { sim, ca, client }
}

pub fn lab() -> Lab {
    start(SchemaLevel::W2012R2)
}
