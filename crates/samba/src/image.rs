//! The image: its pinned name and tag, its settings, and how testcontainers starts it.

use std::borrow::Cow;
use std::fmt;

use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::Image;

use crate::Error;

/// The image name. The image exists only locally: `cargo xtask samba-image` builds it. The `localhost/`
/// prefix names a registry that does not exist, so when the image is missing, Docker's automatic pull
/// (testcontainers pulls an image it cannot find) fails at once instead of fetching whatever a
/// public registry holds under a look-alike name.
pub const NAME: &str = "localhost/devwb-samba-ad-dc";

/// The image tag: `bookworm-` and a short hash of `docker/samba/{Dockerfile,entrypoint.sh,packages.txt}`
/// and `xtask/src/samba_image.rs` (computed by this crate's build script), so a changed entrypoint,
/// package list or build recipe never reuses a stale image. Samba's version is the one of Debian bookworm (4.17).
pub const TAG: &str = env!("DEVWB_SAMBA_IMAGE_TAG");

/// The line the entrypoint prints once an LDAPS rootDSE query made inside the container has succeeded.
pub const READY_LINE: &str = "devwb-samba: ready: LDAPS answers a rootDSE query";

/// Plain LDAP in the container. Samba refuses simple binds on it unless StartTLS is active.
pub const LDAP_PORT: ContainerPort = ContainerPort::Tcp(389);

/// LDAPS in the container, with a self-signed certificate Samba generates at its first start.
pub const LDAPS_PORT: ContainerPort = ContainerPort::Tcp(636);

const DEFAULT_REALM: &str = "DEVWB.TEST";
const DEFAULT_ADMIN_PASSWORD: &str = "Devwb-Admin-Passw0rd!";
const EXPOSED_PORTS: [ContainerPort; 2] = [LDAP_PORT, LDAPS_PORT];

/// The base schema Samba provisions the forest with (`samba-tool domain provision --base-schema`).
///
/// Samba also knows `2012`, but Debian's samba-ad-provision 4.17 does not ship its schema files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BaseSchema {
    /// Windows Server 2008 R2 (schema objectVersion 47): no device classes, the negative case.
    W2008R2,
    /// Windows Server 2012 R2 (objectVersion 69): the device classes exist. The default.
    #[default]
    W2012R2,
}

impl BaseSchema {
    /// The value of `--base-schema` and of the container's `BASE_SCHEMA` variable.
    pub fn samba_name(self) -> &'static str {
        match self {
            BaseSchema::W2008R2 => "2008_R2",
            BaseSchema::W2012R2 => "2012_R2",
        }
    }

    /// The `objectVersion` of `CN=Schema,CN=Configuration,...` a forest provisioned with it has.
    pub fn object_version(self) -> u32 {
        match self {
            BaseSchema::W2008R2 => 47,
            BaseSchema::W2012R2 => 69,
        }
    }
}

/// A Samba AD DC: a forest of one domain, provisioned when the container starts.
///
/// Defaults: realm `DEVWB.TEST`, NetBIOS domain = the realm's first label (`DEVWB`), administrator
/// password `Devwb-Admin-Passw0rd!`, base schema 2012 R2. The password is never shown by `Debug`.
///
/// With the default realm, domain and password (any base schema), the container copies a forest
/// provisioned when the image was built and is ready in about 2 s; other settings provision at start,
/// which takes 4 to 12 s more depending on the machine's load.
#[derive(Clone)]
pub struct SambaDc {
    realm: String,
    domain: Option<String>,
    admin_password: String,
    base_schema: BaseSchema,
    env: Vec<(&'static str, String)>,
}

impl Default for SambaDc {
    fn default() -> Self {
        SambaDc {
            realm: DEFAULT_REALM.to_string(),
            domain: None,
            admin_password: DEFAULT_ADMIN_PASSWORD.to_string(),
            base_schema: BaseSchema::default(),
            env: Vec::new(),
        }
        .with_env()
    }
}

impl fmt::Debug for SambaDc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SambaDc")
            .field("realm", &self.realm)
            .field("domain", &self.netbios_domain())
            .field("admin_password", &"********")
            .field("base_schema", &self.base_schema)
            .finish()
    }
}

impl SambaDc {
    /// Sets the Kerberos realm, which is also the forest's DNS name: `DEVWB.TEST` gives the domain
    /// `DC=devwb,DC=test`. Stored in upper case. Default `DEVWB.TEST`.
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into().to_ascii_uppercase();
        self.with_env()
    }

    /// Sets the NetBIOS domain name (at most 15 characters). Default: the realm's first label.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into().to_ascii_uppercase());
        self.with_env()
    }

    /// Sets the password of `Administrator`. Samba demands a complex one: at least 7 characters from
    /// at least 3 of upper case, lower case, digits and other characters. Default `Devwb-Admin-Passw0rd!`.
    pub fn with_admin_password(mut self, password: impl Into<String>) -> Self {
        self.admin_password = password.into();
        self.with_env()
    }

    /// Sets the base schema. Default [`BaseSchema::W2012R2`].
    pub fn with_base_schema(mut self, base_schema: BaseSchema) -> Self {
        self.base_schema = base_schema;
        self.with_env()
    }

    /// The realm, in upper case.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The NetBIOS domain name, in upper case.
    pub fn netbios_domain(&self) -> String {
        match &self.domain {
            Some(domain) => domain.clone(),
            None => self.realm.split('.').next().unwrap_or_default().to_string(),
        }
    }

    /// The administrator's password.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// The base schema.
    pub fn base_schema(&self) -> BaseSchema {
        self.base_schema
    }

    /// Checks the settings the way the container's entrypoint and `samba-tool` would, so a bad setting
    /// fails here with the setting named instead of as a container that exits.
    pub fn validate(&self) -> Result<(), Error> {
        let labels: Vec<&str> = self.realm.split('.').collect();
        let realm_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !realm_ok {
            return Err(Error::InvalidSetting {
                setting: "realm",
                reason: format!(
                    "{:?} is not a dotted DNS name such as DEVWB.TEST",
                    self.realm
                ),
            });
        }
        let domain = self.netbios_domain();
        if domain.is_empty()
            || domain.len() > 15
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::InvalidSetting {
                setting: "domain",
                reason: format!(
                    "{domain:?} is not a NetBIOS name (1 to 15 letters, digits or '-')"
                ),
            });
        }
        if let Some(reason) = password_complexity_problem(&self.admin_password) {
            // The reason never quotes the password.
            return Err(Error::InvalidSetting {
                setting: "admin_password",
                reason,
            });
        }
        Ok(())
    }

    /// Recomputes the container environment: [`Image::env_vars`] hands out borrowed pairs.
    fn with_env(mut self) -> Self {
        self.env = vec![
            ("REALM", self.realm.clone()),
            ("DOMAIN", self.netbios_domain()),
            ("ADMIN_PASSWORD", self.admin_password.clone()),
            ("BASE_SCHEMA", self.base_schema.samba_name().to_string()),
        ];
        self
    }
}

/// Samba's default password policy: at least 7 characters, from at least 3 of 4 character classes,
/// and not containing the account name.
fn password_complexity_problem(password: &str) -> Option<String> {
    if password.chars().count() < 7 {
        return Some("Samba requires at least 7 characters".to_string());
    }
    let classes = [
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|present| **present).count() < 3 {
        return Some(
            "Samba requires characters from at least 3 of: upper case, lower case, digits, others"
                .to_string(),
        );
    }
    if password.to_lowercase().contains("administrator") {
        return Some("Samba refuses a password that contains the account name".to_string());
    }
    if password.contains(['\n', '\r', '\0']) {
        return Some("the password must not contain line breaks or NUL".to_string());
    }
    None
}

impl Image for SambaDc {
    fn name(&self) -> &str {
        NAME
    }

    fn tag(&self) -> &str {
        TAG
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stdout(READY_LINE)]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(name, value)| (*name, value.as_str()))
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &EXPOSED_PORTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(dc: SambaDc, expected: Result<(), &str>) {
        let actual = dc.validate().map_err(|error| error.to_string());
        assert_eq!(actual, expected.map_err(str::to_string));
    }

    #[test]
    fn default_is_valid() {
        check(SambaDc::default(), Ok(()));
    }

    #[test]
    fn realm_without_a_dot_is_refused() {
        check(
            SambaDc::default().with_realm("devwb"),
            Err("invalid Samba DC setting realm: \"DEVWB\" is not a dotted DNS name such as DEVWB.TEST"),
        );
    }

    #[test]
    fn long_netbios_domain_is_refused() {
        check(
            SambaDc::default().with_realm("averyveryverylongname.test"),
            Err("invalid Samba DC setting domain: \"AVERYVERYVERYLONGNAME\" is not a NetBIOS name (1 to 15 letters, digits or '-')"),
        );
        check(
            SambaDc::default()
                .with_realm("averyveryverylongname.test")
                .with_domain("short"),
            Ok(()),
        );
    }

    #[test]
    fn simple_passwords_are_refused_without_quoting_them() {
        check(
            SambaDc::default().with_admin_password("abc"),
            Err("invalid Samba DC setting admin_password: Samba requires at least 7 characters"),
        );
        check(
            SambaDc::default().with_admin_password("alllowercase1"),
            Err("invalid Samba DC setting admin_password: Samba requires characters from at least 3 of: upper case, lower case, digits, others"),
        );
        check(
            SambaDc::default().with_admin_password("Administrator-1"),
            Err("invalid Samba DC setting admin_password: Samba refuses a password that contains the account name"),
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!(
            "{:?}",
            SambaDc::default().with_admin_password("Secret-Value-1")
        );
        assert!(!shown.contains("Secret-Value-1"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
    }

    #[test]
    fn environment_follows_the_settings() {
        let dc = SambaDc::default()
            .with_realm("corp.example")
            .with_base_schema(BaseSchema::W2008R2)
            .with_admin_password("Xx-1234567");
        let env: Vec<(String, String)> = dc
            .env_vars()
            .into_iter()
            .map(|(name, value)| (name.into().into_owned(), value.into().into_owned()))
            .collect();
        let expected = [
            ("REALM", "CORP.EXAMPLE"),
            ("DOMAIN", "CORP"),
            ("ADMIN_PASSWORD", "Xx-1234567"),
            ("BASE_SCHEMA", "2008_R2"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()));
        assert_eq!(env, expected);
    }

    #[test]
    fn tag_is_derived_from_the_image_files() {
        let hash = TAG.strip_prefix("bookworm-").unwrap_or_default();
        assert_eq!(hash.len(), 12, "{TAG}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{TAG}");
    }
}
