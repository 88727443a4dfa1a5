//! Fault injection on the Graph side, in the style of the LDAP faults ([`crate::faults`]): per
//! route, with a probability under a seed, or for "the next N requests" of a route: 429 with
//! `Retry-After`, 503, added latency, a dropped connection (no response at all), an expired delta
//! token (the next delta request carrying a token gets `410 syncStateNotFound`) and an expired
//! access token (the next Graph request gets `401 InvalidAuthenticationToken`, token expired).
//!
//! Decisions are deterministic: whether the n-th request the tenant sees is hit by a rule depends
//! only on the seed, the rule's index and n. A "next N" rule hits the next N requests that match
//! it and then never again. This module decides; [`super::routes`] answers and the transport
//! sleeps or drops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The routes faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /{tenant}/oauth2/v2.0/token`.
    Token,
    /// `GET /v1.0/devices`.
    Devices,
    /// `GET /v1.0/devices/delta`.
    Delta,
    /// `GET /v1.0/devices/{id}` and `/v1.0/devices/{id}/registeredOwners`.
    Device,
    /// `GET /v1.0/users`.
    Users,
    /// `/_adsim/entra/...` (never hit unless a rule names it).
    Admin,
}

impl Route {
    /// The name used in rules' text form.
    pub fn name(self) -> &'static str {
        match self {
            Route::Token => "token",
            Route::Devices => "devices",
            Route::Delta => "delta",
            Route::Device => "device",
            Route::Users => "users",
            Route::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Route> {
        [
            Route::Token,
            Route::Devices,
            Route::Delta,
            Route::Device,
            Route::Users,
            Route::Admin,
        ]
        .into_iter()
        .find(|route| route.name().eq_ignore_ascii_case(text))
    }

    /// Whether this is a Graph resource route (the ones an access token guards).
    pub fn is_graph(self) -> bool {
        matches!(
            self,
            Route::Devices | Route::Delta | Route::Device | Route::Users
        )
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphFaultAction {
    /// `429 TooManyRequests` with `Retry-After: <seconds>`.
    Throttle { retry_after_seconds: u64 },
    /// `503 serviceNotAvailable`, with `Retry-After` when given.
    Unavailable { retry_after_seconds: Option<u64> },
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Close the connection without answering.
    Drop,
    /// Answer a delta request that carries a token with `410 syncStateNotFound`.
    ExpireDeltaToken,
    /// Answer a Graph request as if its access token had expired.
    ExpireAccessToken,
    /// Answer `devices/delta?$deltatoken=latest` with `400 Request_UnsupportedQuery`, as a
    /// service without "sync from now" would.
    RefuseLatestDeltaToken,
}

/// What a request says about where a delta round starts, for the rules that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaQuery {
    /// No token: a first round, or not a delta request.
    NoToken,
    /// `$deltatoken=latest`: "sync from now" (not a token of this tenant).
    Latest,
    /// A `$deltatoken` or `$skiptoken` this tenant handed out.
    Token,
}

impl DeltaQuery {
    /// What the raw query string of a request says.
    pub fn of(query: &str) -> DeltaQuery {
        let mut found = DeltaQuery::NoToken;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.trim_start_matches('$').to_ascii_lowercase().as_str() {
                "deltatoken" if value.trim().eq_ignore_ascii_case("latest") => {
                    found = DeltaQuery::Latest
                }
                "deltatoken" | "skiptoken" => return DeltaQuery::Token,
                _ => {}
            }
        }
        found
    }
}

/// One rule: the routes it applies to (empty: every route but admin), how often, what it does.
#[derive(Debug)]
pub struct GraphFaultRule {
    pub routes: Vec<Route>,
    pub probability: f64,
    /// When set, the rule hits only the next this-many matching requests (probability ignored).
    pub next: Option<u64>,
    pub action: GraphFaultAction,
    used: AtomicU64,
}

impl Clone for GraphFaultRule {
    fn clone(&self) -> GraphFaultRule {
        GraphFaultRule {
            routes: self.routes.clone(),
            probability: self.probability,
            next: self.next,
            action: self.action.clone(),
            used: AtomicU64::new(self.used.load(Ordering::Relaxed)),
        }
    }
}

impl PartialEq for GraphFaultRule {
    fn eq(&self, other: &GraphFaultRule) -> bool {
        self.routes == other.routes
            && self.probability == other.probability
            && self.next == other.next
            && self.action == other.action
    }
}

impl GraphFaultRule {
    /// A rule hitting every request of every route but admin with `action`.
    pub fn always(action: GraphFaultAction) -> GraphFaultRule {
        GraphFaultRule {
            routes: Vec::new(),
            probability: 1.0,
            next: None,
            action,
            used: AtomicU64::new(0),
        }
    }

    /// Limits the rule to these routes.
    pub fn on(mut self, routes: &[Route]) -> GraphFaultRule {
        self.routes = routes.to_vec();
        self
    }

    /// Hits only this fraction of matching requests.
    pub fn with_probability(mut self, probability: f64) -> GraphFaultRule {
        self.probability = probability.clamp(0.0, 1.0);
        self
    }

    /// Hits the next `count` matching requests, then none.
    pub fn next(mut self, count: u64) -> GraphFaultRule {
        self.next = Some(count);
        self
    }

    /// Parses the text form `adsim --entra-fault` takes: `;`-separated parts, exactly one action:
    /// - `route=devices,delta` (token, devices, delta, device, users, admin), `p=0.2`, `next=3`;
    /// - actions: `status=429` (with `retry-after=<s>`, default 1), `status=503` (optional
    ///   `retry-after`), `latency=<ms>`, `drop`, `expire=delta-token`, `expire=access-token`,
    ///   `refuse=latest-delta-token`.
    ///
    /// Example: `route=devices,delta;p=0.2;status=429;retry-after=1`.
    pub fn parse(text: &str) -> Result<GraphFaultRule, GraphFaultParseError> {
        let error = |reason: String| GraphFaultParseError {
            text: text.to_string(),
            reason,
        };
        let mut rule = GraphFaultRule::always(GraphFaultAction::Drop);
        let mut status: Option<u16> = None;
        let mut retry_after: Option<u64> = None;
        let mut action: Option<GraphFaultAction> = None;
        let mut actions = 0;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "route" | "routes" => {
                    rule.routes = value
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(|r| {
                            Route::parse(r).ok_or_else(|| {
                                error(format!(
                                    "unknown route {r:?} (token, devices, delta, device, users, admin)"
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                "p" => {
                    let p: f64 = value
                        .parse()
                        .map_err(|_| error(format!("p={value:?} is not a number")))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(error(format!("p={p} is not between 0 and 1")));
                    }
                    rule.probability = p;
                }
                "next" => {
                    rule.next = Some(value.parse().map_err(|_| {
                        error(format!("next={value:?} is not a count of requests"))
                    })?)
                }
                "status" => {
                    actions += 1;
                    status = Some(match value {
                        "429" => 429,
                        "503" => 503,
                        other => {
                            return Err(error(format!(
                                "status={other:?}: only 429 and 503 are injected"
                            )))
                        }
                    });
                }
                "retry-after" | "retry_after" => {
                    retry_after = Some(value.parse().map_err(|_| {
                        error(format!("retry-after={value:?} is not a number of seconds"))
                    })?)
                }
                "latency" => {
                    actions += 1;
                    let ms: u64 = value.trim_end_matches("ms").parse().map_err(|_| {
                        error(format!("latency={value:?} is not a number of milliseconds"))
                    })?;
                    action = Some(GraphFaultAction::Latency(Duration::from_millis(ms)));
                }
                "drop" => {
                    actions += 1;
                    action = Some(GraphFaultAction::Drop);
                }
                "expire" => {
                    actions += 1;
                    action = Some(match value.to_ascii_lowercase().as_str() {
                        "delta-token" | "delta" => GraphFaultAction::ExpireDeltaToken,
                        "access-token" | "access" => GraphFaultAction::ExpireAccessToken,
                        other => {
                            return Err(error(format!(
                                "expire={other:?}: expected delta-token or access-token"
                            )))
                        }
                    });
                }
                "refuse" => {
                    actions += 1;
                    action = Some(match value.to_ascii_lowercase().as_str() {
                        "latest-delta-token" | "latest" => GraphFaultAction::RefuseLatestDeltaToken,
                        other => {
                            return Err(error(format!(
                                "refuse={other:?}: expected latest-delta-token"
                            )))
                        }
                    });
                }
                other => {
                    return Err(error(format!(
                        "unknown key {other:?} (expected route, p, next, status, retry-after, latency, drop, expire, refuse)"
                    )))
                }
            }
        }
        if actions != 1 {
            return Err(error(format!(
                "{actions} actions given; exactly one of status=, latency=, drop, expire=, refuse= is needed"
            )));
        }
        rule.action = match status {
            Some(429) => GraphFaultAction::Throttle {
                retry_after_seconds: retry_after.unwrap_or(1),
            },
            Some(_) => GraphFaultAction::Unavailable {
                retry_after_seconds: retry_after,
            },
            None => {
                if retry_after.is_some() {
                    return Err(error("retry-after goes with status=429 or 503".to_string()));
                }
                action.unwrap_or(GraphFaultAction::Drop)
            }
        };
        Ok(rule)
    }

    fn matches(&self, route: Route, delta: DeltaQuery) -> bool {
        let route_matches = if self.routes.is_empty() {
            route != Route::Admin
        } else {
            self.routes.contains(&route)
        };
        route_matches
            && match self.action {
                GraphFaultAction::ExpireDeltaToken => {
                    route == Route::Delta && delta == DeltaQuery::Token
                }
                GraphFaultAction::RefuseLatestDeltaToken => {
                    route == Route::Delta && delta == DeltaQuery::Latest
                }
                GraphFaultAction::ExpireAccessToken => route.is_graph(),
                _ => true,
            }
    }
}

/// A fault rule's text did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("graph fault rule {text:?}: {reason}")]
pub struct GraphFaultParseError {
    pub text: String,
    pub reason: String,
}

/// The faults of one tenant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphFaultConfig {
    /// The seed of every probabilistic decision.
    pub seed: u64,
    /// The rules, first hit wins.
    pub rules: Vec<GraphFaultRule>,
}

/// The running fault state.
#[derive(Debug, Default)]
pub struct GraphFaults {
    config: Mutex<GraphFaultConfig>,
    sequence: AtomicU64,
}

impl GraphFaults {
    /// Faults as configured.
    pub fn new(config: GraphFaultConfig) -> GraphFaults {
        GraphFaults {
            config: Mutex::new(config),
            sequence: AtomicU64::new(0),
        }
    }

    /// Replaces the rules (and restarts "next N" counts).
    pub fn set(&self, config: GraphFaultConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Adds a rule after the existing ones.
    pub fn push(&self, rule: GraphFaultRule) {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .push(rule);
    }

    /// The action for the next request on `route`, if a rule hits it.
    pub fn decide(&self, route: Route, delta: DeltaQuery) -> Option<GraphFaultAction> {
        let config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        if config.rules.is_empty() {
            return None;
        }
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        for (index, rule) in config.rules.iter().enumerate() {
            if !rule.matches(route, delta) {
                continue;
            }
            let hit = match rule.next {
                Some(count) => rule
                    .used
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                        (used < count).then_some(used + 1)
                    })
                    .is_ok(),
                None => crate::faults::hit(config.seed, index as u64, sequence, rule.probability),
            };
            if hit {
                tracing::debug!(route = route.name(), sequence, rule = index, action = ?rule.action, "graph fault injected");
                return Some(rule.action.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_text_form() {
        let rule = GraphFaultRule::parse("route=devices,delta;p=0.2;status=429;retry-after=3")
            .expect("parses");
        assert_eq!(rule.routes, [Route::Devices, Route::Delta]);
        assert_eq!(rule.probability, 0.2);
        assert_eq!(
            rule.action,
            GraphFaultAction::Throttle {
                retry_after_seconds: 3
            }
        );
        assert_eq!(
            GraphFaultRule::parse("next=2;status=503")
                .expect("parses")
                .action,
            GraphFaultAction::Unavailable {
                retry_after_seconds: None
            }
        );
        assert_eq!(
            GraphFaultRule::parse("expire=delta-token")
                .expect("parses")
                .action,
            GraphFaultAction::ExpireDeltaToken
        );
        for bad in [
            "",
            "route=nowhere;drop",
            "status=500",
            "drop;latency=5",
            "p=3;drop",
            "retry-after=2;drop",
            "color=red;drop",
        ] {
            assert!(GraphFaultRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn next_n_hits_exactly_n_matching_requests() {
        let faults = GraphFaults::new(GraphFaultConfig {
            seed: 0,
            rules: vec![GraphFaultRule::always(GraphFaultAction::Drop)
                .on(&[Route::Devices])
                .next(2)],
        });
        assert_eq!(faults.decide(Route::Users, DeltaQuery::NoToken), None);
        assert_eq!(
            faults.decide(Route::Devices, DeltaQuery::NoToken),
            Some(GraphFaultAction::Drop)
        );
        assert_eq!(
            faults.decide(Route::Devices, DeltaQuery::NoToken),
            Some(GraphFaultAction::Drop)
        );
        assert_eq!(faults.decide(Route::Devices, DeltaQuery::NoToken), None);
    }

    #[test]
    fn probabilities_are_deterministic_and_admin_is_spared() {
        let run = |seed| {
            let faults = GraphFaults::new(GraphFaultConfig {
                seed,
                rules: vec![GraphFaultRule::always(GraphFaultAction::Throttle {
                    retry_after_seconds: 1,
                })
                .with_probability(0.2)],
            });
            (0..1000)
                .map(|_| faults.decide(Route::Devices, DeltaQuery::NoToken).is_some())
                .collect::<Vec<_>>()
        };
        let first = run(5);
        assert_eq!(first, run(5));
        assert_ne!(first, run(6));
        let hits = first.iter().filter(|h| **h).count();
        assert!((150..250).contains(&hits), "about 20%: {hits}");
        let faults = GraphFaults::new(GraphFaultConfig {
            seed: 0,
            rules: vec![GraphFaultRule::always(GraphFaultAction::Drop)],
        });
        assert_eq!(faults.decide(Route::Admin, DeltaQuery::NoToken), None);
        let expire = GraphFaults::new(GraphFaultConfig {
            seed: 0,
            rules: vec![GraphFaultRule::always(GraphFaultAction::ExpireDeltaToken)],
        });
        assert_eq!(
            expire.decide(Route::Delta, DeltaQuery::NoToken),
            None,
            "no token to expire"
        );
        assert_eq!(
            expire.decide(Route::Delta, DeltaQuery::Latest),
            None,
            "latest is not a token of the tenant"
        );
        assert_eq!(
            expire.decide(Route::Delta, DeltaQuery::Token),
            Some(GraphFaultAction::ExpireDeltaToken)
        );
        let refuse = GraphFaults::new(GraphFaultConfig {
            seed: 0,
            rules: vec![GraphFaultRule::parse("refuse=latest-delta-token").expect("parses")],
        });
        assert_eq!(refuse.decide(Route::Delta, DeltaQuery::Token), None);
        assert_eq!(
            refuse.decide(Route::Delta, DeltaQuery::Latest),
            Some(GraphFaultAction::RefuseLatestDeltaToken)
        );
    }

    #[test]
    fn a_query_says_where_a_delta_round_starts() {
        for (query, expected) in [
            ("", DeltaQuery::NoToken),
            ("$select=id,deviceId", DeltaQuery::NoToken),
            ("$select=id&$deltatoken=latest", DeltaQuery::Latest),
            ("%24deltatoken=LATEST", DeltaQuery::Latest),
            ("$deltatoken=eyJlIjo", DeltaQuery::Token),
            ("$skiptoken=eyJlIjo", DeltaQuery::Token),
            ("deltatoken=eyJlIjo", DeltaQuery::Token),
        ] {
            assert_eq!(DeltaQuery::of(query), expected, "{query:?}");
        }
    }
}
