//! The lab of these tests: devwb-test-support's simulated forest, with a client bound as the
//! administrator at hand.

use devwb_ldap::Client;
use devwb_model::SchemaLevel;

/// A running simulator and an admin client; everything else is the shared lab's.
pub struct Lab {
    lab: devwb_test_support::Lab,
    pub client: Client,
}

impl std::ops::Deref for Lab {
    type Target = devwb_test_support::Lab;

    fn deref(&self) -> &devwb_test_support::Lab {
        &self.lab
    }
}

impl Lab {
    /// Adds `OU=<name>` under the domain head and returns its DN.
    pub fn add_ou(&self, name: &str) -> devwb_model::Dn {
        let ou = self
            .domain
            .child(devwb_model::Rdn::new("OU", name).unwrap());
        self.client
            .add(
                &ou,
                vec![("objectClass".into(), vec![b"organizationalUnit".to_vec()])],
            )
            .unwrap();
        ou
    }
}

pub fn start(level: SchemaLevel) -> Lab {
    let lab = devwb_test_support::Lab::builder()
        .schema_level(level)
        .start();
    let client = lab.admin_client();
    Lab { lab, client }
}

pub fn lab() -> Lab {
    start(SchemaLevel::W2012R2)
}
