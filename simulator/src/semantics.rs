//! The AD semantics layer: the per-forest decisions the request path asks for between
//! resolving the target and touching the store (faults, authentication, access checks,
//! content rules, generated security descriptors, what a search may show).
//!
//! The handler calls these methods in the order the simulator plan fixes: (1) faults,
//! (2) resolve entries, (3) access check, (4) content rules and normalisation, (5) generated
//! attributes, (6) store mutation. This layer delegates: [`crate::faults`] decides faults,
//! [`crate::schema`] holds the schema of the forest's level and its content rules,
//! [`crate::security`] computes descriptors, tokens and access checks.
//!
//! Access is checked for the bound identity's token (its SID, its groups transitively,
//! Authenticated Users, Everyone) against each entry's `nTSecurityDescriptor`, with no
//! administrator bypass. Tokens are computed from the directory when first needed and cached
//! until a group membership changes (AD fixes a token at logon; the simulator refreshes it,
//! which only matters to a test that changes a bound account's groups).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use devwb_model::sd::{SecurityDescriptor, SecurityInformation, Token};
use devwb_model::{Dn, SchemaLevel, Sid};

use crate::error::{OpError, ResultCode};
use crate::faults::{FaultConfig, Faults};
use crate::names::ForestNames;
use crate::request::{FaultDecision, Identity, Matching, Modification, ModificationKind, OpContext};
use crate::schema::rules::DirectoryContext;
use crate::schema::{diag, ClassCategory, ClassDef, Schema, Syntax};
use crate::security::descriptor;
use crate::security::{access, accounts, Directory, DomainSids};
use crate::store::{Entry, Secret, Store};

/// Operational attributes of the rootDSE and constructed ones the schema does not describe
/// the way filters need: how they compare.
const NON_SCHEMA_INTEGERS: &[&str] = &[
    "highestCommittedUSN",
    "domainFunctionality",
    "forestFunctionality",
    "domainControllerFunctionality",
    "supportedLDAPVersion",
];
const NON_SCHEMA_TIMES: &[&str] = &["currentTime"];
const NON_SCHEMA_BOOLEANS: &[&str] = &["isSynchronized", "isGlobalCatalogReady"];
const NON_SCHEMA_DNS: &[&str] = &[
    "defaultNamingContext",
    "configurationNamingContext",
    "schemaNamingContext",
    "rootDomainNamingContext",
    "namingContexts",
    "dsServiceName",
    "serverName",
];

/// The configuration NC head's descriptor as a DC's provisioning writes it (after Samba's
/// `get_config_descriptor`, reduced to the ACEs that grant or deny directory access):
/// Authenticated Users read everything below, Enterprise Admins and SYSTEM hold full control
/// below, Domain Admins write the head.
const CONFIGURATION_NC_DESCRIPTOR: &str = "O:EAG:EAD:AI(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCLCLORCWOWDSW;;;DA)";

/// The schema NC head's descriptor as a DC's provisioning writes it (after Samba's
/// `get_schema_descriptor`): Authenticated Users read, Schema Admins write, SYSTEM full control.
const SCHEMA_NC_DESCRIPTOR: &str = "O:SAG:SAD:AI(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCLCLORCWOWDSW;;;SA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)";

/// The per-forest semantics. Built once with the forest.
#[derive(Debug)]
pub struct Semantics {
    /// The forest's DNS name and NetBIOS domain name (bind names may carry either).
    dns_name: String,
    netbios_name: String,
    schema_dn: Dn,
    schema_level: SchemaLevel,
    schema: Schema,
    sids: DomainSids,
    faults: RwLock<Arc<Faults>>,
    /// Bumped whenever a group membership may have changed; tokens older than it are recomputed.
    membership_epoch: AtomicU64,
    /// The store's highest USN when a membership last started to change: caches built before
    /// the store moves past it may have missed the change.
    membership_dirty_usn: AtomicU64,
    /// The last membership epoch seen settled (the store moved past its dirty USN).
    settled_epoch: AtomicU64,
    tokens: Mutex<HashMap<String, (u64, Token)>>,
    /// Descriptor values shared between entries: the many entries with identical descriptors
    /// (every device of a container) hold one allocation, which reads compare by address.
    interned: Mutex<std::collections::HashSet<Bytes>>,
    /// The descriptor computed for a new entry with no descriptor in its add request, by what
    /// it depends on: its class, its parent's descriptor and the owner and group its creator
    /// gives it. Every device written into one container shares one key.
    new_descriptors: Mutex<NewDescriptorCache>,
    /// Normalised member DN -> the groups listing it, as of a membership epoch: `memberOf`.
    member_of: RwLock<(u64, Arc<MemberOfIndex>)>,
}

/// The store seen through the security layer's [`Directory`] trait.
struct StoreDirectory<'a>(&'a Store);

impl Directory for StoreDirectory<'_> {
    fn entry(&self, dn: &Dn) -> Option<Entry> {
        self.0.get(dn).map(|entry| (*entry).clone())
    }

    fn entries_with(&self, attribute: &str, value: &[u8]) -> Vec<Entry> {
        let wanted = std::str::from_utf8(value)
            .ok()
            .and_then(|text| Dn::parse(text).ok());
        // Tokens ask for the groups listing a member: the store keeps those entries apart.
        let candidates = if attribute.eq_ignore_ascii_case("member") {
            self.0.entries_with_members()
        } else {
            self.0.all()
        };
        candidates
            .into_iter()
            .filter(|entry| {
                entry.attrs.values(attribute).iter().any(|v| match &wanted {
                    Some(dn) => {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|t| Dn::parse(t).ok())
                            .as_ref()
                            == Some(dn)
                    }
                    None => v.as_ref() == value,
                })
            })
            .map(|entry| (*entry).clone())
            .collect()
    }
}

fn text_values(entry: &Entry, attribute: &str) -> Vec<String> {
    entry
        .attrs
        .values(attribute)
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok().map(str::to_string))
        .collect()
}

impl Semantics {
    /// The semantics of a forest with these names at this schema level.
    pub fn new(names: &ForestNames, schema_level: SchemaLevel) -> Semantics {
        Semantics {
            dns_name: names.dns_name.clone(),
            netbios_name: names.netbios_name.clone(),
            schema_dn: names.schema_dn.clone(),
            schema_level,
            schema: Schema::for_level(schema_level),
            sids: DomainSids::single(names.domain_sid),
            faults: RwLock::new(Arc::new(Faults::default())),
            // Each forest's generations live in their own range: the per-thread caches are
            // shared by every forest of the process and key on the generation.
            membership_epoch: AtomicU64::new(NEXT_FOREST.fetch_add(1 << 32, Ordering::Relaxed)),
            membership_dirty_usn: AtomicU64::new(0),
            settled_epoch: AtomicU64::new(u64::MAX),
            tokens: Mutex::new(HashMap::new()),
            interned: Mutex::new(std::collections::HashSet::new()),
            new_descriptors: Mutex::new(NewDescriptorCache::default()),
            member_of: RwLock::new((u64::MAX, Arc::new(HashMap::new()))),
        }
    }

    /// The forest's schema level.
    pub fn schema_level(&self) -> SchemaLevel {
        self.schema_level
    }

    /// The forest's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Replaces the fault configuration (at start from the builder, or while running).
    pub fn set_faults(&self, config: FaultConfig) {
        if let Ok(mut faults) = self.faults.write() {
            *faults = Arc::new(Faults::new(config));
        }
    }

    /// The current faults.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults
            .read()
            .map(|f| Arc::clone(&f))
            .unwrap_or_default()
    }

    fn directory_context<'a>(&'a self, exists: &'a dyn Fn(&Dn) -> bool) -> DirectoryContext<'a> {
        DirectoryContext {
            schema_nc: &self.schema_dn,
            exists,
        }
    }

    /// The shared value for descriptor bytes (see `interned`).
    fn intern(&self, bytes: Vec<u8>) -> Bytes {
        let Ok(mut interned) = self.interned.lock() else {
            return Bytes::from(bytes);
        };
        if let Some(existing) = interned.get(bytes.as_slice()) {
            return existing.clone();
        }
        if interned.len() >= INTERNED_CAPACITY {
            interned.clear();
        }
        let value = Bytes::from(bytes);
        interned.insert(value.clone());
        value
    }

    /// Forgets cached tokens (after a snapshot is restored: memberships may differ).
    pub fn reset_caches(&self) {
        self.membership_epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.clear();
        }
    }

    /// The token the identity acts with.
    pub fn token(&self, store: &Store, identity: &Identity) -> Token {
        let Some(dn) = &identity.dn else {
            return Token::anonymous();
        };
        let generation = self.settled_generation(store);
        let key = dn.normalized().to_string();
        if let (Some(generation), Ok(tokens)) = (generation, self.tokens.lock()) {
            if let Some((at, token)) = tokens.get(&key) {
                if *at == generation {
                    return token.clone();
                }
            }
        }
        let token = match store.get(dn) {
            Some(entry) => accounts::token_for(&StoreDirectory(store), &self.sids, &entry),
            None => Token::authenticated(identity.sid.unwrap_or(Sid::ANONYMOUS), []),
        };
        if let (Some(generation), Ok(mut tokens)) = (generation, self.tokens.lock()) {
            tokens.insert(key, (generation, token.clone()));
        }
        token
    }

    /// The membership generation caches may be keyed on, or `None` while a membership change
    /// may still be on its way into the store (then nothing is cached).
    fn settled_generation(&self, store: &Store) -> Option<u64> {
        let epoch = self.membership_epoch.load(Ordering::Acquire);
        // Once a generation was seen settled it stays so until the next change: no store lock.
        if self.settled_epoch.load(Ordering::Acquire) == epoch {
            return Some(epoch);
        }
        if store.highest_usn() > self.membership_dirty_usn.load(Ordering::Acquire) {
            self.settled_epoch.store(epoch, Ordering::Release);
            return Some(epoch);
        }
        None
    }

    /// The `memberOf` index of the current membership epoch, built from the groups' `member`
    /// values when memberships changed since the last build.
    fn member_of_index(&self, store: &Store) -> Arc<MemberOfIndex> {
        let generation = self.settled_generation(store);
        if let (Some(generation), Ok(current)) = (generation, self.member_of.read()) {
            if current.0 == generation {
                return Arc::clone(&current.1);
            }
        }
        let mut index: HashMap<String, Vec<Bytes>> = HashMap::new();
        for group in store.entries_with_members() {
            for member in group.attrs.values("member") {
                let Some(dn) = std::str::from_utf8(member)
                    .ok()
                    .and_then(|t| Dn::parse(t).ok())
                else {
                    continue;
                };
                index
                    .entry(dn.normalized().to_string())
                    .or_default()
                    .push(Bytes::from(group.dn.to_string()));
            }
        }
        let index = Arc::new(index);
        if let (Some(generation), Ok(mut current)) = (generation, self.member_of.write()) {
            *current = (generation, Arc::clone(&index));
        }
        index
    }

    /// The entry as reads see it: with `memberOf`, the back link AD maintains from the groups'
    /// `member` values. Searches and compares call this on each candidate before filtering and
    /// projecting; it returns the same entry when there is nothing to add.
    pub fn decorate(&self, ctx: &OpContext<'_>, entry: &Arc<Entry>) -> Arc<Entry> {
        let index = self.member_of_index(&ctx.store);
        match index.get(entry.dn.normalized()) {
            Some(groups) if !groups.is_empty() => {
                let mut decorated = (**entry).clone();
                decorated.attrs.set("memberOf", groups.clone());
                Arc::new(decorated)
            }
            _ => Arc::clone(entry),
        }
    }

    fn memberships_may_change(&self, store: &Store, entry: &Entry) {
        if entry.is_a("group") || entry.attrs.contains("member") {
            self.membership_dirty_usn
                .store(store.highest_usn(), Ordering::Release);
            self.membership_epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Entries the semantics layer adds to a new forest after the simulator's own shape: the
    /// schema NC's classSchema and attributeSchema entries.
    pub fn seed_entries(&self, names: &ForestNames) -> Vec<Entry> {
        match self.schema.schema_nc_entries(&names.schema_dn) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::error!(%error, "cannot name the schema NC entries");
                Vec::new()
            }
        }
    }

    /// Completes a seeded entry (the forest's default objects): its security descriptor from
    /// the class default and `parent`'s inheritable ACEs, created by the system (owner and
    /// group Domain Admins, as on a DC).
    pub fn complete_seed(&self, parent: Option<&Entry>, entry: &mut Entry) {
        // Attribute names in the schema's spelling (the forest builder writes RDN attributes
        // as the DN spells them: `CN`).
        let mut normalised = crate::store::entry::Attributes::new();
        for attribute in entry.attrs.iter() {
            let name = self.schema.canonical_attribute_name(&attribute.name);
            normalised.add_values(name, attribute.values.iter().cloned());
        }
        entry.attrs = normalised;
        if entry.attrs.contains(descriptor::ATTRIBUTE) {
            return;
        }
        let Some(class) = self.most_specific_class(entry).cloned() else {
            return;
        };
        let system = Token::new([Sid::LOCAL_SYSTEM, self.sids.domain_admins()]);
        let parent_sd = parent.and_then(descriptor::of_entry);
        // The configuration and schema NC heads get the descriptors a DC's provisioning writes
        // (their classes' defaults hold no inheritable ACEs); everything else its class default.
        let provisioned = match class.name.as_str() {
            "configuration" if parent.is_none() => Some(CONFIGURATION_NC_DESCRIPTOR),
            "dMD" if parent.is_none() => Some(SCHEMA_NC_DESCRIPTOR),
            _ => None,
        };
        let requested = provisioned
            .and_then(|sddl| SecurityDescriptor::from_sddl(sddl, &self.sids.sddl()).ok())
            .and_then(|sd| sd.to_bytes().ok());
        if let Ok(sd) = descriptor::for_new_entry(
            &class,
            requested.as_deref(),
            parent_sd.as_ref(),
            &self.sids,
            &system,
        ) {
            if let Ok(bytes) = sd.to_bytes() {
                entry
                    .attrs
                    .set(descriptor::ATTRIBUTE, vec![self.intern(bytes)]);
            }
        }
    }

    /// The most specific structural class among an entry's objectClass values.
    fn most_specific_class(&self, entry: &Entry) -> Option<&ClassDef> {
        entry
            .attrs
            .values("objectClass")
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|name| self.schema.class(name))
            .filter(|class| class.category == ClassCategory::Structural)
            .max_by_key(|class| self.schema.chain(class).len())
    }

    /// Step 1: whether to delay, fail or drop this request.
    pub fn fault(&self, ctx: &OpContext<'_>) -> FaultDecision {
        let faults = self.faults();
        if !faults.is_active() {
            return FaultDecision::Proceed;
        }
        faults.decide(ctx.operation.name(), ctx.target, 0)
    }

    /// The account a bind name refers to: a DN, `user@dns.name` (UPN or implicit UPN),
    /// `NETBIOS\user`, or a bare sAMAccountName. Only accounts with a password are considered.
    pub fn find_account(&self, store: &Store, name: &str) -> Option<Arc<Entry>> {
        let name = name.trim();
        if name.contains('=') {
            return Dn::parse(name).ok().and_then(|dn| store.get(&dn));
        }
        let accounts = store.accounts();
        if let Some((user, realm)) = name.split_once('@') {
            let by_upn = accounts
                .iter()
                .find(|a| a.attrs.has_value_ignore_case("userPrincipalName", name));
            if by_upn.is_some() {
                return by_upn.cloned();
            }
            if realm.eq_ignore_ascii_case(&self.dns_name) {
                return accounts
                    .into_iter()
                    .find(|a| a.attrs.has_value_ignore_case("sAMAccountName", user));
            }
            return None;
        }
        let user = match name.split_once('\\') {
            Some((domain, user))
                if domain.eq_ignore_ascii_case(&self.netbios_name)
                    || domain.eq_ignore_ascii_case(&self.dns_name) =>
            {
                user
            }
            Some(_) => return None,
            None => name,
        };
        accounts
            .into_iter()
            .find(|a| a.attrs.has_value_ignore_case("sAMAccountName", user))
    }

    /// A simple bind: checks `password` for the account `name` (a DN, `user@domain`,
    /// `DOMAIN\user` or a bare sAMAccountName) and returns the identity it binds as.
    pub fn authenticate(
        &self,
        ctx: &OpContext<'_>,
        name: &str,
        password: &[u8],
    ) -> Result<Identity, OpError> {
        let account = self
            .find_account(ctx.store, name)
            .ok_or_else(diag::invalid_credentials)?;
        let secret = ctx
            .store
            .secret(&account.dn)
            .ok_or_else(diag::invalid_credentials)?;
        if !secret.matches(password) {
            return Err(diag::invalid_credentials());
        }
        let control = account
            .attrs
            .first_str("userAccountControl")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        if control & i64::from(accounts::uac::ACCOUNT_DISABLE) != 0 {
            return Err(OpError::new(
                ResultCode::INVALID_CREDENTIALS,
                "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 533, v3839\n",
            ));
        }
        let sid = account
            .attrs
            .values("objectSid")
            .first()
            .and_then(|v| Sid::from_bytes(v).ok());
        Ok(Identity {
            dn: Some(account.dn.clone()),
            sid,
        })
    }

    /// Step 3 and 4 of an add: may the client create `new` below `parent`, and is the entry
    /// valid? Normalises `new` (attribute spelling, objectClass chain, objectCategory).
    pub fn check_add(
        &self,
        ctx: &OpContext<'_>,
        parent: &Entry,
        new: &mut Entry,
    ) -> Result<(), OpError> {
        // Every class named must exist at this level before anything else is decided.
        for name in text_values(new, "objectClass") {
            if self.schema.class(&name).is_none() {
                return Err(diag::unknown_attribute());
            }
        }
        let token = self.token(ctx.store, ctx.identity);
        if let Some(class) = self.most_specific_class(new) {
            access::check_create_child(&token, parent, class)?;
        }
        if new.attrs.contains(accounts::UNICODE_PWD) {
            if !ctx.tls {
                return Err(accounts::password_needs_protection());
            }
            for value in new.attrs.values(accounts::UNICODE_PWD) {
                accounts::decode_unicode_pwd(value)?;
            }
        }
        let store = &ctx.store;
        let exists = |dn: &Dn| store.get(dn).is_some();
        let context = self.directory_context(&exists);
        self.schema.check_add(&context, Some(parent), new)?;
        Ok(())
    }

    /// Step 5 of an add, after the simulator's generated attributes: the security descriptor,
    /// the account defaults of a security principal, and the password.
    pub fn complete_add(
        &self,
        ctx: &OpContext<'_>,
        parent: &Entry,
        new: &mut Entry,
    ) -> Result<(), OpError> {
        let class = self
            .most_specific_class(new)
            .ok_or_else(|| diag::object_class_violation(diag::class_win32::OBJ_CLASS_VIOLATION))?;
        let classes: Vec<String> = text_values(new, "objectClass");
        let class_names: Vec<&str> = classes.iter().map(String::as_str).collect();
        if let Some(rid) = new
            .attrs
            .values("objectSid")
            .first()
            .and_then(|v| Sid::from_bytes(v).ok())
            .and_then(|sid| sid.rid())
        {
            accounts::principal_defaults(new, &class_names, rid);
        }
        let token = self.token(ctx.store, ctx.identity);
        let requested = new.attrs.values(descriptor::ATTRIBUTE).first().cloned();
        let value = match requested {
            Some(requested) => self.new_descriptor(class, Some(&requested), parent, &token)?,
            None => {
                let (owner, group) = descriptor::default_owner_and_group(&token, &self.sids);
                let key = NewDescriptorKey {
                    class: class.guid,
                    parent: parent
                        .attrs
                        .values(descriptor::ATTRIBUTE)
                        .first()
                        .cloned()
                        .unwrap_or_default(),
                    owner,
                    group,
                };
                let cached = self
                    .new_descriptors
                    .lock()
                    .ok()
                    .and_then(|cache| cache.get(&key).cloned());
                match cached {
                    Some(value) => value,
                    None => {
                        let value = self.new_descriptor(class, None, parent, &token)?;
                        if let Ok(mut cache) = self.new_descriptors.lock() {
                            if cache.len() >= NEW_DESCRIPTORS_CAPACITY {
                                cache.clear();
                            }
                            cache.insert(key, value.clone());
                        }
                        value
                    }
                }
            }
        };
        new.attrs.set(descriptor::ATTRIBUTE, vec![value]);
        if let Some(password) = new.attrs.remove(accounts::UNICODE_PWD) {
            let value = password.values.first().ok_or_else(diag::invalid_syntax)?;
            let password = accounts::decode_unicode_pwd(value)?;
            // An add of an existing DN fails in the store right after this: never let it
            // overwrite the existing account's password.
            if ctx.store.get(&new.dn).is_none() {
                ctx.store.set_secret(&new.dn, Secret::new(password.into_inner()));
            }
        }
        self.memberships_may_change(&ctx.store, new);
        Ok(())
    }

    /// The encoded, interned descriptor of a new entry of `class` below `parent` (see
    /// [`descriptor::for_new_entry`]).
    fn new_descriptor(
        &self,
        class: &ClassDef,
        requested: Option<&[u8]>,
        parent: &Entry,
        token: &Token,
    ) -> Result<Bytes, OpError> {
        let parent_sd = descriptor::of_entry(parent);
        let sd =
            descriptor::for_new_entry(class, requested, parent_sd.as_ref(), &self.sids, token)?;
        let bytes = sd.to_bytes().map_err(|_| diag::invalid_syntax())?;
        Ok(self.intern(bytes))
    }

    /// Steps 3 and 4 of a modify, in AD's order: the access checks for everything `changes`
    /// names, then the content rules, which apply `changes` to `before`. Returns the entry to
    /// store (before the handler stamps `whenChanged`; the store sets `uSNChanged`).
    /// `nTSecurityDescriptor` is merged as the SD flags control selects, and a `unicodePwd`
    /// change sets the password instead of being stored.
    pub fn check_modify(
        &self,
        ctx: &OpContext<'_>,
        before: &Entry,
        changes: &[Modification],
    ) -> Result<Entry, OpError> {
        let token = self.token(ctx.store, ctx.identity);
        let store = &ctx.store;
        let mut written_attributes = Vec::new();
        let mut descriptor_change: Option<&Modification> = None;
        let mut password_change: Option<&Modification> = None;
        let mut regular = Vec::new();
        // Every attribute named must exist before anything is decided (access is granted per
        // attribute).
        for change in changes {
            let definition = self
                .schema
                .attribute(&change.attribute)
                .ok_or_else(diag::unknown_attribute)?;
            if definition.name == descriptor::ATTRIBUTE {
                descriptor_change = Some(change);
            } else if definition.name == accounts::UNICODE_PWD {
                password_change = Some(change);
            } else {
                if !written_attributes
                    .iter()
                    .any(|d: &&crate::schema::AttributeDef| d.name == definition.name)
                {
                    written_attributes.push(definition);
                }
                regular.push(change);
            }
        }
        access::check_write(&self.schema, &token, before, &written_attributes)?;
        let sd_flags = ctx
            .controls
            .sd_flags
            // Without the control AD writes all four parts; the simulator has no
            // SeSecurityPrivilege to grant the SACL's right, so it writes the other three.
            .unwrap_or(SecurityInformation::OWNER_GROUP_DACL);
        if descriptor_change.is_some() {
            access::check_write_descriptor(&token, before, sd_flags)?;
        }
        if password_change.is_some() {
            if !ctx.tls {
                return Err(accounts::password_needs_protection());
            }
            access::check_reset_password(&self.schema, &token, before)?;
        }
        let exists = |dn: &Dn| store.get(dn).is_some();
        let context = self.directory_context(&exists);
        let permissive = ctx.controls.permissive_modify;
        let mut result = if regular.is_empty() {
            before.clone()
        } else if regular.len() == changes.len() {
            self.schema
                .apply_modify(&context, before, changes, permissive)?
        } else {
            let regular: Vec<Modification> = regular.into_iter().cloned().collect();
            self.schema
                .apply_modify(&context, before, &regular, permissive)?
        };
        // The password is never stored, so there is nothing to delete or increment (AD's
        // change-password form, a delete of the old value and an add of the new, is not
        // implemented).
        if let Some(change) = password_change {
            if matches!(
                change.kind,
                ModificationKind::Delete | ModificationKind::Increment
            ) {
                let oid = self
                    .schema
                    .attribute(accounts::UNICODE_PWD)
                    .map_or("", |d| d.oid.as_str());
                return Err(diag::no_such_value(accounts::UNICODE_PWD, oid));
            }
        }
        if let Some(change) = descriptor_change {
            let value = match (change.kind, change.values.as_slice()) {
                (ModificationKind::Replace | ModificationKind::Add, [value]) => value,
                _ => return Err(diag::unwilling()),
            };
            let written =
                SecurityDescriptor::from_bytes(value).map_err(|_| diag::invalid_syntax())?;
            let current = descriptor::of_entry(before).unwrap_or_default();
            let parent_sd = before
                .dn
                .parent()
                .and_then(|p| store.get(&p))
                .and_then(|p| descriptor::of_entry(&p));
            let class_guid = self
                .most_specific_class(before)
                .map(|c| c.guid)
                .unwrap_or(devwb_model::Guid::NIL);
            let merged = descriptor::merge_write(
                &current,
                &written,
                sd_flags,
                parent_sd.as_ref(),
                &class_guid,
            );
            let bytes = merged.to_bytes().map_err(|_| diag::invalid_syntax())?;
            result
                .attrs
                .set(descriptor::ATTRIBUTE, vec![self.intern(bytes)]);
            self.propagate(store, &before.dn, &merged);
        }
        if let Some(change) = password_change {
            let value = change.values.last().ok_or_else(diag::invalid_syntax)?;
            let password = accounts::decode_unicode_pwd(value)?;
            store.set_secret(&before.dn, Secret::new(password.into_inner()));
            result.attrs.remove(accounts::UNICODE_PWD);
        }
        self.memberships_may_change(store, before);
        Ok(result)
    }

    /// Re-inherits the descriptors below `dn` after its descriptor became `sd` (AD's SD
    /// propagator, done synchronously).
    fn propagate(&self, store: &Store, dn: &Dn, sd: &SecurityDescriptor) {
        let mut parents: HashMap<String, SecurityDescriptor> = HashMap::new();
        parents.insert(dn.normalized().to_string(), sd.clone());
        for child in store.subtree(dn) {
            if child.dn == *dn {
                continue;
            }
            let Some(parent_dn) = child.dn.parent() else {
                continue;
            };
            let Some(parent_sd) = parents.get(parent_dn.normalized()).cloned() else {
                continue;
            };
            let Some(own) = descriptor::of_entry(&child) else {
                continue;
            };
            let class_guid = self
                .most_specific_class(&child)
                .map(|c| c.guid)
                .unwrap_or(devwb_model::Guid::NIL);
            let updated = descriptor::reinherit(&own, Some(&parent_sd), &class_guid);
            parents.insert(child.dn.normalized().to_string(), updated.clone());
            if updated == own {
                continue;
            }
            let Ok(bytes) = updated.to_bytes() else {
                continue;
            };
            let mut changed = (*child).clone();
            changed
                .attrs
                .set(descriptor::ATTRIBUTE, vec![self.intern(bytes)]);
            if let Err(error) = store.replace(&child, changed) {
                tracing::warn!(dn = %child.dn, %error, "security descriptor propagation skipped an entry changed meanwhile");
            }
        }
    }

    /// Step 3 of a delete (`tree` for a tree delete).
    pub fn check_delete(
        &self,
        ctx: &OpContext<'_>,
        entry: &Entry,
        parent: Option<&Entry>,
        tree: bool,
    ) -> Result<(), OpError> {
        let token = self.token(ctx.store, ctx.identity);
        if tree {
            access::check_delete_tree(&token, entry)?;
        } else {
            access::check_delete(&self.schema, &token, entry, parent)?;
        }
        self.memberships_may_change(&ctx.store, entry);
        Ok(())
    }

    /// Steps 3 and 4 of a modify DN: `renamed` is the entry with its new DN and RDN value.
    pub fn check_modify_dn(
        &self,
        ctx: &OpContext<'_>,
        entry: &Entry,
        new_parent: &Entry,
        renamed: &mut Entry,
    ) -> Result<(), OpError> {
        let token = self.token(ctx.store, ctx.identity);
        let store = &ctx.store;
        let class = self
            .most_specific_class(entry)
            .cloned()
            .ok_or_else(diag::unwilling)?;
        let mut written: Vec<&crate::schema::AttributeDef> = Vec::new();
        for name in ["name", class.rdn_attribute.as_str()] {
            if let Some(definition) = self.schema.attribute(name) {
                written.push(definition);
            }
        }
        access::check_write(&self.schema, &token, entry, &written)?;
        let old_parent = entry.dn.parent();
        let moved = old_parent.as_ref() != Some(&new_parent.dn);
        if moved {
            access::check_create_child(&token, new_parent, &class)?;
            let old_parent_entry = old_parent.and_then(|p| store.get(&p));
            access::check_delete(&self.schema, &token, entry, old_parent_entry.as_deref())?;
            let parent_classes = text_values(new_parent, "objectClass");
            if !self
                .schema
                .may_be_child_of(&class, parent_classes.iter().map(String::as_str))
            {
                return Err(diag::naming_violation(
                    diag::naming_win32::ILLEGAL_SUPERIOR,
                    &new_parent.dn.to_string(),
                ));
            }
        }
        if let Some(rdn) = renamed.dn.rdn() {
            if !rdn.attr().eq_ignore_ascii_case(&class.rdn_attribute) {
                return Err(diag::naming_violation(
                    diag::naming_win32::NAMING,
                    &new_parent.dn.to_string(),
                ));
            }
        }
        if moved {
            if let Some(own) = descriptor::of_entry(entry) {
                let updated = descriptor::reinherit(
                    &own,
                    descriptor::of_entry(new_parent).as_ref(),
                    &class.guid,
                );
                if let Ok(bytes) = updated.to_bytes() {
                    renamed
                        .attrs
                        .set(descriptor::ATTRIBUTE, vec![self.intern(bytes)]);
                }
            }
        }
        Ok(())
    }

    /// Whether a search may return `entry` at all: LIST_CONTENTS on its parent. Naming
    /// context heads and the rootDSE are always visible to a bound client; an anonymous one
    /// sees only the rootDSE.
    pub fn can_see(&self, ctx: &OpContext<'_>, entry: &Entry) -> bool {
        if entry.dn.is_root() {
            return true;
        }
        if ctx.identity.is_anonymous() {
            return false;
        }
        // Nothing changed in the store since a decision on this thread about the entry's
        // parent: the same answer, without looking the parent up. A search asks for its base
        // and then for each candidate, so a thread keeps a few parents' decisions.
        let usn = ctx.store.highest_usn();
        let generation = self.settled_generation(&ctx.store);
        let repeated = VISIBLE.with(|cache| {
            cache
                .borrow()
                .iter()
                .find(|last| {
                    Some(last.generation) == generation
                        && last.usn == usn
                        && last.identity.as_ref() == ctx.identity.dn.as_ref()
                        && entry.dn.depth() == last.parent.depth() + 1
                        && entry.dn.is_descendant_of(&last.parent)
                })
                .map(|last| last.visible)
        });
        if let Some(visible) = repeated {
            return visible;
        }
        let Some(parent) = entry
            .dn
            .parent()
            .filter(|p| !p.is_root())
            .and_then(|p| ctx.store.get(&p))
        else {
            return true;
        };
        // The store changed since: the decision holds while the parent's descriptor is the
        // same (descriptors are interned, so this compares addresses).
        let sd = parent.attrs.values(descriptor::ATTRIBUTE).first();
        VISIBLE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(generation) = generation {
                if let Some(last) = cache.iter_mut().find(|last| {
                    last.generation == generation
                        && last.identity.as_ref() == ctx.identity.dn.as_ref()
                        && last.parent == parent.dn
                        && sd.is_some_and(|sd| same_bytes(&last.descriptor, sd))
                }) {
                    last.usn = usn;
                    return last.visible;
                }
            }
            let token = self.token(ctx.store, ctx.identity);
            let visible = access::can_list_children(&token, &parent);
            if let Some(generation) = generation {
                if cache.len() >= VISIBLE_SLOTS {
                    cache.remove(0);
                }
                cache.push(VisibleSlot {
                    identity: ctx.identity.dn.clone(),
                    generation,
                    usn,
                    parent: parent.dn.clone(),
                    descriptor: sd.cloned().unwrap_or_default(),
                    visible,
                });
            }
            visible
        })
    }

    /// Whether a search or compare may read `attribute` of `entry` (also in filters).
    pub fn can_read(&self, ctx: &OpContext<'_>, entry: &Entry, attribute: &str) -> bool {
        if entry.dn.is_root() {
            return true;
        }
        if ctx.identity.is_anonymous() {
            return false;
        }
        let generation = self.settled_generation(&ctx.store);
        let classes = entry.attrs.values("objectClass");
        let descriptor_value = entry.attrs.values(descriptor::ATTRIBUTE).first();
        let sid_value = entry.attrs.values("objectSid").first();
        // The last decision, compared without allocating: a search evaluates many entries
        // with the same descriptor and classes in a row.
        let last = LAST_READ.with(|slot| {
            let slot = slot.borrow();
            let last = slot.as_ref()?;
            (Some(last.generation) == generation
                && last.identity.as_ref() == ctx.identity.dn.as_ref()
                && last.classes.as_slice() == classes
                && match (last.descriptor.as_ref(), descriptor_value) {
                    (Some(a), Some(b)) => same_bytes(a, b),
                    (None, None) => true,
                    _ => false,
                }
                && last.sid.as_ref() == sid_value)
                .then(|| Arc::clone(&last.rights))
        });
        if let Some(rights) = last {
            if let Some(allowed) = rights.allows(&self.schema, attribute) {
                return allowed;
            }
        }
        let class = self.most_specific_class(entry);
        let first = |name: &str| {
            entry
                .attrs
                .values(name)
                .first()
                .cloned()
                .unwrap_or_default()
        };
        let compute = || {
            let token = self.token(ctx.store, ctx.identity);
            let sd = descriptor::of_entry(entry);
            let principal_self = access::principal_sid(entry);
            Arc::new(access::ReadRights::compute(
                &self.schema,
                &token,
                sd.as_ref(),
                class,
                principal_self.as_ref(),
                entry.attrs.iter().map(|a| a.name.as_str()),
            ))
        };
        // While a membership change is on its way into the store, nothing is cached.
        let rights = match self.settled_generation(&ctx.store) {
            None => compute(),
            Some(generation) => {
                let key: RightsKey = (
                    ctx.identity
                        .dn
                        .as_ref()
                        .map(|dn| dn.normalized().to_string())
                        .unwrap_or_default(),
                    generation,
                    class.map(|c| c.name.clone()).unwrap_or_default(),
                    first(descriptor::ATTRIBUTE),
                    first("objectSid"),
                );
                READ_RIGHTS.with(|cache| {
                    let mut cache = cache.borrow_mut();
                    if let Some(rights) = cache.get(&key) {
                        return Arc::clone(rights);
                    }
                    if cache.len() >= READ_RIGHTS_CAPACITY {
                        cache.clear();
                    }
                    let rights = compute();
                    cache.insert(key, Arc::clone(&rights));
                    rights
                })
            }
        };
        if let Some(generation) = generation {
            LAST_READ.with(|slot| {
                *slot.borrow_mut() = Some(ReadSlot {
                    identity: ctx.identity.dn.clone(),
                    generation,
                    classes: classes.to_vec(),
                    descriptor: descriptor_value.cloned(),
                    sid: sid_value.cloned(),
                    rights: Arc::clone(&rights),
                });
            });
        }
        match rights.allows(&self.schema, attribute) {
            Some(allowed) => allowed,
            None => {
                let token = self.token(ctx.store, ctx.identity);
                access::readable_attributes(&self.schema, &token, entry)
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(attribute))
            }
        }
    }

    /// How `attribute`'s values compare: by its schema syntax.
    pub fn matching(&self, attribute: &str) -> Matching {
        let is = |list: &[&str]| list.iter().any(|a| a.eq_ignore_ascii_case(attribute));
        if let Some(definition) = self.schema.attribute(attribute) {
            return match definition.syntax {
                Syntax::Boolean => Matching::Boolean,
                Syntax::Integer | Syntax::LargeInteger => Matching::Integer,
                Syntax::OctetString | Syntax::Sid | Syntax::SecurityDescriptor => {
                    Matching::OctetString
                }
                Syntax::Dn => Matching::DistinguishedName,
                Syntax::Time { .. } => Matching::GeneralizedTime,
                _ => Matching::CaseIgnoreString,
            };
        }
        if is(NON_SCHEMA_INTEGERS) {
            Matching::Integer
        } else if is(NON_SCHEMA_TIMES) {
            Matching::GeneralizedTime
        } else if is(NON_SCHEMA_BOOLEANS) {
            Matching::Boolean
        } else if is(NON_SCHEMA_DNS) {
            Matching::DistinguishedName
        } else {
            Matching::CaseIgnoreString
        }
    }

    /// Whether `attribute` holds binary values (shown base64 in LDIF, never as text).
    pub fn is_binary(&self, attribute: &str) -> bool {
        self.matching(attribute) == Matching::OctetString
    }

    /// The `objectCategory` DN of a new entry of structural class `class`: the DN of its
    /// `defaultObjectCategory` (for `user`, `CN=Person`).
    pub fn object_category(&self, class: &str) -> Dn {
        let cn = self
            .schema
            .class(class)
            .map_or(class, |c| c.default_object_category.as_str());
        match devwb_model::Rdn::new("CN", cn) {
            Ok(rdn) => self.schema_dn.child(rdn),
            Err(_) => self.schema_dn.clone(),
        }
    }

    /// A filter's short `objectCategory` value (`msDS-Device`) as the DN it stands for.
    pub fn expand_object_category(&self, short_name: &str) -> Bytes {
        match self
            .schema
            .object_category_for_filter(short_name, &self.schema_dn)
        {
            Some(dn) => Bytes::from(dn),
            None => Bytes::from(self.object_category(short_name).to_string()),
        }
    }
}

/// Who reads objects of which class under which descriptor (and which objectSid, for
/// PRINCIPAL SELF ACEs): the key of the read-rights cache.
type RightsKey = (String, u64, String, Bytes, Bytes);

/// Normalised member DN -> the DNs of the groups that list it.
type MemberOfIndex = HashMap<String, Vec<Bytes>>;

/// A LIST_CONTENTS decision of a thread.
struct VisibleSlot {
    identity: Option<Dn>,
    generation: u64,
    usn: u64,
    parent: Dn,
    descriptor: Bytes,
    visible: bool,
}

/// The last read-rights decision of a thread, with what it was decided for.
struct ReadSlot {
    identity: Option<Dn>,
    generation: u64,
    classes: Vec<Bytes>,
    descriptor: Option<Bytes>,
    sid: Option<Bytes>,
    rights: Arc<access::ReadRights>,
}

/// The first membership generation of the next forest built in this process.
static NEXT_FOREST: AtomicU64 = AtomicU64::new(0);

/// Distinct descriptor values kept shared before the table starts over.
const INTERNED_CAPACITY: usize = 4096;

/// What the descriptor of a new entry without a requested descriptor depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct NewDescriptorKey {
    class: devwb_model::Guid,
    /// The parent's descriptor bytes (interned, so most comparisons are by address).
    parent: Bytes,
    owner: Sid,
    group: Sid,
}

type NewDescriptorCache = HashMap<NewDescriptorKey, Bytes, rustc_hash::FxBuildHasher>;

/// How many new-entry descriptors are kept (distinct classes times parents times creators).
const NEW_DESCRIPTORS_CAPACITY: usize = 1024;

/// Byte equality that first compares addresses (interned descriptors share one allocation).
fn same_bytes(a: &Bytes, b: &Bytes) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// LIST_CONTENTS decisions kept per thread (the oldest goes first).
const VISIBLE_SLOTS: usize = 8;

/// Read-rights decisions kept per thread before the cache starts over.
const READ_RIGHTS_CAPACITY: usize = 1024;

thread_local! {
    /// The latest LIST_CONTENTS decisions on this thread, oldest first.
    static VISIBLE: std::cell::RefCell<Vec<VisibleSlot>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The last read-rights decision on this thread.
    static LAST_READ: std::cell::RefCell<Option<ReadSlot>> = const { std::cell::RefCell::new(None) };
    /// Read rights per descriptor: a search asks `can_read` for every candidate and attribute.
    static READ_RIGHTS: std::cell::RefCell<HashMap<RightsKey, Arc<access::ReadRights>>> =
        std::cell::RefCell::new(HashMap::new());
}
