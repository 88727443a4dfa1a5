//! The connection options every subcommand shares, and how the password is obtained.
//!
//! The bind password never comes from a plain flag unless the user says so with the loudly
//! named `--password-insecure-cli` (it would land in shell history and `ps` output). In order:
//! `--password-file`, `--password-insecure-cli`, the `DEVWB_PASSWORD` environment variable,
//! then an interactive prompt when standard input is a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use devwb_ldap::{Client, ConnectOptions, Credentials, Password, Tls};
use devwb_model::Dn;

/// Where the directory is and how to bind.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The domain controller: `ldaps://dc1.contoso.lab` (a URL without a scheme is taken as
    /// ldaps://; `ldap://` with --starttls).
    #[arg(long, env = "DEVWB_URL", value_name = "URL")]
    pub url: String,

    /// Bind as this account: a DN, a UPN (`admin@contoso.lab`) or `CONTOSO\admin`. Without it
    /// the connection is anonymous, which AD allows for the rootDSE only.
    #[arg(long, env = "DEVWB_BIND", value_name = "NAME")]
    pub bind: Option<String>,

    /// Read the bind password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password_insecure_cli")]
    pub password_file: Option<PathBuf>,

    /// The bind password on the command line. INSECURE: it is visible in shell history and
    /// to other users through the process list. Prefer DEVWB_PASSWORD or --password-file.
    #[arg(long, value_name = "PASSWORD", value_parser = parse_password)]
    pub password_insecure_cli: Option<Password>,

    /// Upgrade a plain `ldap://` connection with StartTLS before binding.
    #[arg(long, conflicts_with = "plain_ldap_insecure")]
    pub starttls: bool,

    /// PEM file with the CA certificates to trust (default: the platform's trust store).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Accept any server certificate. INSECURE: for labs only; anyone on the path can read the
    /// password.
    #[arg(long)]
    pub insecure_skip_verify: bool,

    /// Use plain LDAP without any TLS. INSECURE: the password crosses the network in clear
    /// text; AD refuses such binds unless configured not to. For simulators and labs.
    #[arg(long)]
    pub plain_ldap_insecure: bool,

    /// Timeout in seconds for connecting and for each operation.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS)]
    pub timeout: u64,

    /// The forest's global catalog (`ldaps://gc1.contoso.lab:3269`): accounts and SIDs of the
    /// forest's other domains are looked up there, so their DCs need not be reachable. Without
    /// it devwb follows each domain's referral, and asks the connected DC's own global catalog
    /// ports (3269/3268) when a domain's DC cannot be reached and the DC says it is a GC.
    #[arg(long, env = "DEVWB_GC_URL", value_name = "URL")]
    pub gc_url: Option<String>,
}

/// `--timeout`'s default.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

impl ConnectionArgs {
    /// The client crate's options for these arguments.
    pub fn connect_options(&self) -> anyhow::Result<ConnectOptions> {
        let has_scheme = self.url.contains("://");
        let tls = if self.plain_ldap_insecure {
            Tls::PlainInsecure
        } else if self.starttls {
            Tls::StartTls
        } else {
            Tls::Ldaps
        };
        if has_scheme && self.url.starts_with("ldaps://") && tls != Tls::Ldaps {
            bail!(
                "--url {} is ldaps:// but {} asks for a plain connection: give an ldap:// URL",
                self.url,
                if self.starttls {
                    "--starttls"
                } else {
                    "--plain-ldap-insecure"
                }
            );
        }
        let url = match (has_scheme, tls) {
            (false, Tls::StartTls | Tls::PlainInsecure) => format!("ldap://{}", self.url),
            _ => self.url.clone(),
        };
        let mut options = ConnectOptions::new(&url)
            .with_context(|| format!("--url {url}"))?
            .with_tls(tls)
            .with_insecure_skip_verify(self.insecure_skip_verify)
            .with_timeout(Duration::from_secs(self.timeout));
        if let Some(ca_file) = &self.ca_file {
            options = options.with_ca_file(ca_file);
        }
        if let Some(gc_url) = &self.gc_url {
            options = options
                .with_global_catalog(gc_url)
                .with_context(|| format!("--gc-url {gc_url}"))?;
        }
        // --insecure-skip-verify and --plain-ldap-insecure are warned about by the client crate,
        // once per process however many connections a run opens; a second warning here would
        // say the same thing again.
        Ok(options)
    }

    /// The bind credentials, when `--bind` was given; the password is obtained as the module
    /// docs say.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(bind) = &self.bind else {
            return Ok(None);
        };
        let password = if let Some(path) = &self.password_file {
            read_password_file(path)?
        } else if let Some(password) = &self.password_insecure_cli {
            tracing::warn!("--password-insecure-cli: the password is visible in the process list and shell history");
            password.clone()
        } else if let Some(password) = std::env::var_os("DEVWB_PASSWORD") {
            let password = password
                .into_string()
                .map_err(|_| anyhow::anyhow!("DEVWB_PASSWORD is not valid UTF-8"))?;
            Password::new(password)
        } else if std::io::stdin().is_terminal() {
            let password = rpassword::prompt_password(format!("Password for {bind}: "))
                .context("reading the password from the terminal")?;
            Password::new(password)
        } else {
            bail!(
                "no password for {bind}: set DEVWB_PASSWORD, pass --password-file, or run on a terminal to be prompted"
            );
        };
        Ok(Some(Credentials::new(bind.clone(), password)))
    }

    /// Connects and binds.
    pub fn connect(&self) -> anyhow::Result<Client> {
        let options = self.connect_options()?;
        let credentials = self.credentials()?;
        let who = credentials
            .as_ref()
            .map(|c| c.bind_name.clone())
            .unwrap_or_else(|| "anonymous".to_string());
        Client::connect(&options, credentials.as_ref())
            .with_context(|| format!("connecting to {} as {who}", options.url))
    }
}

/// The first line of a password file, without its line ending. An empty file is an error.
pub fn read_password_file(path: &Path) -> anyhow::Result<Password> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the password file {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        bail!("the password file {} is empty", path.display());
    }
    Ok(Password::new(line.to_string()))
}

/// Holds a password given on the command line in [`Password`] from the start, so the arguments'
/// derived `Debug` prints `********` rather than the password.
fn parse_password(text: &str) -> Result<Password, std::convert::Infallible> {
    Ok(Password::new(text))
}

/// A domain given as a DNS name (`contoso.lab`) or a DN (`DC=contoso,DC=lab`).
pub fn parse_domain(text: &str) -> Result<Dn, String> {
    let parsed = if text.contains('=') {
        Dn::parse(text)
    } else {
        Dn::from_dns_domain(text)
    };
    parsed.map_err(|error| format!("{text:?} is neither a DNS domain name nor a DN: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str, starttls: bool, plain: bool) -> ConnectionArgs {
        ConnectionArgs {
            url: url.to_string(),
            bind: None,
            password_file: None,
            password_insecure_cli: None,
            starttls,
            ca_file: None,
            insecure_skip_verify: false,
            plain_ldap_insecure: plain,
            timeout: 30,
            gc_url: None,
        }
    }

    #[test]
    fn url_scheme_follows_the_tls_choice() {
        let cases = [
            (
                "dc1.contoso.lab",
                false,
                false,
                "ldaps://dc1.contoso.lab",
                Tls::Ldaps,
            ),
            (
                "dc1.contoso.lab",
                true,
                false,
                "ldap://dc1.contoso.lab",
                Tls::StartTls,
            ),
            (
                "dc1.contoso.lab:389",
                false,
                true,
                "ldap://dc1.contoso.lab:389",
                Tls::PlainInsecure,
            ),
            (
                "ldap://dc1.contoso.lab",
                true,
                false,
                "ldap://dc1.contoso.lab",
                Tls::StartTls,
            ),
        ];
        for (url, starttls, plain, expected_url, expected_tls) in cases {
            let options = connection(url, starttls, plain)
                .connect_options()
                .expect("valid");
            assert_eq!(
                (options.url.as_str(), options.tls),
                (expected_url, expected_tls),
                "{url}"
            );
        }
        assert!(connection("ldaps://dc1", true, false)
            .connect_options()
            .is_err());
        assert!(connection("ldaps://dc1", false, true)
            .connect_options()
            .is_err());
    }

    #[test]
    fn domains_are_dns_names_or_dns() {
        assert_eq!(
            parse_domain("contoso.lab").map(|dn| dn.to_string()),
            Ok("DC=contoso,DC=lab".to_string())
        );
        assert_eq!(
            parse_domain("DC=eu,DC=contoso,DC=lab").map(|dn| dn.to_string()),
            Ok("DC=eu,DC=contoso,DC=lab".to_string())
        );
        assert!(parse_domain("DC=a,,DC=b")
            .is_err_and(|e| e.contains("neither a DNS domain name nor a DN")));
    }

    #[test]
    fn a_password_given_on_the_command_line_never_reaches_debug_output() {
        let mut args = connection("ldaps://dc1", false, false);
        args.password_insecure_cli = Some(parse_password("Secret123!").expect("infallible"));
        args.bind = Some("CONTOSO\\admin".into());
        let debug = format!("{args:?}");
        assert!(!debug.contains("Secret123!"), "{debug}");
        let credentials = args.credentials().expect("credentials").expect("bound");
        assert_eq!(credentials.password.expose(), "Secret123!");
    }

    #[test]
    fn password_file_takes_the_first_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\nignored\n").expect("write");
        assert_eq!(read_password_file(&path).expect("read").expose(), "s3cret");
        std::fs::write(&path, "\n").expect("write");
        assert!(read_password_file(&path).is_err());
        assert!(read_password_file(&dir.path().join("missing")).is_err());
    }
}
