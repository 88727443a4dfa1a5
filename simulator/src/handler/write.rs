//! The write operations: add, modify (add/delete/replace/increment, permissive modify),
//! delete (and tree delete) and modify DN (rename and move).

use bytes::Bytes;
use devwb_model::Dn;
use rasn_ldap::{AddRequest, ChangeOperation, ModifyDnRequest, ModifyRequest};

use super::{operations_error_unbound, Handler, Session};
use crate::error::{OpError, ResultCode};
use crate::request::{Modification, ModificationKind, Operation, RequestControls};
use crate::schema::rules::GENERATED;
use crate::schema::values::IndexedValues;
use crate::schema::Syntax;
use crate::store::Entry;

fn constraint(attribute: &str, problem: &str) -> OpError {
    OpError::new(
        ResultCode::CONSTRAINT_VIOLATION,
        format!("000020B1: AtrErr: DSID-030F0DE9, #1:\n\t0: 000020B1: DSID-030F0DE9, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 0 ({attribute}): {problem}\n"),
    )
}

fn value_exists(attribute: &str) -> OpError {
    OpError::new(
        ResultCode::ATTRIBUTE_OR_VALUE_EXISTS,
        format!("00002083: AtrErr: DSID-03151F8C, #1:\n\t0: 00002083: DSID-03151F8C, problem 1006 (ATT_OR_VALUE_EXISTS), data 0, Att 0 ({attribute})\n"),
    )
}

impl Handler {
    fn same_value(&self, attribute: &str, a: &[u8], b: &[u8]) -> bool {
        let matching = self.forest.semantics.matching(attribute);
        crate::filter::equal(matching, a, b).unwrap_or(a == b)
    }

    /// The syntax `attribute`'s values compare under (text for attributes the schema does not
    /// know: the content rules refuse those afterwards).
    fn syntax(&self, attribute: &str) -> Syntax {
        self.forest
            .semantics
            .schema()
            .attribute(attribute)
            .map_or(Syntax::Unicode, |definition| definition.syntax)
    }

    /// AD's limit on the values of non-linked multi-valued attributes one entry holds (its
    /// database record has a fixed size; AD answers `adminLimitExceeded` with JET's
    /// record-too-big error). Checked on the entry as it would be stored, and only when the
    /// write adds values, so an entry seeded beyond the limit can still be changed otherwise.
    fn check_nonlinked_values(&self, before: Option<&Entry>, after: &Entry) -> Result<(), OpError> {
        let Some(limit) = self.config.max_nonlinked_values else {
            return Ok(());
        };
        let schema = self.forest.semantics.schema();
        let count = |entry: &Entry| -> usize {
            entry
                .attrs
                .iter()
                .filter(|attribute| {
                    schema.attribute(attribute.name).is_some_and(|definition| {
                        !definition.single_valued && definition.link_id.is_none()
                    })
                })
                .map(|attribute| attribute.values.len())
                .sum()
        };
        let now = count(after);
        if now > limit && before.is_none_or(|before| now > count(before)) {
            return Err(OpError::new(
                ResultCode::ADMIN_LIMIT_EXCEEDED,
                format!("00002024: SvcErr: DSID-02050BBD, problem 5008 (ADMIN_LIMIT_EXCEEDED), data -1026, {now} values of non-linked multi-valued attributes exceed the limit of {limit} per entry\n"),
            ));
        }
        Ok(())
    }

    fn require_bound(session: &Session) -> Result<(), OpError> {
        if session.identity.is_anonymous() {
            return Err(operations_error_unbound());
        }
        Ok(())
    }

    pub(super) fn add(
        &self,
        session: &Session,
        controls: &RequestControls,
        request: &AddRequest,
    ) -> Result<(), OpError> {
        Self::require_bound(session)?;
        let dn =
            Dn::parse(&request.entry).map_err(|e| OpError::invalid_dn(&request.entry, e.kind))?;
        self.require_held(session, &dn)?;
        let mut entry = Entry::new(dn.clone());
        for attribute in &request.attributes {
            let name = attribute.r#type.as_str();
            if attribute.vals.is_empty() {
                return Err(constraint(
                    name,
                    "an attribute in an add request needs at least one value",
                ));
            }
            if GENERATED.iter().any(|g| g.eq_ignore_ascii_case(name))
                && !name.eq_ignore_ascii_case("name")
            {
                return Err(constraint(name, "the directory generates this attribute"));
            }
            let mut kept = IndexedValues::new(self.syntax(name), entry.attrs.values(name).to_vec());
            for value in attribute.vals.iter() {
                if kept.contains(value) {
                    return Err(value_exists(name));
                }
                kept.push(Bytes::copy_from_slice(value));
            }
            entry.attrs.set(name, kept.into_values());
        }
        if !entry.attrs.contains("objectClass") {
            return Err(OpError::new(
                ResultCode::OBJECT_CLASS_VIOLATION,
                "00002014: objectclass: DSID-03150B5F, problem 2004 (OBJ_CLASS_VIOLATION), data 0, no objectClass given\n",
            ));
        }
        let parent_dn = dn.parent().unwrap_or_else(Dn::root);
        let store = &self.forest.store;
        let parent = store.get(&parent_dn).ok_or_else(|| {
            store
                .no_such_object(&parent_dn)
                .with_matched(store.matched(&dn).unwrap_or_else(Dn::root))
        })?;
        let ctx = self.context(session, controls, Operation::Add, &dn);
        let semantics = &self.forest.semantics;
        semantics.check_add(&ctx, &parent, &mut entry)?;
        self.check_nonlinked_values(None, &entry)?;
        self.forest.stamp_new(&mut entry);
        semantics.complete_add(&ctx, &parent, &mut entry)?;
        store.add(entry)?;
        Ok(())
    }

    pub(super) fn modify(
        &self,
        session: &Session,
        controls: &RequestControls,
        request: &ModifyRequest,
    ) -> Result<(), OpError> {
        Self::require_bound(session)?;
        let dn = self.resolve_dn(&request.object)?;
        self.require_held(session, &dn)?;
        let changes: Vec<Modification> = request
            .changes
            .iter()
            .map(|change| Modification {
                kind: match change.operation {
                    ChangeOperation::Add => ModificationKind::Add,
                    ChangeOperation::Delete => ModificationKind::Delete,
                    ChangeOperation::Replace => ModificationKind::Replace,
                },
                attribute: change.modification.r#type.to_string(),
                values: change
                    .modification
                    .vals
                    .iter()
                    .map(|v| Bytes::copy_from_slice(v))
                    .collect(),
            })
            .collect();
        self.modify_entry(session, controls, &dn, &changes)
    }

    /// Applies `changes` to `dn` through the whole request path. Also used for RFC 4525
    /// increments, which arrive as modifications with the increment kind.
    pub fn modify_entry(
        &self,
        session: &Session,
        controls: &RequestControls,
        dn: &Dn,
        changes: &[Modification],
    ) -> Result<(), OpError> {
        let store = &self.forest.store;
        let ctx = self.context(session, controls, Operation::Modify, dn);
        // Optimistic concurrency: a change computed from an entry that another connection
        // changed meanwhile is computed again from the new entry.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = store.require(dn)?;
            if !self.forest.semantics.can_see(&ctx, &before) {
                return Err(store.no_such_object(dn));
            }
            let mut after = self.forest.semantics.check_modify(&ctx, &before, changes)?;
            self.check_nonlinked_values(Some(&before), &after)?;
            self.forest.stamp_changed(&mut after);
            if after.is_a("user")
                && changes
                    .iter()
                    .any(|change| change.attribute.eq_ignore_ascii_case("unicodePwd"))
            {
                self.forest.stamp_password_set(&mut after);
            }
            match store.replace(&before, after) {
                Err(error) if error.code == ResultCode::BUSY && attempts < 8 => continue,
                other => return other.map(|_| ()),
            }
        }
    }

    pub(super) fn delete(
        &self,
        session: &Session,
        controls: &RequestControls,
        target: &str,
    ) -> Result<(), OpError> {
        Self::require_bound(session)?;
        let dn = self.resolve_dn(target)?;
        self.require_held(session, &dn)?;
        let store = &self.forest.store;
        let entry = store.require(&dn)?;
        let parent = dn.parent().and_then(|p| store.get(&p));
        let ctx = self.context(session, controls, Operation::Delete, &dn);
        if !self.forest.semantics.can_see(&ctx, &entry) {
            return Err(store.no_such_object(&dn));
        }
        if store.naming_contexts().iter().any(|nc| nc.dn == dn) {
            return Err(OpError::unwilling("00002035: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0, a naming context head cannot be deleted\n"));
        }
        self.forest.semantics.check_delete(
            &ctx,
            &entry,
            parent.as_deref(),
            controls.tree_delete,
        )?;
        store.delete(&dn, controls.tree_delete)?;
        Ok(())
    }

    pub(super) fn modify_dn(
        &self,
        session: &Session,
        controls: &RequestControls,
        request: &ModifyDnRequest,
    ) -> Result<(), OpError> {
        Self::require_bound(session)?;
        let dn = self.resolve_dn(&request.entry)?;
        self.require_held(session, &dn)?;
        let store = &self.forest.store;
        let entry = store.require(&dn)?;
        let new_rdn_dn = Dn::parse(&request.new_rdn)
            .map_err(|e| OpError::invalid_dn(&request.new_rdn, e.kind))?;
        let (Some(new_rdn), 1) = (new_rdn_dn.rdn().cloned(), new_rdn_dn.depth()) else {
            return Err(OpError::invalid_dn(
                &request.new_rdn,
                "the new RDN must be exactly one RDN",
            ));
        };
        let new_parent_dn = match &request.new_superior {
            Some(superior) => self.resolve_dn(superior)?,
            None => dn.parent().unwrap_or_else(Dn::root),
        };
        if !self.holds_dn(&new_parent_dn) {
            // A move into another domain is AD's cross-domain move, which needs the
            // cross-domain move control and a DC of each domain: not an LDAP rename.
            return Err(OpError::new(
                ResultCode::AFFECTS_MULTIPLE_DSAS,
                "00002091: UpdErr: DSID-030A0B4C, problem 5012 (DIR_ERROR), data 0, a move to another domain needs the cross-domain move control\n",
            ));
        }
        let new_parent = store.require(&new_parent_dn)?;
        let new_dn = new_parent_dn.child(new_rdn.clone());
        let mut renamed = (*entry).clone();
        renamed.dn = new_dn.clone();
        // The RDN attribute keeps its stored spelling (`cn`, not the `CN` of the DN text).
        let spelling = |entry: &Entry, attr: &str| {
            entry
                .attrs
                .get(attr)
                .map_or_else(|| attr.to_string(), |a| a.name.to_string())
        };
        if let Some(old_rdn) = dn.rdn() {
            if request.delete_old_rdn || old_rdn.attr().eq_ignore_ascii_case(new_rdn.attr()) {
                let name = spelling(&renamed, old_rdn.attr());
                let kept: Vec<Bytes> = renamed
                    .attrs
                    .values(&name)
                    .iter()
                    .filter(|v| !self.same_value(&name, v, old_rdn.value().as_bytes()))
                    .map(Bytes::copy_from_slice)
                    .collect();
                if kept.is_empty() && old_rdn.attr().eq_ignore_ascii_case(new_rdn.attr()) {
                    // Replaced in place below, so the attribute keeps its position and name.
                    renamed.attrs.set(
                        &name,
                        vec![Bytes::copy_from_slice(new_rdn.value().as_bytes())],
                    );
                } else {
                    renamed.attrs.set(&name, kept);
                }
            }
        }
        let new_value = Bytes::copy_from_slice(new_rdn.value().as_bytes());
        let name = spelling(&renamed, new_rdn.attr());
        if !renamed
            .attrs
            .values(&name)
            .iter()
            .any(|v| self.same_value(&name, v, &new_value))
        {
            renamed.attrs.add_values(&name, [new_value]);
        }
        renamed.attrs.set_str("name", new_rdn.value());
        let ctx = self.context(session, controls, Operation::ModifyDn, &dn);
        if !self.forest.semantics.can_see(&ctx, &entry) {
            return Err(store.no_such_object(&dn));
        }
        self.forest
            .semantics
            .check_modify_dn(&ctx, &entry, &new_parent, &mut renamed)?;
        self.forest.stamp_changed(&mut renamed);
        store.rename(&dn, renamed)?;
        Ok(())
    }
}
