//! Realistic synthetic Graph device exports, deterministic under a seed, for tests, benches,
//! `cargo xtask gen-devices` and the simulator's fake Entra tenant (which is why this is a crate of
//! its own: the simulator must not depend on devwb-writeback, which re-exports it as `synthetic`).
//!
//! A generated device looks like what `GET /v1.0/devices?$expand=registeredOwners` returns: an
//! object id and a device id, a `DESKTOP-`/`LAPTOP-`/phone display name, an OS and version, a
//! trust type (`Workplace`, `AzureAd`, `ServerAd`), physical ids in the `[USER-GID]`, `[GID]`,
//! `[HWID]` forms, and an `alternativeSecurityIds` type-2 key that is base64 of UTF-16LE
//! `X509:<SHA1-TP-PUBKEY>` + 40 hex digits + base64 of 32 bytes. The thumbprint and key hash are
//! random bytes of the right length rather than hashes of a real certificate: nothing downstream
//! can tell, and no certificate is needed. Owners are users whose on-premises SID is in one of the
//! given domains.
//!
//! The generator is an iterator, so a million devices are written without holding them. It uses a
//! small splitmix64 generator of its own: the output must stay the same for a seed across
//! dependency upgrades.
//!
//! It does no IO beyond the writer or directory it is given, and knows nothing of LDAP.

use std::io::{self, Write};

use base64::Engine as _;
use devwb_model::{Guid, Sid};
use serde_json::{json, Value};

/// The amount a splitmix64 state moves on by at each step (the golden ratio in 64 bits).
pub const SPLITMIX64_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The number a splitmix64 generator whose state is `state` gives next (before its state moves on
/// by [`SPLITMIX64_GAMMA`]). As a stateless function it is also a good 64-bit hash: the simulator
/// uses it for its fault decisions and, over an atomic state, for its id source. This is the one
/// copy of the algorithm in the workspace.
pub fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(SPLITMIX64_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64: tiny, fast, and stable forever (unlike a crate's generator across versions).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let next = splitmix64(self.0);
        self.0 = self.0.wrapping_add(SPLITMIX64_GAMMA);
        next
    }

    /// A number in `0..n` (n > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A random GUID (version 4 bits set, as Entra's are).
    pub fn guid(&mut self) -> Guid {
        let raw = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        let v4 = (raw & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        Guid::from_u128(v4)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 24) as u8).collect()
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticConfig {
    /// How many devices.
    pub count: u64,
    /// The seed: same seed, same export.
    pub seed: u64,
    /// Domains whose users own the devices (each owner picks one at random).
    pub owner_domains: Vec<Sid>,
    /// Domains of another forest; this fraction of devices gets an owner from them.
    pub foreign_domains: Vec<Sid>,
    /// The fraction of devices owned by a user of `foreign_domains`.
    pub foreign_fraction: f64,
}

impl SyntheticConfig {
    /// `count` devices under `seed`, owned by users of `owner_domain`.
    pub fn new(count: u64, seed: u64, owner_domain: Sid) -> SyntheticConfig {
        SyntheticConfig {
            count,
            seed,
            owner_domains: vec![owner_domain],
            foreign_domains: Vec::new(),
            foreign_fraction: 0.0,
        }
    }
}

/// A default owner domain SID for exports made without a target forest in mind.
pub fn default_owner_domain() -> Sid {
    Sid::from_parts(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330])
}

/// One generated device, with the fields tests like to change.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticDevice {
    /// Graph `id`.
    pub object_id: Guid,
    /// Graph `deviceId`.
    pub device_id: Guid,
    /// Graph `displayName`.
    pub display_name: String,
    /// Graph `accountEnabled`.
    pub account_enabled: bool,
    /// Graph `operatingSystem`.
    pub operating_system: String,
    /// Graph `operatingSystemVersion`.
    pub operating_system_version: String,
    /// Graph `trustType`.
    pub trust_type: &'static str,
    /// Graph `isManaged`.
    pub is_managed: bool,
    /// Graph `isCompliant`.
    pub is_compliant: bool,
    /// Graph `deviceVersion`.
    pub device_version: i64,
    /// Graph `physicalIds`.
    pub physical_ids: Vec<String>,
    /// The `altSecurityIdentities` text (`X509:<SHA1-TP-PUBKEY>...`).
    pub alt_security_identity: String,
    /// The owner's Entra object id.
    pub owner_id: Guid,
    /// The owner's UPN.
    pub owner_upn: String,
    /// The owner's on-premises SID.
    pub owner_sid: Sid,
}

/// The base64 Graph key for an `altSecurityIdentities` text: base64 of its UTF-16LE bytes.
pub fn graph_key_for(alt_security_identity: &str) -> String {
    let utf16: Vec<u8> = alt_security_identity
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

impl SyntheticDevice {
    /// The device as a Graph JSON object with `registeredOwners` expanded.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.object_id.to_string(),
            "deviceId": self.device_id.to_string(),
            "displayName": self.display_name,
            "accountEnabled": self.account_enabled,
            "operatingSystem": self.operating_system,
            "operatingSystemVersion": self.operating_system_version,
            "trustType": self.trust_type,
            "isManaged": self.is_managed,
            "isCompliant": self.is_compliant,
            "deviceVersion": self.device_version,
            "physicalIds": self.physical_ids,
            "alternativeSecurityIds": [{
                "type": 2,
                "identityProvider": null,
                "key": graph_key_for(&self.alt_security_identity),
            }],
            "registeredOwners": [{
                "@odata.type": "#microsoft.graph.user",
                "id": self.owner_id.to_string(),
                "userPrincipalName": self.owner_upn,
                "onPremisesSecurityIdentifier": self.owner_sid.to_string(),
            }],
        })
    }
}

/// The generator: an iterator of [`SyntheticDevice`]s.
#[derive(Clone, Debug)]
pub struct SyntheticDevices {
    config: SyntheticConfig,
    rng: SplitMix64,
    produced: u64,
}

impl SyntheticDevices {
    /// A generator for a configuration.
    pub fn new(config: SyntheticConfig) -> SyntheticDevices {
        let rng = SplitMix64::new(config.seed ^ 0xD3E7_1CE5_0000_0001);
        SyntheticDevices {
            config,
            rng,
            produced: 0,
        }
    }
}

const WINDOWS_VERSIONS: [&str; 4] = [
    "10.0.19045.3803",
    "10.0.22621.2861",
    "10.0.22631.4460",
    "10.0.26100.2314",
];
const IOS_VERSIONS: [&str; 3] = ["17.5.1", "18.1", "18.2.1"];
const ANDROID_VERSIONS: [&str; 3] = ["13", "14", "15"];
const MACOS_VERSIONS: [&str; 2] = ["14.6.1", "15.1"];

impl Iterator for SyntheticDevices {
    type Item = SyntheticDevice;

    fn next(&mut self) -> Option<SyntheticDevice> {
        if self.produced >= self.config.count {
            return None;
        }
        self.produced += 1;
        let r = &mut self.rng;
        let object_id = r.guid();
        let device_id = r.guid();
        let serial = r.next_u64();
        let (os, version, name, trust) = match r.below(10) {
            0..=5 => {
                let v = WINDOWS_VERSIONS[r.below(4) as usize];
                let trust = ["AzureAd", "ServerAd", "Workplace"][r.below(3) as usize];
                let prefix = if r.chance(0.5) { "DESKTOP" } else { "LAPTOP" };
                (
                    "Windows",
                    v,
                    format!("{prefix}-{:07X}", serial & 0xFFF_FFFF),
                    trust,
                )
            }
            6 | 7 => {
                let v = IOS_VERSIONS[r.below(3) as usize];
                (
                    "iOS",
                    v,
                    format!("iPhone-{:06X}", serial & 0xFF_FFFF),
                    "Workplace",
                )
            }
            8 => {
                let v = ANDROID_VERSIONS[r.below(3) as usize];
                (
                    "Android",
                    v,
                    format!("Pixel-{:06X}", serial & 0xFF_FFFF),
                    "Workplace",
                )
            }
            _ => {
                let v = MACOS_VERSIONS[r.below(2) as usize];
                (
                    "MacMDM",
                    v,
                    format!("MacBook-{:06X}", serial & 0xFF_FFFF),
                    "Workplace",
                )
            }
        };
        let foreign =
            !self.config.foreign_domains.is_empty() && r.chance(self.config.foreign_fraction);
        let domains = if foreign {
            &self.config.foreign_domains
        } else {
            &self.config.owner_domains
        };
        let domain = domains
            .get(r.below(domains.len() as u64) as usize)
            .copied()
            .unwrap_or_else(default_owner_domain);
        let rid = 1100 + r.below(5_000_000) as u32;
        let owner_sid = domain.with_rid(rid);
        let owner_id = r.guid();
        let thumbprint: String = r.bytes(20).iter().map(|b| format!("{b:02X}")).collect();
        let key_hash = base64::engine::general_purpose::STANDARD.encode(r.bytes(32));
        let user_gid = r.guid();
        let hwid = base64::engine::general_purpose::STANDARD.encode(r.bytes(24));
        let physical_ids = vec![
            format!("[USER-GID]:{user_gid}:{}", r.next_u64() % 10_000_000_000),
            format!("[GID]:g:{}", r.next_u64() % 10_000_000_000_000),
            format!("[HWID]:h:{hwid}"),
        ];
        Some(SyntheticDevice {
            object_id,
            device_id,
            display_name: name,
            account_enabled: r.chance(0.95),
            operating_system: os.to_owned(),
            operating_system_version: version.to_owned(),
            trust_type: trust,
            is_managed: r.chance(0.6),
            is_compliant: r.chance(0.5),
            device_version: 2,
            physical_ids,
            alt_security_identity: format!("X509:<SHA1-TP-PUBKEY>{thumbprint}{key_hash}"),
            owner_id,
            owner_upn: format!("user{rid}@contoso.example"),
            owner_sid,
        })
    }
}

/// How to lay out a generated export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportLayout {
    /// One Graph page `{"value": [...]}`.
    Page,
    /// One device a line, then the end line `{"@odata.count":N}`.
    JsonLines,
}

/// Writes devices as one Graph page or as JSON Lines, streaming.
pub fn write_export(
    devices: impl Iterator<Item = Value>,
    layout: ExportLayout,
    out: &mut dyn Write,
) -> io::Result<()> {
    match layout {
        ExportLayout::Page => {
            out.write_all(
                b"{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#devices(registeredOwners())\",\"value\":[\n",
            )?;
            for (n, device) in devices.enumerate() {
                if n > 0 {
                    out.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut *out, &device)?;
            }
            out.write_all(b"\n]}\n")
        }
        ExportLayout::JsonLines => {
            let mut count = 0u64;
            for device in devices {
                serde_json::to_writer(&mut *out, &device)?;
                out.write_all(b"\n")?;
                count += 1;
            }
            // The end line that tells a complete JSON Lines export from a cut one.
            writeln!(out, "{{\"@odata.count\":{count}}}")
        }
    }
}

/// Writes devices as a directory of Graph pages of `page_size`, named `page-0001.json`...,
/// each but the last with an `@odata.nextLink` as Graph gives it.
pub fn write_pages(
    devices: impl Iterator<Item = Value>,
    page_size: usize,
    dir: &std::path::Path,
) -> io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let page_size = page_size.max(1);
    let mut devices = devices.peekable();
    let mut page = 0usize;
    loop {
        page += 1;
        let chunk: Vec<Value> = devices.by_ref().take(page_size).collect();
        let more = devices.peek().is_some();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices(registeredOwners())",
            "value": chunk,
        });
        if more {
            if let Some(map) = body.as_object_mut() {
                map.insert(
                    "@odata.nextLink".to_owned(),
                    Value::String(format!(
                        "https://graph.microsoft.com/v1.0/devices?$expand=registeredOwners&$top={page_size}&$skiptoken=page{}",
                        page + 1
                    )),
                );
            }
        }
        let file = std::fs::File::create(dir.join(format!("page-{page:04}.json")))?;
        let mut out = io::BufWriter::new(file);
        serde_json::to_writer(&mut out, &body)?;
        out.flush()?;
        if !more {
            return Ok(page);
        }
    }
}
