//! The check and complete steps of each operation, in the order the handler calls them:
//! faults (step 1), then, after the handler resolved the entries, the access checks (step 3),
//! the content rules and normalisation (step 4) and what the directory completes on a new or
//! changed entry (step 5: its security descriptor, a principal's account defaults, the
//! password, descriptors re-inherited below a changed one). Binds, the seeded entries of a new
//! forest and the bind-name lookup are here too.
//!
//! Access always comes before the content rules, as in AD: a caller without the right to write
//! learns nothing from a content error.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use devwb_model::sd::{SecurityDescriptor, SecurityInformation, Token};
use devwb_model::{Dn, Sid};

use super::Semantics;
use crate::error::{OpError, ResultCode};
use crate::names::ForestNames;
use crate::request::{FaultDecision, Identity, Modification, ModificationKind, OpContext};
use crate::schema::rules::DirectoryContext;
use crate::schema::{diag, ClassDef};
use crate::security::{access, accounts, descriptor};
use crate::store::{Entry, Secret, Store};

/// The configuration NC head's descriptor as a DC's provisioning writes it (after Samba's
/// `get_config_descriptor`, reduced to the ACEs that grant or deny directory access):
/// Authenticated Users read everything below, Enterprise Admins and SYSTEM hold full control
/// below, Domain Admins write the head.
const CONFIGURATION_NC_DESCRIPTOR: &str = "O:EAG:EAD:AI(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCLCLORCWOWDSW;;;DA)";

/// The schema NC head's descriptor as a DC's provisioning writes it (after Samba's
/// `get_schema_descriptor`): Authenticated Users read, Schema Admins write, SYSTEM full control.
const SCHEMA_NC_DESCRIPTOR: &str = "O:SAG:SAD:AI(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCLCLORCWOWDSW;;;SA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)";

impl Semantics {
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
            let name = self.schema.canonical_attribute_name(attribute.name);
            normalised.add_values(name, attribute.values.to_vec());
        }
        entry.attrs = normalised;
        if entry.attrs.contains(descriptor::ATTRIBUTE) {
            return;
        }
        let Some(class) = self.most_specific_class(entry).cloned() else {
            return;
        };
        let sids = self.sids_for(&entry.dn);
        let system = Token::new([Sid::LOCAL_SYSTEM, sids.domain_admins()]);
        let parent_sd = parent.and_then(descriptor::of_entry);
        // The configuration and schema NC heads get the descriptors a DC's provisioning writes
        // (their classes' defaults hold no inheritable ACEs); everything else its class default.
        let provisioned = match class.name.as_str() {
            "configuration" if parent.is_none() => Some(CONFIGURATION_NC_DESCRIPTOR),
            "dMD" if parent.is_none() => Some(SCHEMA_NC_DESCRIPTOR),
            _ => None,
        };
        let requested = provisioned
            .and_then(|sddl| SecurityDescriptor::from_sddl(sddl, &sids.sddl()).ok())
            .and_then(|sd| sd.to_bytes().ok());
        if let Ok(sd) = descriptor::for_new_entry(
            &class,
            requested.as_deref(),
            parent_sd.as_ref(),
            &sids,
            &system,
        ) {
            if let Ok(bytes) = sd.to_bytes() {
                entry
                    .attrs
                    .set(descriptor::ATTRIBUTE, vec![self.intern(bytes)]);
            }
        }
    }

    /// Step 1: whether to delay, fail or drop this request.
    pub fn fault(&self, ctx: &OpContext<'_>) -> FaultDecision {
        let faults = self.faults();
        if !faults.is_active() {
            return FaultDecision::Proceed;
        }
        faults.decide(ctx.operation.name(), ctx.target, 0)
    }

    /// The account a bind name refers to: a DN, `user@dns.name` (UPN, or implicit UPN in any
    /// domain of the forest), `DOMAIN\user` (NetBIOS or DNS name of any domain), or a bare
    /// sAMAccountName (the forest root domain's account first, then the other domains' in
    /// their order). Only accounts with a password are considered.
    pub fn find_account(&self, store: &Store, name: &str) -> Option<Arc<Entry>> {
        let name = name.trim();
        if name.contains('=') {
            return Dn::parse(name).ok().and_then(|dn| store.get(&dn));
        }
        let accounts = store.accounts();
        let in_domain = |account: &Entry, domain: &crate::names::DomainNames| {
            self.names
                .domain_of(&account.dn)
                .is_some_and(|d| d.domain_dn == domain.domain_dn)
        };
        let by_sam_in = |user: &str, domain: &crate::names::DomainNames| {
            accounts
                .iter()
                .find(|a| {
                    a.attrs.has_value_ignore_case("sAMAccountName", user) && in_domain(a, domain)
                })
                .cloned()
        };
        if let Some((user, realm)) = name.split_once('@') {
            let by_upn = accounts
                .iter()
                .find(|a| a.attrs.has_value_ignore_case("userPrincipalName", name));
            if by_upn.is_some() {
                return by_upn.cloned();
            }
            let domain = self
                .names
                .domains
                .iter()
                .find(|d| d.dns_name.eq_ignore_ascii_case(realm.trim_end_matches('.')))?;
            return by_sam_in(user, domain);
        }
        if let Some((domain, user)) = name.split_once('\\') {
            let domain = self.names.domain_named(domain)?;
            return by_sam_in(user, domain);
        }
        if self.names.domains.len() > 1 {
            return self
                .names
                .domains
                .iter()
                .find_map(|domain| by_sam_in(name, domain));
        }
        accounts
            .into_iter()
            .find(|a| a.attrs.has_value_ignore_case("sAMAccountName", name))
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
        let store = ctx.store;
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
        let requested = new.attrs.values(descriptor::ATTRIBUTE).first_bytes();
        let value = match requested {
            Some(requested) => {
                self.new_descriptor(class, Some(&requested), parent, &new.dn, &token)?
            }
            None => {
                // The key needs no domain of its own: the group is the new entry's domain's
                // Domain Users or Domain Admins, so two domains never share a key.
                let (owner, group) =
                    descriptor::default_owner_and_group(&token, &self.sids_for(&new.dn));
                let key = NewDescriptorKey {
                    class: class.guid,
                    parent: parent
                        .attrs
                        .values(descriptor::ATTRIBUTE)
                        .first_bytes()
                        .unwrap_or_default(),
                    owner,
                    group,
                };
                let cached = self
                    .new_descriptors
                    .get(&key)
                    .map(|value| value.value().clone());
                match cached {
                    Some(value) => value,
                    None => {
                        let value = self.new_descriptor(class, None, parent, &new.dn, &token)?;
                        if self.new_descriptors.len() >= NEW_DESCRIPTORS_CAPACITY {
                            self.new_descriptors.clear();
                        }
                        self.new_descriptors.insert(key, value.clone());
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
                ctx.store
                    .set_secret(&new.dn, Secret::new(password.into_inner()));
            }
        }
        self.memberships_may_change(ctx.store, new);
        Ok(())
    }

    /// The encoded, interned descriptor of a new entry of `class` below `parent` (see
    /// [`descriptor::for_new_entry`]).
    fn new_descriptor(
        &self,
        class: &ClassDef,
        requested: Option<&[u8]>,
        parent: &Entry,
        dn: &Dn,
        token: &Token,
    ) -> Result<Bytes, OpError> {
        let parent_sd = descriptor::of_entry(parent);
        let sids = self.sids_for(dn);
        let sd = descriptor::for_new_entry(class, requested, parent_sd.as_ref(), &sids, token)?;
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
        let store = ctx.store;
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
        self.memberships_may_change(ctx.store, entry);
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
        let store = ctx.store;
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

    fn directory_context<'a>(&'a self, exists: &'a dyn Fn(&Dn) -> bool) -> DirectoryContext<'a> {
        DirectoryContext {
            schema_nc: &self.schema_dn,
            exists,
        }
    }
}

/// What the descriptor of a new entry without a requested descriptor depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct NewDescriptorKey {
    class: devwb_model::Guid,
    /// The parent's descriptor bytes (interned, so most comparisons are by address).
    parent: Bytes,
    owner: Sid,
    group: Sid,
}

pub(super) type NewDescriptorCache = DashMap<NewDescriptorKey, Bytes, rustc_hash::FxBuildHasher>;

/// How many new-entry descriptors are kept (distinct classes times parents times creators).
const NEW_DESCRIPTORS_CAPACITY: usize = 1024;

fn text_values(entry: &Entry, attribute: &str) -> Vec<String> {
    entry
        .attrs
        .values(attribute)
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok().map(str::to_string))
        .collect()
}
