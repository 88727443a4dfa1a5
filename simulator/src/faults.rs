//! Fault injection for resilience tests: added latency, a chosen result code (`busy`,
//! `unavailable`, `unwillingToPerform`, or any code) for a fraction of operations or for the
//! operations matching a type and a DN subtree, connections dropped after N operations or in
//! the middle of a search, and a switch that refuses new connections.
//!
//! Decisions are deterministic under a seed: whether the n-th operation the forest sees is hit
//! depends only on the seed, the rule and n (a SplitMix64 hash, no shared random generator),
//! so a client that sends its operations one after the other sees the same faults every run.
//! Several concurrent connections see the same set of hit sequence numbers, in whatever order
//! they arrive.
//!
//! This module decides; the request path acts (SIM1's handler sleeps, answers with the error,
//! or closes the connection). Rules are plain data, built in code or parsed from the `adsim
//! --fault` text form (see [`FaultRule::parse`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use devwb_model::Dn;
use devwb_synthetic::{splitmix64, SPLITMIX64_GAMMA};

use crate::error::{OpError, ResultCode};
use crate::request::FaultDecision;

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Wait this long, then perform the operation.
    Latency(Duration),
    /// Answer with this result code (AD-shaped text) without performing the operation.
    Fail(ResultCode),
    /// Close the connection without answering.
    Drop,
}

/// One rule: which operations it applies to, how often, and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// Operation names (`add`, `search`, `modify`, `delete`, `modifyDN`, `bind`, `compare`,
    /// `extended`); empty means every operation.
    pub operations: Vec<String>,
    /// Only operations whose target is this DN or below it.
    pub subtree: Option<Dn>,
    /// The fraction of matching operations hit, 0.0 to 1.0.
    pub probability: f64,
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule hitting every operation with `action`.
    pub fn always(action: FaultAction) -> FaultRule {
        FaultRule {
            operations: Vec::new(),
            subtree: None,
            probability: 1.0,
            action,
        }
    }

    /// Limits the rule to these operation names.
    pub fn on(mut self, operations: &[&str]) -> FaultRule {
        self.operations = operations.iter().map(|o| o.to_string()).collect();
        self
    }

    /// Limits the rule to targets in `subtree`.
    pub fn under(mut self, subtree: Dn) -> FaultRule {
        self.subtree = Some(subtree);
        self
    }

    /// Hits only this fraction of matching operations.
    pub fn with_probability(mut self, probability: f64) -> FaultRule {
        self.probability = probability.clamp(0.0, 1.0);
        self
    }

    /// Parses the text form `adsim --fault` takes: `;`-separated `key=value` parts, in any
    /// order, with exactly one action:
    /// - `op=add,modify` operation names; `dn=<DN>` a subtree; `p=0.25` a fraction;
    /// - actions: `latency=<milliseconds>`, `code=busy|unavailable|unwillingToPerform|<number>`,
    ///   `drop`.
    ///
    /// Example: `op=add;dn=CN=RegisteredDevices,DC=contoso,DC=lab;p=0.5;code=busy`.
    pub fn parse(text: &str) -> Result<FaultRule, FaultParseError> {
        let error = |reason: String| FaultParseError {
            text: text.to_string(),
            reason,
        };
        let mut rule = FaultRule::always(FaultAction::Drop);
        let mut action: Option<FaultAction> = None;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let mut set_action = |new: FaultAction| {
                if action.replace(new).is_some() {
                    Err(error(
                        "more than one action (latency, code, drop)".to_string(),
                    ))
                } else {
                    Ok(())
                }
            };
            match key.to_ascii_lowercase().as_str() {
                "op" | "ops" => {
                    rule.operations = value
                        .split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect();
                }
                "dn" => {
                    rule.subtree =
                        Some(Dn::parse(value).map_err(|e| error(format!("dn {value:?}: {e}")))?)
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
                "latency" => {
                    let ms: u64 = value.trim_end_matches("ms").parse().map_err(|_| {
                        error(format!("latency={value:?} is not a number of milliseconds"))
                    })?;
                    set_action(FaultAction::Latency(Duration::from_millis(ms)))?;
                }
                "code" => set_action(FaultAction::Fail(
                    parse_code(value)
                        .ok_or_else(|| error(format!("unknown result code {value:?}")))?,
                ))?,
                "drop" => set_action(FaultAction::Drop)?,
                other => {
                    return Err(error(format!(
                        "unknown key {other:?} (expected op, dn, p, latency, code, drop)"
                    )))
                }
            }
        }
        rule.action =
            action.ok_or_else(|| error("no action (latency=, code= or drop)".to_string()))?;
        Ok(rule)
    }

    fn matches(&self, operation: &str, target: &Dn) -> bool {
        (self.operations.is_empty()
            || self
                .operations
                .iter()
                .any(|o| o.eq_ignore_ascii_case(operation)))
            && self
                .subtree
                .as_ref()
                .is_none_or(|subtree| target.is_within(subtree))
    }
}

/// A fault rule's text did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault rule {text:?}: {reason}")]
pub struct FaultParseError {
    pub text: String,
    pub reason: String,
}

fn parse_code(text: &str) -> Option<ResultCode> {
    match text.to_ascii_lowercase().as_str() {
        "busy" => Some(ResultCode::BUSY),
        "unavailable" => Some(ResultCode::UNAVAILABLE),
        "unwillingtoperform" | "unwilling" => Some(ResultCode::UNWILLING_TO_PERFORM),
        other => other.parse().ok().map(ResultCode),
    }
}

/// The faults of one forest, as configured through the builder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// The seed of every probabilistic decision.
    pub seed: u64,
    /// The rules, first match wins.
    pub rules: Vec<FaultRule>,
    /// Close each connection after it has sent this many operations.
    pub drop_connection_after: Option<u64>,
    /// Close a connection in the middle of a search after this many entries were sent.
    pub drop_search_after_entries: Option<u64>,
    /// Refuse new connections from the start.
    pub refuse_connections: bool,
}

/// The running fault state of a forest.
#[derive(Debug, Default)]
pub struct Faults {
    config: FaultConfig,
    sequence: AtomicU64,
    refuse_connections: AtomicBool,
}

impl Faults {
    /// Faults as configured.
    pub fn new(config: FaultConfig) -> Faults {
        Faults {
            refuse_connections: AtomicBool::new(config.refuse_connections),
            config,
            sequence: AtomicU64::new(0),
        }
    }

    /// Whether any fault is configured (the request path can skip the call when not).
    pub fn is_active(&self) -> bool {
        !self.config.rules.is_empty()
            || self.config.drop_connection_after.is_some()
            || self.config.drop_search_after_entries.is_some()
            || self.refuse_connections.load(Ordering::Relaxed)
    }

    /// The decision for the next operation, `operation` on `target`, which is the
    /// `on_connection`-th operation (1-based) of its connection.
    pub fn decide(&self, operation: &str, target: &Dn, on_connection: u64) -> FaultDecision {
        if self
            .config
            .drop_connection_after
            .is_some_and(|limit| on_connection > limit)
        {
            return FaultDecision::Drop;
        }
        if self.config.rules.is_empty() {
            return FaultDecision::Proceed;
        }
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        for (index, rule) in self.config.rules.iter().enumerate() {
            if !rule.matches(operation, target) {
                continue;
            }
            if !hit(self.config.seed, index as u64, sequence, rule.probability) {
                continue;
            }
            tracing::debug!(operation, %target, sequence, rule = index, action = ?rule.action, "fault injected");
            return match &rule.action {
                FaultAction::Latency(duration) => FaultDecision::Delay(*duration),
                FaultAction::Fail(code) => FaultDecision::Fail(fault_error(*code)),
                FaultAction::Drop => FaultDecision::Drop,
            };
        }
        FaultDecision::Proceed
    }

    /// Whether a connection that is about to run its `on_connection`-th operation (1-based)
    /// should be closed instead.
    pub fn drop_connection_before(&self, on_connection: u64) -> bool {
        self.config
            .drop_connection_after
            .is_some_and(|limit| on_connection > limit)
    }

    /// Whether a search that has sent `entries_sent` entries should lose its connection now.
    pub fn drop_mid_search(&self, entries_sent: u64) -> bool {
        self.config
            .drop_search_after_entries
            .is_some_and(|limit| entries_sent >= limit)
    }

    /// Whether new connections are refused.
    pub fn refuses_connections(&self) -> bool {
        self.refuse_connections.load(Ordering::Relaxed)
    }

    /// Turns refusing new connections on or off while the simulator runs.
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.refuse_connections.store(refuse, Ordering::Relaxed);
    }
}

/// Whether the `sequence`-th operation is hit by rule `rule` with probability `probability`.
pub(crate) fn hit(seed: u64, rule: u64, sequence: u64, probability: f64) -> bool {
    if probability >= 1.0 {
        return true;
    }
    if probability <= 0.0 {
        return false;
    }
    let mixed =
        splitmix64(seed ^ splitmix64(rule.wrapping_add(SPLITMIX64_GAMMA)) ^ splitmix64(sequence));
    // The top 53 bits as a fraction in [0, 1).
    let fraction = (mixed >> 11) as f64 / (1u64 << 53) as f64;
    fraction < probability
}

/// The error an injected result code answers with, shaped like AD's service errors.
pub fn fault_error(code: ResultCode) -> OpError {
    let (win32, problem, name) = match code.0 {
        51 => (0x200E, 5001, "BUSY"),
        52 => (0x200F, 5002, "UNAVAILABLE"),
        53 => (0x052D, 5003, "WILL_NOT_PERFORM"),
        _ => (0x2024, 5000, "INJECTED"),
    };
    OpError::new(
        code,
        format!("{win32:08X}: SvcErr: DSID-031A1248, problem {problem} ({name}), data 0\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> Dn {
        Dn::parse(text).expect("dn")
    }

    #[test]
    fn parses_the_adsim_text_form() {
        let rule = FaultRule::parse(
            "op=add,modify;dn=CN=RegisteredDevices,DC=contoso,DC=lab;p=0.5;code=busy",
        )
        .expect("parses");
        assert_eq!(rule.operations, ["add", "modify"]);
        assert_eq!(
            rule.subtree,
            Some(dn("CN=RegisteredDevices,DC=contoso,DC=lab"))
        );
        assert_eq!(rule.probability, 0.5);
        assert_eq!(rule.action, FaultAction::Fail(ResultCode::BUSY));
        assert_eq!(
            FaultRule::parse("latency=25ms").expect("parses").action,
            FaultAction::Latency(Duration::from_millis(25))
        );
        assert_eq!(
            FaultRule::parse("code=52").expect("parses").action,
            FaultAction::Fail(ResultCode::UNAVAILABLE)
        );
        for bad in [
            "",
            "p=2;drop",
            "code=nonsense",
            "drop;code=busy",
            "color=red;drop",
            "dn=not a dn;drop",
        ] {
            assert!(FaultRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matching_operations_fail_with_ads_text() {
        let faults = Faults::new(FaultConfig {
            rules: vec![
                FaultRule::always(FaultAction::Fail(ResultCode::UNAVAILABLE))
                    .on(&["add"])
                    .under(dn("CN=RegisteredDevices,DC=contoso,DC=lab")),
            ],
            ..FaultConfig::default()
        });
        let inside = dn("CN=d1,CN=RegisteredDevices,DC=contoso,DC=lab");
        match faults.decide("add", &inside, 1) {
            FaultDecision::Fail(error) => {
                assert_eq!(error.code, ResultCode::UNAVAILABLE);
                assert!(
                    error.message.starts_with("0000200F: SvcErr:"),
                    "{}",
                    error.message
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(faults.decide("search", &inside, 2), FaultDecision::Proceed);
        assert_eq!(
            faults.decide("add", &dn("CN=u,CN=Users,DC=contoso,DC=lab"), 3),
            FaultDecision::Proceed
        );
    }

    #[test]
    fn fractions_are_deterministic_under_a_seed() {
        let run = |seed: u64| -> Vec<bool> {
            let faults = Faults::new(FaultConfig {
                seed,
                rules: vec![
                    FaultRule::always(FaultAction::Fail(ResultCode::BUSY)).with_probability(0.3)
                ],
                ..FaultConfig::default()
            });
            let target = dn("DC=contoso,DC=lab");
            (0..1000)
                .map(|n| faults.decide("add", &target, n + 1) != FaultDecision::Proceed)
                .collect()
        };
        let first = run(7);
        assert_eq!(first, run(7), "same seed, same faults");
        assert_ne!(first, run(8), "another seed, other faults");
        let hits = first.iter().filter(|h| **h).count();
        assert!((250..350).contains(&hits), "about 30% hit: {hits}");
    }

    #[test]
    fn connections_drop_after_n_operations_and_mid_search() {
        let faults = Faults::new(FaultConfig {
            drop_connection_after: Some(3),
            drop_search_after_entries: Some(10),
            ..FaultConfig::default()
        });
        let target = dn("DC=contoso,DC=lab");
        assert_eq!(faults.decide("search", &target, 3), FaultDecision::Proceed);
        assert_eq!(faults.decide("search", &target, 4), FaultDecision::Drop);
        assert!(!faults.drop_mid_search(9));
        assert!(faults.drop_mid_search(10));
        assert!(!faults.refuses_connections());
        faults.set_refuse_connections(true);
        assert!(faults.refuses_connections());
        assert!(faults.is_active());
        assert!(!Faults::new(FaultConfig::default()).is_active());
    }
}
