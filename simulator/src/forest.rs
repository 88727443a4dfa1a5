//! A forest's shape: its names, the default objects a freshly promoted domain controller has,
//! the rootDSE, and the attributes the directory generates on every entry.
//!
//! One [`Forest`] is one store holding every naming context of a forest: a domain NC per
//! domain (`DC=contoso,DC=lab` with `CN=Users`, `CN=Computers`, `OU=Domain Controllers`,
//! `CN=System`, `CN=Builtin`), a configuration NC (`CN=Services`, `CN=Partitions` with each
//! domain's crossRef, `CN=Sites` with each DC's server and nTDSDSA objects), and a schema NC
//! whose head carries the `objectVersion` of the schema level. Each domain has its own domain
//! SID, its Administrator account and its Domain Admins, Domain Users and Domain Computers
//! groups; Schema Admins and Enterprise Admins exist in the forest root domain only, with the
//! root's Administrator as member. Every domain's Administrator has the same password.
//!
//! A forest of one domain is today's default. With more, each domain's DC is a view of this
//! one store (see `handler`): writes through any DC are visible at once through every other,
//! as if replication were instant.
//!
//! Generated values come from the injected [`Clock`] and [`IdSource`], so two forests built
//! with the same seed and clock are identical.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use devwb_model::{Dn, SchemaLevel, Sid};

use crate::clock::{filetime, generalized_time, Clock, IdSource};
use crate::error::{OpError, SimError};
use crate::names::{rdn, DomainNames};
pub use crate::names::{ForestNames, NamingContext};
use crate::request::{Identity, OpContext, Operation, RequestControls};
use crate::semantics::Semantics;
use crate::store::{Entry, Secret, Store};

/// The AD functional level number of a schema level (domainFunctionality and friends).
pub fn functional_level(level: SchemaLevel) -> u32 {
    match level {
        SchemaLevel::W2008R2 => 4,
        SchemaLevel::W2012 => 5,
        SchemaLevel::W2012R2 => 6,
        SchemaLevel::W2016 | SchemaLevel::W2019 => 7,
        _ => 10,
    }
}

/// The object classes whose instances are security principals and get an `objectSid`.
const PRINCIPAL_CLASSES: &[&str] = &[
    "user",
    "group",
    "computer",
    "inetOrgPerson",
    "msDS-ManagedServiceAccount",
    "msDS-GroupManagedServiceAccount",
];

/// One forest: names, store, clock, ids and semantics.
#[derive(Debug)]
pub struct Forest {
    pub names: ForestNames,
    pub schema_level: SchemaLevel,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub semantics: Semantics,
    next_rid: AtomicU32,
}

/// The text of a value.
fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

impl Forest {
    /// Builds a forest with its default objects. `admin_password` becomes the
    /// Administrator's password.
    pub fn build(
        dns_name: &str,
        schema_level: SchemaLevel,
        admin_password: &str,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Forest, SimError> {
        Forest::build_with_domains(dns_name, &[], schema_level, admin_password, clock, ids)
    }

    /// Builds a forest whose root domain is `dns_name` with the other `domains` (child
    /// domains and new trees, see [`ForestNames::add_domain`]), each with its default objects
    /// and a domain SID of its own. Every Administrator gets `admin_password`.
    pub fn build_with_domains(
        dns_name: &str,
        domains: &[String],
        schema_level: SchemaLevel,
        admin_password: &str,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Forest, SimError> {
        let new_sid = |name: &str| {
            let sub = || (ids.next_u64() as u32) | 0x1000_0000;
            Sid::new(5, &[21, sub(), sub(), sub()]).map_err(|e| SimError::ForestName {
                name: name.to_string(),
                reason: e.to_string(),
            })
        };
        let mut names = ForestNames::new(dns_name, new_sid(dns_name)?)?;
        for domain in domains {
            names.add_domain(domain, new_sid(domain)?)?;
        }
        let semantics = Semantics::new(&names, schema_level);
        let forest = Forest {
            names,
            schema_level,
            store: Store::new(),
            clock,
            ids,
            semantics,
            next_rid: AtomicU32::new(1103),
        };
        forest.populate(admin_password)?;
        Ok(forest)
    }

    /// A new RID for a security principal.
    pub fn allocate_rid(&self) -> u32 {
        self.next_rid.fetch_add(1, Ordering::Relaxed)
    }

    /// Sets the attributes the directory generates on a new entry: `objectGUID` (unless a
    /// seed supplies one), `whenCreated`, `whenChanged`, `distinguishedName`, `name`,
    /// `objectCategory`, `instanceType`, `objectSid` for security principals, and `pwdLastSet`
    /// for a user added with a password.
    /// `uSNCreated` and `uSNChanged` are set by the store when the entry is stored.
    pub fn stamp_new(&self, entry: &mut Entry) {
        if entry
            .attrs
            .values("objectGUID")
            .first()
            .is_none_or(|g| g.len() != 16)
        {
            entry.attrs.set(
                "objectGUID",
                vec![Bytes::copy_from_slice(&self.ids.next_guid())],
            );
        }
        let now = generalized_time(self.clock.now());
        entry.attrs.set_str("whenCreated", &now);
        entry.attrs.set_str("whenChanged", &now);
        entry
            .attrs
            .set_str("distinguishedName", &entry.dn.to_string());
        if let Some(rdn) = entry.dn.rdn() {
            let value = rdn.value().to_string();
            entry.attrs.set_str("name", &value);
            // The RDN's attribute carries the RDN value, in the spelling the client used.
            // AD's lDAPDisplayNames of the usual naming attributes are lowercase (`cn`, `ou`, `dc`).
            let rdn_attr = match rdn.attr().to_ascii_lowercase().as_str() {
                short @ ("cn" | "ou" | "dc" | "o" | "l" | "c") => short.to_string(),
                _ => rdn.attr().to_string(),
            };
            if !entry.attrs.has_value_ignore_case(&rdn_attr, &value) {
                entry.attrs.add_values(&rdn_attr, [b(&value)]);
            }
        }
        if !entry.attrs.contains("objectCategory") {
            if let Some(class) = entry.structural_class().map(str::to_string) {
                let category = self.semantics.object_category(&class);
                entry.attrs.set_str("objectCategory", &category.to_string());
            }
        }
        if !entry.attrs.contains("instanceType") {
            entry.attrs.set_str("instanceType", "4");
        }
        // A user added with a password has it set now, unless the add asks for a change at
        // the next logon (`pwdLastSet: 0`).
        if entry.is_a("user")
            && entry.attrs.contains("unicodePwd")
            && !entry.attrs.contains("pwdLastSet")
        {
            self.stamp_password_set(entry);
        }
        let is_principal = PRINCIPAL_CLASSES.iter().any(|c| entry.is_a(c));
        if is_principal && !entry.attrs.contains("objectSid") {
            // A principal's SID is its domain's: the domain whose NC holds it.
            let domain_sid = self
                .names
                .domain_of(&entry.dn)
                .map_or(self.names.domain_sid, |d| d.domain_sid);
            let sid = domain_sid.with_rid(self.allocate_rid());
            entry
                .attrs
                .set("objectSid", vec![Bytes::from(sid.to_bytes())]);
        }
    }

    /// Sets `pwdLastSet` to now, as AD does when an account's password is set or reset.
    pub fn stamp_password_set(&self, entry: &mut Entry) {
        entry
            .attrs
            .set_str("pwdLastSet", &filetime(self.clock.now()).to_string());
    }

    /// Sets `whenChanged` on a changed entry (`uSNChanged` is the store's).
    pub fn stamp_changed(&self, entry: &mut Entry) {
        entry
            .attrs
            .set_str("whenChanged", &generalized_time(self.clock.now()));
    }

    fn entry(dn: Dn, classes: &[&str], attrs: &[(&str, &str)]) -> Entry {
        let mut entry = Entry::new(dn);
        entry.attrs.set_strs("objectClass", classes);
        for (name, value) in attrs {
            entry.attrs.add_values(name, [b(value)]);
        }
        entry
    }

    fn seed(&self, mut entry: Entry, naming_context: bool) -> Result<(), SimError> {
        self.stamp_new(&mut entry);
        let parent = if naming_context {
            None
        } else {
            entry.dn.parent().and_then(|p| self.store.get(&p))
        };
        self.semantics.complete_seed(parent.as_deref(), &mut entry);
        if naming_context {
            self.store.add_naming_context(entry)?;
        } else {
            self.store.add(entry)?;
        }
        Ok(())
    }

    fn populate(&self, admin_password: &str) -> Result<(), SimError> {
        let n = &self.names;
        let level = functional_level(self.schema_level).to_string();
        let config = &n.config_dn;
        let Some(root) = n.domains.first() else {
            return Ok(());
        };
        self.populate_domain(root, true, admin_password)?;

        // Configuration NC.
        self.seed(
            Forest::entry(config.clone(), &["top", "configuration"], &[]),
            true,
        )?;
        for name in [
            "Services",
            "Sites",
            "Extended-Rights",
            "DisplaySpecifiers",
            "WellKnown Security Principals",
        ] {
            self.seed(
                Forest::entry(config.child(rdn("CN", name)), &["top", "container"], &[]),
                false,
            )?;
        }
        let partitions = config.child(rdn("CN", "Partitions"));
        self.seed(
            Forest::entry(
                partitions.clone(),
                &["top", "crossRefContainer"],
                &[("msDS-Behavior-Version", &level)],
            ),
            false,
        )?;
        self.seed_cross_ref(root)?;
        let services = config.child(rdn("CN", "Services"));
        self.seed(
            Forest::entry(
                services.child(rdn("CN", "Windows NT")),
                &["top", "container"],
                &[],
            ),
            false,
        )?;
        let site = config
            .child(rdn("CN", "Sites"))
            .child(rdn("CN", "Default-First-Site-Name"));
        self.seed(Forest::entry(site.clone(), &["top", "site"], &[]), false)?;
        self.seed(
            Forest::entry(
                site.child(rdn("CN", "Servers")),
                &["top", "serversContainer"],
                &[],
            ),
            false,
        )?;
        self.seed_server(root)?;

        // Schema NC.
        let version = self.schema_level.object_version().to_string();
        self.seed(
            Forest::entry(
                n.schema_dn.clone(),
                &["top", "dMD"],
                &[("objectVersion", &version)],
            ),
            true,
        )?;
        for entry in self.semantics.seed_entries(n) {
            self.seed(entry, false)?;
        }

        // The other domains: their NCs, crossRefs and DCs' server objects.
        for domain in n.domains.iter().skip(1) {
            self.populate_domain(domain, false, admin_password)?;
            self.seed_cross_ref(domain)?;
            self.seed_server(domain)?;
        }
        Ok(())
    }

    /// A domain NC with its default objects: the head, the well-known containers, the
    /// Administrator, the domain's groups (and, in the root domain, the forest-wide ones) and
    /// the DC's computer account.
    fn populate_domain(
        &self,
        d: &DomainNames,
        is_root: bool,
        admin_password: &str,
    ) -> Result<(), SimError> {
        let level = functional_level(self.schema_level).to_string();
        let domain = &d.domain_dn;
        let sid_of = |rid: u32| Bytes::from(d.domain_sid.with_rid(rid).to_bytes());
        let first_dc = domain
            .rdn()
            .map(|r| r.value().to_string())
            .unwrap_or_default();

        let mut head = Forest::entry(
            domain.clone(),
            &["top", "domain", "domainDNS"],
            &[
                ("dc", &first_dc),
                ("msDS-Behavior-Version", &level),
                ("nTMixedDomain", "0"),
            ],
        );
        head.attrs
            .set("objectSid", vec![Bytes::from(d.domain_sid.to_bytes())]);
        self.seed(head, true)?;
        let containers: [(&str, &str, &[&str]); 6] = [
            ("CN", "Users", &["top", "container"]),
            ("CN", "Computers", &["top", "container"]),
            ("OU", "Domain Controllers", &["top", "organizationalUnit"]),
            ("CN", "System", &["top", "container"]),
            ("CN", "Builtin", &["top", "builtinDomain"]),
            ("CN", "Program Data", &["top", "container"]),
        ];
        for (attr, value, classes) in containers {
            self.seed(
                Forest::entry(domain.child(rdn(attr, value)), classes, &[]),
                false,
            )?;
        }
        let user_classes = ["top", "person", "organizationalPerson", "user"];
        let mut admin = Forest::entry(
            d.admin_dn.clone(),
            &user_classes,
            &[
                ("sAMAccountName", "Administrator"),
                ("userAccountControl", "66048"),
                (
                    "description",
                    "Built-in account for administering the computer/domain",
                ),
                ("adminCount", "1"),
            ],
        );
        admin.attrs.set("objectSid", vec![sid_of(500)]);
        self.seed(admin, false)?;
        self.store
            .set_secret(&d.admin_dn, Secret::new(admin_password));
        let groups: [(&str, u32, &str); 5] = [
            ("Domain Admins", 512, "-2147483646"),
            ("Domain Users", 513, "-2147483646"),
            ("Domain Computers", 515, "-2147483646"),
            ("Schema Admins", 518, "-2147483640"),
            ("Enterprise Admins", 519, "-2147483640"),
        ];
        for (name, rid, group_type) in groups {
            if !is_root && (rid == 518 || rid == 519) {
                continue; // forest-wide groups live in the root domain only
            }
            let mut group = Forest::entry(
                d.user_dn(name),
                &["top", "group"],
                &[("sAMAccountName", name), ("groupType", group_type)],
            );
            group.attrs.set("objectSid", vec![sid_of(rid)]);
            if rid != 513 && rid != 515 {
                group.attrs.set_str("member", &d.admin_dn.to_string());
            }
            self.seed(group, false)?;
        }
        let dc_dn = d.dc_account_dn();
        let account = dc_dn
            .rdn()
            .map(|r| format!("{}$", r.value()))
            .unwrap_or_else(|| "DC1$".to_string());
        let mut dc = Forest::entry(
            dc_dn,
            &["top", "person", "organizationalPerson", "user", "computer"],
            &[
                ("sAMAccountName", &account),
                ("userAccountControl", "532480"),
                ("dNSHostName", &d.dc_host_name),
                ("serverReferenceBL", &d.server_dn.to_string()),
            ],
        );
        dc.attrs.set("objectSid", vec![sid_of(1000)]);
        self.seed(dc, false)?;
        Ok(())
    }

    /// A domain's crossRef in `CN=Partitions`: `nCName`, `dnsRoot`, `nETBIOSName` and
    /// `systemFlags` 3 (FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN).
    fn seed_cross_ref(&self, d: &DomainNames) -> Result<(), SimError> {
        let partitions = self.names.config_dn.child(rdn("CN", "Partitions"));
        let cross_ref = Forest::entry(
            partitions.child(rdn("CN", &d.netbios_name)),
            &["top", "crossRef"],
            &[
                ("nCName", &d.domain_dn.to_string()),
                ("nETBIOSName", &d.netbios_name),
                ("dnsRoot", &d.dns_name),
                ("systemFlags", "3"),
            ],
        );
        self.seed(cross_ref, false)
    }

    /// A DC's server object under the site and its `NTDS Settings` (nTDSDSA).
    fn seed_server(&self, d: &DomainNames) -> Result<(), SimError> {
        let level = functional_level(self.schema_level).to_string();
        self.seed(
            Forest::entry(
                d.server_dn.clone(),
                &["top", "server"],
                &[
                    ("dNSHostName", &d.dc_host_name),
                    ("serverReference", &d.dc_account_dn().to_string()),
                ],
            ),
            false,
        )?;
        self.seed(
            Forest::entry(
                d.ds_service_name.clone(),
                &["top", "applicationSettings", "nTDSDSA"],
                &[("options", "1"), ("msDS-Behavior-Version", &level)],
            ),
            false,
        )
    }

    /// The rootDSE as a search shows it now, on the forest root domain's DC.
    pub fn root_dse(&self, supported_controls: &[&str]) -> Entry {
        self.root_dse_of(0, supported_controls)
    }

    /// The rootDSE of the DC of the domain `domain` (an index in [`ForestNames::domains`]; the
    /// root's DC for one out of range): its own domain NC, the configuration and schema NCs.
    pub fn root_dse_of(&self, domain: usize, supported_controls: &[&str]) -> Entry {
        let forest = &self.names;
        let Some(n) = forest.domains.get(domain).or(forest.domains.first()) else {
            return Entry::new(Dn::root());
        };
        let level = functional_level(self.schema_level).to_string();
        let mut entry = Entry::new(Dn::root());
        let a = &mut entry.attrs;
        a.set_str("objectClass", "top");
        a.set_str("currentTime", &generalized_time(self.clock.now()));
        a.set_str(
            "subschemaSubentry",
            &format!("CN=Aggregate,{}", forest.schema_dn),
        );
        a.set_str("dsServiceName", &n.ds_service_name.to_string());
        a.set_strs(
            "namingContexts",
            &[
                &n.domain_dn.to_string(),
                &forest.config_dn.to_string(),
                &forest.schema_dn.to_string(),
            ],
        );
        a.set_str("defaultNamingContext", &n.domain_dn.to_string());
        a.set_str("rootDomainNamingContext", &forest.domain_dn.to_string());
        a.set_str("configurationNamingContext", &forest.config_dn.to_string());
        a.set_str("schemaNamingContext", &forest.schema_dn.to_string());
        a.set_str("serverName", &n.server_dn.to_string());
        a.set_strs(
            "supportedCapabilities",
            &[
                "1.2.840.113556.1.4.800",
                "1.2.840.113556.1.4.1670",
                "1.2.840.113556.1.4.1791",
                "1.2.840.113556.1.4.1935",
                "1.2.840.113556.1.4.2080",
                "1.2.840.113556.1.4.2237",
            ],
        );
        a.set_strs("supportedControl", supported_controls);
        a.set_strs("supportedLDAPVersion", &["3", "2"]);
        a.set_strs(
            "supportedLDAPPolicies",
            &[
                "MaxPageSize",
                "MaxQueryDuration",
                "MaxReceiveBuffer",
                "MaxConnections",
            ],
        );
        a.set_strs(
            "supportedSASLMechanisms",
            &["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"],
        );
        a.set_strs(
            "supportedExtension",
            &["1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.4203.1.11.3"],
        );
        a.set_str("highestCommittedUSN", &self.store.highest_usn().to_string());
        a.set_str("dnsHostName", &n.dc_host_name);
        a.set_str(
            "ldapServiceName",
            &format!(
                "{}:{}$@{}",
                forest.dns_name,
                n.dc_host_name.split('.').next().unwrap_or("dc1"),
                n.dns_name.to_ascii_uppercase()
            ),
        );
        a.set_str("isSynchronized", "TRUE");
        a.set_str("isGlobalCatalogReady", "TRUE");
        a.set_str("domainFunctionality", &level);
        a.set_str("forestFunctionality", &level);
        a.set_str("domainControllerFunctionality", &level);
        entry
    }

    /// The account a bind name refers to (see [`Semantics::find_account`]).
    pub fn find_account(&self, name: &str) -> Option<Arc<Entry>> {
        self.semantics.find_account(&self.store, name)
    }

    /// Adds an enabled user `CN=<name>,CN=Users,<domain>` with `sAMAccountName` and
    /// `userPrincipalName` `<name>@<dns name>` and the password `password`. Returns its DN and SID.
    pub fn add_user(&self, name: &str, password: &str) -> Result<(Dn, Sid), OpError> {
        self.add_user_in(&self.names.dns_name.clone(), name, password)
    }

    /// [`Forest::add_user`] in the domain `domain` (its DNS or NetBIOS name): the user is
    /// `CN=<name>,CN=Users,<that domain>`, its UPN `<name>@<that domain's DNS name>`, its SID
    /// in that domain's.
    pub fn add_user_in(
        &self,
        domain: &str,
        name: &str,
        password: &str,
    ) -> Result<(Dn, Sid), OpError> {
        let d = self.names.domain_named(domain).ok_or_else(|| {
            OpError::unwilling(format!("{domain} is not a domain of this forest"))
        })?;
        let dn = d.user_dn(name);
        let upn = format!("{name}@{}", d.dns_name);
        let mut entry = Forest::entry(
            dn.clone(),
            &["top", "person", "organizationalPerson", "user"],
            &[
                ("cn", name),
                ("sAMAccountName", name),
                ("userPrincipalName", &upn),
                ("userAccountControl", "512"),
            ],
        );
        self.stamp_new(&mut entry);
        let sid = entry
            .attrs
            .values("objectSid")
            .first()
            .and_then(|v| Sid::from_bytes(v).ok());
        let parent = self.store.require(&d.domain_dn.child(rdn("CN", "Users")))?;
        let identity = Identity {
            dn: Some(d.admin_dn.clone()),
            sid: Some(d.domain_sid.with_rid(500)),
        };
        let controls = RequestControls::default();
        let ctx = OpContext {
            store: &self.store,
            identity: &identity,
            tls: true,
            controls: &controls,
            operation: Operation::Add,
            target: &dn,
        };
        self.semantics.complete_add(&ctx, &parent, &mut entry)?;
        self.store.add(entry)?;
        self.store.set_secret(&dn, Secret::new(password));
        let sid = sid.ok_or_else(|| OpError::unwilling("the new user has no objectSid"))?;
        Ok((dn, sid))
    }

    /// Sets the password of an existing account.
    pub fn set_password(&self, dn: &Dn, password: &str) -> Result<(), OpError> {
        self.store.require(dn)?;
        self.store.set_secret(dn, Secret::new(password));
        Ok(())
    }
}
