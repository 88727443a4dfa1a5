//! The request handler: one LDAP request in, its responses out, with no sockets involved.
//!
//! [`Handler::handle`] takes a decoded message and the connection's [`Session`] and returns
//! the responses in order. Each operation follows the simulator plan's steps: faults (asked
//! by the transport through [`Handler::fault`] so it can delay without blocking a thread),
//! resolve the entries, the semantics layer's access and content checks, generated
//! attributes, then the store. Transport concerns (StartTLS, abandon, unbind) are the
//! transport's; the handler answers them only when called directly.

pub mod controls;
mod partition;
mod search;
mod selection;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use devwb_model::{Dn, Guid, Sid};
use rasn_ldap::{AuthenticationChoice, LdapMessage, ProtocolOp};
use tracing::debug;

use crate::codec::{Outcome, Response, ResponseOp};
use crate::error::{OpError, ResultCode};
use crate::forest::Forest;
use crate::request::{FaultDecision, Identity, OpContext, Operation, RequestControls};
use crate::store::Entry;

pub use partition::{DcRole, Endpoints, Topology};

/// OID of the StartTLS extended operation.
pub const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";
/// OID of the WhoAmI extended operation (RFC 4532).
pub const WHO_AM_I_OID: &str = "1.3.6.1.4.1.4203.1.11.3";

/// Settings of the request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerConfig {
    /// Accept a simple bind on a connection without TLS (AD and Samba refuse it by default).
    pub allow_plain_bind: bool,
    /// AD's MaxPageSize: the most entries one search response carries.
    pub max_page_size: usize,
    /// The deepest filter accepted.
    pub max_filter_depth: usize,
    /// AD's MaxValRange: the most values of one attribute returned without a range option.
    pub max_value_range: usize,
    /// The most values of non-linked multi-valued attributes one entry may hold, summed over
    /// its attributes (`None`: no limit). AD's limit comes from its fixed database record
    /// size; Microsoft puts the practical figure at about 1,200 values from Windows Server
    /// 2003 on (linked attributes such as `member` do not count). A write beyond it answers
    /// `adminLimitExceeded` (11).
    pub max_nonlinked_values: Option<usize>,
}

impl HandlerConfig {
    /// The default of [`HandlerConfig::max_nonlinked_values`].
    pub const DEFAULT_MAX_NONLINKED_VALUES: usize = 1200;
}

impl Default for HandlerConfig {
    fn default() -> HandlerConfig {
        HandlerConfig {
            allow_plain_bind: false,
            max_page_size: 1000,
            max_filter_depth: 64,
            max_value_range: 1500,
            max_nonlinked_values: Some(HandlerConfig::DEFAULT_MAX_NONLINKED_VALUES),
        }
    }
}

/// The state of a paged search between pages.
#[derive(Debug)]
pub(crate) struct PageState {
    base: Dn,
    remaining: std::collections::VecDeque<Arc<Entry>>,
    filter: crate::filter::Filter,
}

/// The per-connection state the handler needs.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// Who is bound.
    pub identity: Identity,
    /// Whether TLS protects the connection.
    pub tls: bool,
    /// Whether the connection came in on an LDAPS listener (referrals then name LDAPS URLs;
    /// a StartTLS connection keeps plain LDAP's).
    pub over_ldaps: bool,
    paging: Arc<Mutex<PagingTable>>,
}

#[derive(Debug, Default)]
struct PagingTable {
    next_cookie: u64,
    states: HashMap<Bytes, PageState>,
}

impl Session {
    /// A new anonymous session; `tls` when the connection is LDAPS.
    pub fn new(tls: bool) -> Session {
        Session {
            tls,
            over_ldaps: tls,
            ..Session::default()
        }
    }
}

/// The request handler of one forest, as one of its DCs (or its global catalog) answers.
#[derive(Debug, Clone)]
pub struct Handler {
    forest: Arc<Forest>,
    config: HandlerConfig,
    role: DcRole,
    topology: Arc<Topology>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The DN a request names, and the operation.
fn request_target(op: &ProtocolOp) -> (Operation, &str) {
    match op {
        ProtocolOp::BindRequest(r) => (Operation::Bind, r.name.as_str()),
        ProtocolOp::SearchRequest(r) => (Operation::Search, r.base_object.as_str()),
        ProtocolOp::AddRequest(r) => (Operation::Add, r.entry.as_str()),
        ProtocolOp::ModifyRequest(r) => (Operation::Modify, r.object.as_str()),
        ProtocolOp::DelRequest(r) => (Operation::Delete, r.0.as_str()),
        ProtocolOp::ModDnRequest(r) => (Operation::ModifyDn, r.entry.as_str()),
        ProtocolOp::CompareRequest(r) => (Operation::Compare, r.entry.as_str()),
        _ => (Operation::Extended, ""),
    }
}

/// The response of the type that answers `op`, carrying `outcome`; `None` for requests that
/// have no response (unbind, abandon).
pub fn response_for(op: &ProtocolOp, outcome: Outcome) -> Option<ResponseOp> {
    Some(match op {
        ProtocolOp::BindRequest(_) => ResponseOp::Bind(outcome),
        ProtocolOp::SearchRequest(_) => ResponseOp::SearchDone(outcome),
        ProtocolOp::AddRequest(_) => ResponseOp::Add(outcome),
        ProtocolOp::ModifyRequest(_) => ResponseOp::Modify(outcome),
        ProtocolOp::DelRequest(_) => ResponseOp::Delete(outcome),
        ProtocolOp::ModDnRequest(_) => ResponseOp::ModifyDn(outcome),
        ProtocolOp::CompareRequest(_) => ResponseOp::Compare(outcome),
        ProtocolOp::UnbindRequest(_) | ProtocolOp::AbandonRequest(_) => return None,
        _ => ResponseOp::Extended {
            outcome,
            name: None,
            value: None,
        },
    })
}

fn operations_error_unbound() -> OpError {
    OpError::new(
        ResultCode::OPERATIONS_ERROR,
        "000004DC: LdapErr: DSID-0C090A4C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563\0",
    )
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

impl Handler {
    /// A handler for `forest`, as its root domain's DC.
    pub fn new(forest: Arc<Forest>, config: HandlerConfig) -> Handler {
        Handler::with_role(forest, config, DcRole::default(), Arc::default())
    }

    /// A handler for `forest` as the DC `role`, referring to the other DCs at `topology`.
    pub fn with_role(
        forest: Arc<Forest>,
        config: HandlerConfig,
        role: DcRole,
        topology: Arc<Topology>,
    ) -> Handler {
        Handler {
            forest,
            config,
            role,
            topology,
        }
    }

    /// The forest this handler serves.
    pub fn forest(&self) -> &Arc<Forest> {
        &self.forest
    }

    /// The handler's settings.
    pub fn config(&self) -> &HandlerConfig {
        &self.config
    }

    fn context<'a>(
        &'a self,
        session: &'a Session,
        controls: &'a RequestControls,
        operation: Operation,
        target: &'a Dn,
    ) -> OpContext<'a> {
        OpContext {
            store: &self.forest.store,
            identity: &session.identity,
            tls: session.tls,
            controls,
            operation,
            target,
        }
    }

    /// Step 1 of every operation: what the fault layer decides for `message`.
    pub fn fault(&self, session: &Session, message: &LdapMessage) -> FaultDecision {
        let (operation, target) = request_target(&message.protocol_op);
        if matches!(
            message.protocol_op,
            ProtocolOp::UnbindRequest(_) | ProtocolOp::AbandonRequest(_)
        ) {
            return FaultDecision::Proceed;
        }
        // Most servers run with no faults: then the target is not even parsed.
        if !self.forest.semantics.faults().is_active() {
            return FaultDecision::Proceed;
        }
        let target = Dn::parse(target).unwrap_or_else(|_| Dn::root());
        let controls = RequestControls::default();
        self.forest
            .semantics
            .fault(&self.context(session, &controls, operation, &target))
    }

    /// Resolves a request's DN text: an RFC 4514 DN, or AD's extended forms `<GUID=...>`
    /// and `<SID=...>` (hex or text), optionally followed by `;` and more forms or a DN.
    pub fn resolve_dn(&self, text: &str) -> Result<Dn, OpError> {
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix('<') {
            let first = rest
                .split_once('>')
                .map(|(inside, _)| inside)
                .ok_or_else(|| OpError::invalid_dn(text, "unterminated extended DN"))?;
            let (kind, value) = first
                .split_once('=')
                .ok_or_else(|| OpError::invalid_dn(text, "extended DN without '='"))?;
            let entry = if kind.eq_ignore_ascii_case("GUID") {
                let bytes = match hex_bytes(value) {
                    Some(bytes) if bytes.len() == 16 => bytes,
                    _ => Guid::parse(value)
                        .map_err(|e| OpError::invalid_dn(text, e))?
                        .to_ad_bytes()
                        .to_vec(),
                };
                self.forest.store.get_by_guid(&bytes)
            } else if kind.eq_ignore_ascii_case("SID") {
                let bytes = match hex_bytes(value) {
                    Some(bytes) => bytes,
                    None => Sid::parse(value)
                        .map_err(|e| OpError::invalid_dn(text, e))?
                        .to_bytes(),
                };
                self.forest.store.get_by_sid(&bytes)
            } else {
                return Err(OpError::invalid_dn(
                    text,
                    format!("unsupported extended DN form {kind}"),
                ));
            };
            return entry.map(|e| e.dn.clone()).ok_or_else(|| {
                OpError::new(
                    ResultCode::NO_SUCH_OBJECT,
                    format!("0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, no object has {first}\n"),
                )
            });
        }
        Dn::parse(trimmed).map_err(|e| OpError::invalid_dn(text, e.kind))
    }

    /// Handles one request and returns its responses in order (none for unbind and abandon).
    pub fn handle(&self, session: &mut Session, message: LdapMessage) -> Vec<Response> {
        let id = message.message_id;
        let (operation, _) = request_target(&message.protocol_op);
        let span = tracing::debug_span!("ldap", id, op = operation.name());
        let _entered = span.enter();
        let controls = match RequestControls::parse(message.controls.as_deref()) {
            Ok(controls) => controls,
            Err(error) => {
                return response_for(&message.protocol_op, error.into())
                    .map(|op| vec![Response::new(id, op)])
                    .unwrap_or_default();
            }
        };
        let is_write = matches!(
            message.protocol_op,
            ProtocolOp::AddRequest(_)
                | ProtocolOp::ModifyRequest(_)
                | ProtocolOp::DelRequest(_)
                | ProtocolOp::ModDnRequest(_)
        );
        if is_write && self.role == DcRole::GlobalCatalog {
            return response_for(
                &message.protocol_op,
                Handler::global_catalog_is_read_only().into(),
            )
            .map(|op| vec![Response::new(id, op)])
            .unwrap_or_default();
        }
        let result = match &message.protocol_op {
            ProtocolOp::BindRequest(request) => vec![Response::new(
                id,
                ResponseOp::Bind(self.bind(session, &controls, request)),
            )],
            ProtocolOp::SearchRequest(request) => self.search(session, &controls, id, request),
            ProtocolOp::AddRequest(request) => vec![Response::new(
                id,
                ResponseOp::Add(outcome(self.add(session, &controls, request))),
            )],
            ProtocolOp::ModifyRequest(request) => {
                vec![Response::new(
                    id,
                    ResponseOp::Modify(outcome(self.modify(session, &controls, request))),
                )]
            }
            ProtocolOp::DelRequest(request) => vec![Response::new(
                id,
                ResponseOp::Delete(outcome(self.delete(session, &controls, &request.0))),
            )],
            ProtocolOp::ModDnRequest(request) => {
                vec![Response::new(
                    id,
                    ResponseOp::ModifyDn(outcome(self.modify_dn(session, &controls, request))),
                )]
            }
            ProtocolOp::CompareRequest(request) => {
                let result = self.compare(session, &controls, request);
                vec![Response::new(
                    id,
                    ResponseOp::Compare(result.unwrap_or_else(Outcome::from)),
                )]
            }
            ProtocolOp::ExtendedReq(request) => vec![self.extended(session, id, request)],
            ProtocolOp::UnbindRequest(_) | ProtocolOp::AbandonRequest(_) => Vec::new(),
            _ => response_for(
                &message.protocol_op,
                OpError::protocol("a response type was sent as a request").into(),
            )
            .map(|op| vec![Response::new(id, op)])
            .unwrap_or_default(),
        };
        if let Some(outcome) = result.last().and_then(|r| r.op.outcome()) {
            debug!(code = outcome.code.0, "done");
        }
        result
    }

    /// A modify request the codec read by hand because it uses RFC 4525's increment (see
    /// [`crate::codec::increment`]); answered like any modify.
    pub fn handle_raw_modify(
        &self,
        session: &Session,
        request: &crate::codec::increment::RawModify,
    ) -> Response {
        let result = RequestControls::parse(Some(&request.controls)).and_then(|controls| {
            if session.identity.is_anonymous() {
                return Err(operations_error_unbound());
            }
            if self.role == DcRole::GlobalCatalog {
                return Err(Handler::global_catalog_is_read_only());
            }
            let dn = self.resolve_dn(&request.object)?;
            self.require_held(session, &dn)?;
            self.modify_entry(session, &controls, &dn, &request.changes)
        });
        Response::new(request.message_id, ResponseOp::Modify(outcome(result)))
    }

    fn bind(
        &self,
        session: &mut Session,
        controls: &RequestControls,
        request: &rasn_ldap::BindRequest,
    ) -> Outcome {
        // A failed or new bind leaves the connection anonymous until it succeeds.
        session.identity = Identity::anonymous();
        if request.version != 3 && request.version != 2 {
            return Outcome::new(
                ResultCode::PROTOCOL_ERROR,
                format!("unsupported LDAP version {}", request.version),
            );
        }
        let password = match &request.authentication {
            AuthenticationChoice::Simple(password) => password,
            AuthenticationChoice::Sasl(sasl) => {
                return Outcome::new(
                    ResultCode::AUTH_METHOD_NOT_SUPPORTED,
                    format!("00002027: LdapErr: DSID-0C090B2E, comment: SASL mechanism {} is not supported by this server, use a simple bind over TLS, data 0, v4563", sasl.mechanism.as_str()),
                )
            }
            _ => return Outcome::new(ResultCode::AUTH_METHOD_NOT_SUPPORTED, "unsupported authentication choice"),
        };
        let name = request.name.as_str();
        if name.is_empty() && password.is_empty() {
            return Outcome::success();
        }
        if password.is_empty() {
            return Outcome::new(ResultCode::UNWILLING_TO_PERFORM, "00000057: LdapErr: DSID-0C09080A, comment: unauthenticated bind (a name without a password) is not allowed, data 0, v4563");
        }
        if !session.tls && !self.config.allow_plain_bind {
            return Outcome::new(
                ResultCode::STRONGER_AUTH_REQUIRED,
                "00002028: LdapErr: DSID-0C090343, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v65f4\n\0",
            );
        }
        let target = Dn::parse(name).unwrap_or_else(|_| Dn::root());
        let ctx = self.context(session, controls, Operation::Bind, &target);
        match self.forest.semantics.authenticate(&ctx, name, password) {
            Ok(identity) => {
                session.identity = identity;
                Outcome::success()
            }
            Err(error) => error.into(),
        }
    }

    fn compare(
        &self,
        session: &Session,
        controls: &RequestControls,
        request: &rasn_ldap::CompareRequest,
    ) -> Result<Outcome, OpError> {
        if session.identity.is_anonymous() {
            return Err(operations_error_unbound());
        }
        let dn = self.resolve_dn(&request.entry)?;
        self.require_held(session, &dn)?;
        let entry = self.forest.store.require(&dn)?;
        let ctx = self.context(session, controls, Operation::Compare, &dn);
        let semantics = &self.forest.semantics;
        let entry = semantics.decorate(&ctx, &entry);
        if !semantics.can_see(&ctx, &entry) {
            return Err(self.forest.store.no_such_object(&dn));
        }
        let attribute = request.ava.attribute_desc.as_str();
        let values = entry.attrs.values(attribute);
        let held = self.role != DcRole::GlobalCatalog
            || semantics.schema().in_partial_attribute_set(attribute);
        if values.is_empty() || !held || !semantics.can_read(&ctx, &entry, attribute) {
            return Err(OpError::new(
                ResultCode::NO_SUCH_ATTRIBUTE,
                format!("00002080: AtrErr: DSID-03080155, #1:\n\t0: 00002080: DSID-03080155, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 0 ({attribute})\n"),
            ));
        }
        let matching = semantics.matching(attribute);
        let asserted = &request.ava.assertion_value;
        let found = values
            .iter()
            .any(|v| crate::filter::equal(matching, v, asserted) == Some(true));
        Ok(Outcome::new(
            if found {
                ResultCode::COMPARE_TRUE
            } else {
                ResultCode::COMPARE_FALSE
            },
            "",
        ))
    }

    fn extended(
        &self,
        session: &Session,
        id: u32,
        request: &rasn_ldap::ExtendedRequest,
    ) -> Response {
        let name = text(&request.request_name);
        let (outcome, value) = match name.as_str() {
            WHO_AM_I_OID => {
                let who = match &session.identity.dn {
                    None => String::new(),
                    Some(dn) => {
                        let account = self.forest.store.get(dn);
                        match account.as_ref().and_then(|a| a.attrs.first_str("sAMAccountName").map(str::to_string)) {
                            Some(sam) => {
                                let names = &self.forest.names;
                                let domain = names.domain_of(dn).map_or(names.netbios_name.as_str(), |d| d.netbios_name.as_str());
                                format!("u:{domain}\\{sam}")
                            }
                            None => format!("dn:{dn}"),
                        }
                    }
                };
                (Outcome::success(), Some(Bytes::from(who)))
            }
            START_TLS_OID => (Outcome::new(ResultCode::OPERATIONS_ERROR, "StartTLS is handled by the transport and is not available on this connection"), None),
            _ => (
                Outcome::new(ResultCode::PROTOCOL_ERROR, format!("00000057: LdapErr: DSID-0C090C0E, comment: unsupported extended operation {name}, data 0, v4563")),
                None,
            ),
        };
        Response::new(
            id,
            ResponseOp::Extended {
                outcome,
                name: None,
                value,
            },
        )
    }
}

fn outcome(result: Result<(), OpError>) -> Outcome {
    match result {
        Ok(()) => Outcome::success(),
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests;
