//! Search: scopes, filters, the projection of each entry (the attribute selection of
//! [`super::selection`], value ranges, SD flags, access, the global catalog's partial attribute
//! set), size and time limits, AD's MaxPageSize, paged results, continuation references to
//! other naming contexts, and the rootDSE.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use devwb_model::Dn;
use rasn_ldap::{SearchRequest, SearchRequestScope};

use super::controls::{paged_response_value, PAGED_RESULTS, SUPPORTED};
use super::selection::{constructed, value_window, ConstructedContext, Selection, ValueRange};
use super::{operations_error_unbound, DcRole, Handler, PageState, Session};
use crate::codec::{Outcome, Response, ResponseControl, ResponseOp, SearchEntry};
use crate::error::{OpError, ResultCode};
use crate::filter::{Filter, IndexedLookup};
use crate::request::{OpContext, Operation, RequestControls};
use crate::semantics::ReadAccess;
use crate::store::{Entry, Values};

impl Handler {
    /// The values of one attribute to send, after SD flags and value ranges; `None` when the
    /// range leaves no value (see [`value_window`]).
    fn shaped_values(
        &self,
        name: &str,
        values: Values<'_>,
        range: Option<ValueRange>,
        controls: &RequestControls,
    ) -> Option<(String, Vec<Bytes>)> {
        let (window, shown_range) = value_window(values.len(), range, self.config.max_value_range)?;
        let mut values: Vec<Bytes> = values.slice(window).to_vec();
        if name.eq_ignore_ascii_case("nTSecurityDescriptor") {
            if let Some(parts) = controls.sd_flags {
                values = values
                    .iter()
                    .map(|sd| crate::security::descriptor::for_read(sd, parts))
                    .collect();
            }
        }
        let name = match shown_range {
            Some(shown) => format!("{name};range={shown}"),
            None => name.to_string(),
        };
        Some((name, values))
    }

    /// The entry as the search returns it (see [`super::selection`] for what is selected).
    fn project(
        &self,
        ctx: &OpContext<'_>,
        entry: &Entry,
        access: &ReadAccess<'_>,
        selection: &Selection,
        types_only: bool,
    ) -> SearchEntry {
        let semantics = &self.forest.semantics;
        let mut attributes: Vec<(String, Vec<Bytes>)> = Vec::new();
        let push =
            |attributes: &mut Vec<(String, Vec<Bytes>)>, name: String, values: Vec<Bytes>| {
                attributes.push((name, if types_only { Vec::new() } else { values }));
            };
        if selection.all_user {
            for attribute in entry.attrs.iter() {
                let is_sd = attribute.name.eq_ignore_ascii_case("nTSecurityDescriptor");
                if is_sd
                    && ctx.controls.sd_flags.is_none()
                    && !selection.names_attribute(attribute.name)
                {
                    continue;
                }
                if selection.names_ranged(attribute.name) {
                    continue; // the ranged request below returns it
                }
                if !access.allows(attribute.name) {
                    continue;
                }
                if let Some((name, values)) =
                    self.shaped_values(attribute.name, attribute.values, None, ctx.controls)
                {
                    push(&mut attributes, name, values);
                }
            }
        }
        let subschema = self.subschema_dn();
        let token_groups = || semantics.token_groups(ctx.store, entry);
        let parent = || entry.dn.parent().and_then(|dn| self.forest.store.get(&dn));
        let context = ConstructedContext {
            schema: semantics.schema(),
            subschema: &subschema,
            parent: &parent,
            token_groups: &token_groups,
        };
        for requested in &selection.names {
            let returned = attributes.iter().any(|(name, _)| {
                let base = name.split(';').next().unwrap_or_default();
                base.eq_ignore_ascii_case(&requested.name)
            });
            if returned {
                continue;
            }
            match entry.attrs.get(&requested.name) {
                Some(stored) => {
                    if !access.allows(&requested.name) {
                        continue;
                    }
                    if let Some((name, values)) = self.shaped_values(
                        stored.name,
                        stored.values,
                        requested.range,
                        ctx.controls,
                    ) {
                        push(&mut attributes, name, values);
                    }
                }
                None => {
                    let Some(values) = constructed(entry, &requested.name, &context) else {
                        continue;
                    };
                    // Read access is checked on the constructed attribute as on a stored one:
                    // on the entry as it would be with the value.
                    let mut with_value = entry.clone();
                    with_value.attrs.set(&requested.name, values.clone());
                    if semantics.can_read(ctx, &with_value, &requested.name) {
                        push(&mut attributes, requested.name.clone(), values);
                    }
                }
            }
        }
        if self.role == DcRole::GlobalCatalog {
            // The global catalog holds the partial attribute set only.
            let schema = semantics.schema();
            attributes.retain(|(name, _)| {
                let base = name.split(';').next().unwrap_or_default();
                schema.in_partial_attribute_set(base)
            });
        }
        SearchEntry {
            dn: entry.dn.to_string(),
            attributes,
        }
    }

    pub(super) fn search(
        &self,
        session: &mut Session,
        controls: &RequestControls,
        id: u32,
        request: &SearchRequest,
    ) -> Vec<Response> {
        match self.search_inner(session, controls, id, request) {
            Ok(responses) => responses,
            Err(error) => vec![Response::new(id, ResponseOp::SearchDone(error.into()))],
        }
    }

    fn search_inner(
        &self,
        session: &mut Session,
        controls: &RequestControls,
        id: u32,
        request: &SearchRequest,
    ) -> Result<Vec<Response>, OpError> {
        let started = Instant::now();
        let semantics = &self.forest.semantics;
        let selection = Selection::parse(&request.attributes, semantics.schema());
        let base_text = request.base_object.as_str();
        let scope = request.scope;
        let filter = Filter::compile(&request.filter, semantics, self.config.max_filter_depth)?;

        if base_text.trim().is_empty() && scope == SearchRequestScope::BaseObject {
            let root = self.forest.root_dse_of(self.own_domain(), SUPPORTED);
            let target = Dn::root();
            let ctx = self.context(session, controls, Operation::Search, &target);
            let mut responses = Vec::new();
            if filter.matches(&root, &|_| true) {
                let access = semantics.read_access(&ctx, &root);
                let mut projected =
                    self.project(&ctx, &root, &access, &selection, request.types_only);
                // The rootDSE matches `(objectClass=*)` but shows no objectClass, as Windows
                // (MS-ADTS 3.1.1.3.2 lists none) and Samba answer.
                projected
                    .attributes
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("objectClass"));
                responses.push(Response::new(id, ResponseOp::SearchEntry(projected)));
            }
            responses.push(Response::new(
                id,
                ResponseOp::SearchDone(Outcome::success()),
            ));
            return Ok(responses);
        }
        if session.identity.is_anonymous() {
            return Err(operations_error_unbound());
        }
        let base = if base_text.trim().is_empty() {
            Dn::root()
        } else {
            self.resolve_dn(base_text)?
        };
        self.require_held(session, &base)?;
        selection.check_scope(semantics.schema(), scope == SearchRequestScope::BaseObject)?;
        let ctx = self.context(session, controls, Operation::Search, &base);
        let store = &self.forest.store;

        // Paged continuation.
        let mut page_size = None;
        let mut continuing = None;
        if let Some(paged) = &controls.paged {
            let mut table = session.paging.lock().unwrap_or_else(|p| p.into_inner());
            if !paged.cookie.is_empty() {
                let state = table.states.remove(&paged.cookie).ok_or_else(|| {
                    OpError::unwilling("00002024: LdapErr: DSID-0C090FD2, comment: the paged results cookie is unknown or expired, data 0, v4563")
                })?;
                if state.base != base {
                    return Err(OpError::unwilling("00002024: LdapErr: DSID-0C090FD2, comment: the paged results cookie belongs to another search, data 0, v4563"));
                }
                continuing = Some(state);
            }
            if paged.size == 0 {
                let mut done = Response::new(id, ResponseOp::SearchDone(Outcome::success()));
                done.controls.push(paged_control(&[]));
                return Ok(vec![done]);
            }
            page_size = Some((paged.size as usize).min(self.config.max_page_size));
        }

        let (mut candidates, filter) = match continuing {
            Some(state) => (state.remaining, state.filter),
            None => {
                let base_entry = if base.is_root() {
                    None
                } else {
                    match self.subschema_entry(&base) {
                        Some(subschema) => Some(subschema),
                        None => Some(store.require(&base)?),
                    }
                };
                if let Some(entry) = &base_entry {
                    if !semantics.can_see(&ctx, entry) {
                        return Err(store.no_such_object(&base));
                    }
                }
                (
                    VecDeque::from(self.candidates(&base, base_entry, scope, &filter)),
                    filter,
                )
            }
        };

        let size_limit = if request.size_limit == 0 {
            usize::MAX
        } else {
            request.size_limit as usize
        };
        let cap = page_size
            .unwrap_or(self.config.max_page_size)
            .min(size_limit);
        let time_limit =
            (request.time_limit > 0).then(|| Duration::from_secs(u64::from(request.time_limit)));
        let mut responses = Vec::new();
        let mut sent = 0usize;
        let mut outcome = Outcome::success();
        let mut more_remaining = false;
        let mut examined = 0usize;
        let global_catalog = self.role == DcRole::GlobalCatalog;
        while let Some(entry) = candidates.pop_front() {
            examined += 1;
            if examined % 256 == 0 {
                if let Some(limit) = time_limit {
                    if started.elapsed() > limit {
                        outcome = Outcome::new(ResultCode::TIME_LIMIT_EXCEEDED, "");
                        break;
                    }
                }
            }
            if !semantics.can_see(&ctx, &entry) {
                continue;
            }
            // What reads see: memberOf, the back link of the groups' member values.
            let entry = semantics.decorate(&ctx, &entry);
            // The global catalog holds the partial attribute set only: a filter on any other
            // attribute sees it absent.
            let held =
                |name: &str| !global_catalog || semantics.schema().in_partial_attribute_set(name);
            // Decided once for the filter and the attributes returned.
            let access = semantics.read_access(&ctx, &entry);
            if !filter.matches(&entry, &|name| held(name) && access.allows(name)) {
                continue;
            }
            if sent == cap {
                if page_size.is_some() && sent < size_limit {
                    // This entry starts the next page (put back, not copied with the rest).
                    candidates.push_front(entry);
                    more_remaining = true;
                } else {
                    outcome = Outcome::new(ResultCode::SIZE_LIMIT_EXCEEDED, "");
                }
                break;
            }
            responses.push(Response::new(
                id,
                ResponseOp::SearchEntry(self.project(
                    &ctx,
                    &entry,
                    &access,
                    &selection,
                    request.types_only,
                )),
            ));
            sent += 1;
        }
        if scope == SearchRequestScope::WholeSubtree
            && !controls.domain_scope
            && !more_remaining
            && outcome.code == ResultCode::SUCCESS
        {
            // A reference to each naming context directly below the base's (the schema NC is
            // reached through the configuration NC's reference, not from the domain's). An NC
            // this DC holds is named by the forest's DNS name, as AD does; another domain's
            // by the URL of its DC. The global catalog spans every NC and refers to none.
            let below = self.naming_contexts_below(&base);
            for nc in below
                .iter()
                .filter(|nc| !below.iter().any(|other| nc.is_descendant_of(other)))
            {
                let uri = match self.forest.names.naming_context_of(nc) {
                    Some(crate::names::NamingContext::Domain(index)) if !self.holds_dn(nc) => {
                        self.domain_url(index, session, nc).unwrap_or_else(|| {
                            let dns = self
                                .forest
                                .names
                                .domains
                                .get(index)
                                .map_or(self.forest.names.dns_name.as_str(), |d| {
                                    d.dns_name.as_str()
                                });
                            format!("ldap://{dns}/{nc}")
                        })
                    }
                    _ => format!("ldap://{}/{}", self.forest.names.dns_name, nc),
                };
                responses.push(Response::new(id, ResponseOp::SearchReference(vec![uri])));
            }
        }
        let mut done = Response::new(id, ResponseOp::SearchDone(outcome));
        if page_size.is_some() {
            let cookie = if more_remaining {
                let mut table = session.paging.lock().unwrap_or_else(|p| p.into_inner());
                table.next_cookie += 1;
                let cookie = Bytes::from(table.next_cookie.to_be_bytes().to_vec());
                table.states.insert(
                    cookie.clone(),
                    PageState {
                        base: base.clone(),
                        remaining: candidates,
                        filter,
                    },
                );
                cookie
            } else {
                Bytes::new()
            };
            done.controls.push(paged_control(&cookie));
        }
        responses.push(done);
        Ok(responses)
    }

    /// `CN=Aggregate,<schema NC>`.
    fn subschema_dn(&self) -> Dn {
        self.forest.names.schema_dn.child(crate::names::rdn(
            "CN",
            crate::schema::subschema::AGGREGATE_CN,
        ))
    }

    /// The subschema entry when `dn` names it (and the store holds no entry there): computed
    /// from the schema on each read (see [`crate::schema::subschema`]), with the schema NC
    /// head's descriptor and timestamps.
    fn subschema_entry(&self, dn: &Dn) -> Option<Arc<Entry>> {
        // Most searches name another base: decided on the RDN before any DN is built.
        let named_aggregate = dn.rdn().is_some_and(|rdn| {
            rdn.value()
                .eq_ignore_ascii_case(crate::schema::subschema::AGGREGATE_CN)
        });
        if !named_aggregate {
            return None;
        }
        let subschema = self.subschema_dn();
        if *dn != subschema || self.forest.store.get(dn).is_some() {
            return None;
        }
        let head = self.forest.store.get(&self.forest.names.schema_dn)?;
        let mut entry = Entry::new(subschema.clone());
        let attrs = &mut entry.attrs;
        attrs.set_strs("objectClass", &["top", "subSchema"]);
        attrs.set_str("cn", crate::schema::subschema::AGGREGATE_CN);
        attrs.set_str("name", crate::schema::subschema::AGGREGATE_CN);
        attrs.set_str("distinguishedName", &subschema.to_string());
        attrs.set_str(
            "objectCategory",
            &format!("CN=SubSchema,{}", self.forest.names.schema_dn),
        );
        for copied in ["whenCreated", "whenChanged", "nTSecurityDescriptor"] {
            attrs.set(copied, head.attrs.values(copied).to_vec());
        }
        let (attribute_types, object_classes) = self.forest.semantics.schema().subschema_values();
        attrs.set("attributeTypes", attribute_types);
        attrs.set("objectClasses", object_classes);
        Some(Arc::new(entry))
    }

    /// The naming contexts strictly below `base` that a subtree search from it does not enter
    /// (it returns references for them): none from the root DSE, none for the global catalog,
    /// whose searches span every NC.
    fn naming_contexts_below(&self, base: &Dn) -> Vec<Dn> {
        if base.is_root() || self.role == DcRole::GlobalCatalog {
            return Vec::new();
        }
        self.forest
            .store
            .naming_contexts()
            .iter()
            .map(|nc| nc.dn.clone())
            .filter(|nc| nc.is_descendant_of(base))
            .collect()
    }

    /// The entries a search looks at, before visibility and filter: those of the NCs this DC
    /// holds (every NC for the global catalog, whose subtree searches cross NC boundaries).
    fn candidates(
        &self,
        base: &Dn,
        base_entry: Option<Arc<Entry>>,
        scope: SearchRequestScope,
        filter: &Filter,
    ) -> Vec<Arc<Entry>> {
        let mut found = self.candidates_in_store(base, base_entry, scope, filter);
        if !self.holds_everything() {
            found.retain(|entry| self.serves(&entry.dn));
        }
        found
    }

    fn candidates_in_store(
        &self,
        base: &Dn,
        base_entry: Option<Arc<Entry>>,
        scope: SearchRequestScope,
        filter: &Filter,
    ) -> Vec<Arc<Entry>> {
        let store = &self.forest.store;
        let spans_ncs = self.role == DcRole::GlobalCatalog;
        if let Some(lookup) = filter.indexed_lookup() {
            let found: Vec<Arc<Entry>> = match lookup {
                IndexedLookup::Guid(v) => store.get_by_guid(&v).into_iter().collect(),
                IndexedLookup::Sid(v) => store.get_by_sid(&v).into_iter().collect(),
                IndexedLookup::Value(index, v) => store.get_by_value(index, &v),
            };
            // Naming contexts below the base are other partitions: a subtree search does not
            // enter them (it returns references instead), found by index or not.
            let nested = self.naming_contexts_below(base);
            let in_scope = |e: &Entry| match scope {
                SearchRequestScope::BaseObject => e.dn == *base,
                SearchRequestScope::SingleLevel => e.dn.parent().as_ref() == Some(base),
                _ => e.dn.is_within(base) && !nested.iter().any(|nc| e.dn.is_within(nc)),
            };
            return found.into_iter().filter(|e| in_scope(e)).collect();
        }
        match (scope, base_entry) {
            (SearchRequestScope::BaseObject, Some(entry)) => vec![entry],
            (SearchRequestScope::SingleLevel, Some(_)) => store.children(base),
            (SearchRequestScope::SingleLevel, None) => store.naming_contexts(),
            (_, Some(_)) if spans_ncs => {
                let mut entries = store.subtree(base);
                for nc in store.naming_contexts() {
                    if nc.dn.is_descendant_of(base) {
                        entries.extend(store.subtree(&nc.dn));
                    }
                }
                entries
            }
            (_, Some(_)) => store.subtree(base),
            (SearchRequestScope::BaseObject, None) => Vec::new(),
            (_, None) => store.all(),
        }
    }
}

fn paged_control(cookie: &[u8]) -> ResponseControl {
    ResponseControl {
        oid: PAGED_RESULTS.to_string(),
        critical: false,
        value: Some(paged_response_value(cookie)),
    }
}
