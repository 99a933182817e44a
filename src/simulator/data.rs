//! The simulator's records: field lists, the seed from Cisco's "Port Groups and Ports" page,
//! and the deterministic generator for bigger data sets.
//!
//! A record is just its values, in the fixed field order of its [`Kind`]; the field names live
//! once in static tables. That keeps XML output in a stable CUPI field order, makes column
//! lookups an index, and keeps large generated data sets small in memory.

use super::SimulatorConfig;

/// One record's values, aligned with [`Kind::fields`].
pub(crate) type Record = Vec<String>;

/// PortGroup fields: first the ones a list shows (the Cisco page's order), then the extra
/// fields that only GET by object id returns.
const PORT_GROUP_FIELDS: &[&str] = &[
    "URI",
    "MediaPortGroupTemplateObjectId",
    "MediaSwitchObjectId",
    "PhoneSystemURI",
    "TelephonyIntegrationMethodEnum",
    "EnableMWI",
    "DisplayName",
    "CcmDoAutoFailback",
    "MwiOnCode",
    "MwiOffCode",
    "MwiRetryCountOnSuccess",
    "MwiRetryIntervalOnSuccessMs",
    "ObjectId",
    "SipTransportProtocolEnum",
    "SipRegisterWithProxyServer",
    "SipDoAuthenticate",
    "SkinnyDevicePrefix",
    "MwiMinRequestIntervalMs",
    "MwiMaxConcurrentRequests",
    "MediaSwitchDisplayName",
    "PortCount",
    "SipDoSRTP",
    "SipTLSModeEnum",
    "ResetStatusEnum",
    // Full object only.
    "DelayBeforeOpeningMs",
    "DtmfDialInterDigitDelayMs",
    "MediaSipSecurityProfileObjectId",
    "NoiseFreeEnable",
    "OutgoingGuardTimeMs",
    "OutgoingPostDialDelayMs",
    "OutgoingPreDialDelayMs",
    "PreferredCallControl",
    "RecordingDTMFClipMs",
    "RecordingToneExtraClipMs",
    "SipContactLineName",
    "SipDoDtmfRfc2833",
    "SipDoDtmfKPML",
    "SipPreferredMedia",
    "WaitForCallInfoMs",
    "EnableAGC",
];
/// How many leading [`PORT_GROUP_FIELDS`] a list shows.
const PORT_GROUP_LIST_LEN: usize = field_index(PORT_GROUP_FIELDS, "ResetStatusEnum") + 1;

/// Port fields in the Cisco page's order (lists and GET by id show the same fields).
const PORT_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "MediaPortGroupObjectId",
    "PortGroupURI",
    "TelephonyIntegrationMethodEnum",
    "PortNumInGroup",
    "SkinnySecurityModeEnum",
    "SkinnyDoMediaEncryption",
    "VmsServerObjectId",
    "HuntOrder",
    "DisplayName",
    "SkinnyDeviceName",
    "PimgPortNumber",
    "CapAnswer",
    "CapNotification",
    "CapMWI",
    "CapEnabled",
    "CapDeliverAmis",
    "CapTrapConnection",
    "MediaSwitchDisplayName",
    "MediaSwitchObjectId",
    "PhoneSystemURI",
    "MediaPortGroupDisplayName",
    "MediaPortGroupEnableMWI",
    "MediaPortGroupMwiReqPortSpecific",
    "SipSendPort",
    "VmsServerName",
];

/// Compile-time field lookup, so a renamed field breaks the build rather than a request.
const fn field_index(fields: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < fields.len() {
        let (a, b) = (fields[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("unknown field")
}

const PG_OBJECT_ID: usize = field_index(PORT_GROUP_FIELDS, "ObjectId");
const PORT_OBJECT_ID: usize = field_index(PORT_FIELDS, "ObjectId");
/// The only PortGroup fields a PUT may change (per the Cisco page).
pub(crate) const WRITABLE_PORT_GROUP_FIELDS: &[&str] = &["MwiOnCode", "MwiOffCode"];

/// The two resource types the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    PortGroup,
    Port,
}

impl Kind {
    /// All field names, in rendering order.
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::PortGroup => PORT_GROUP_FIELDS,
            Kind::Port => PORT_FIELDS,
        }
    }

    /// Number of leading fields a list shows.
    pub(crate) fn list_len(self) -> usize {
        match self {
            Kind::PortGroup => PORT_GROUP_LIST_LEN,
            Kind::Port => PORT_FIELDS.len(),
        }
    }

    /// Element name of one item (`PortGroup`).
    pub(crate) fn item(self) -> &'static str {
        match self {
            Kind::PortGroup => "PortGroup",
            Kind::Port => "Port",
        }
    }

    /// Element name of a list (`PortGroups`).
    pub(crate) fn collection(self) -> &'static str {
        match self {
            Kind::PortGroup => "PortGroups",
            Kind::Port => "Ports",
        }
    }

    /// Index of `ObjectId`.
    pub(crate) fn object_id(self) -> usize {
        match self {
            Kind::PortGroup => PG_OBJECT_ID,
            Kind::Port => PORT_OBJECT_ID,
        }
    }

    /// Index of a column named in a query or sort; names match in any ASCII case.
    pub(crate) fn column(self, name: &str) -> Option<usize> {
        self.fields()
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
    }
}

/// All records of one simulator instance.
pub(crate) struct Store {
    pub(crate) port_groups: Vec<Record>,
    pub(crate) ports: Vec<Record>,
}

impl Store {
    /// The seed plus `config.generated_port_groups` generated groups and their ports.
    pub(crate) fn new(config: &SimulatorConfig) -> Self {
        let (mut port_groups, mut ports) = seed();
        let per_group = config.ports_per_generated_group;
        port_groups.reserve(config.generated_port_groups);
        ports.reserve(config.generated_port_groups.saturating_mul(per_group));
        for k in 1..=config.generated_port_groups {
            port_groups.push(generated_port_group(k, per_group));
            for i in 1..=per_group {
                ports.push(generated_port(k, i, per_group));
            }
        }
        Store { port_groups, ports }
    }

    pub(crate) fn records(&self, kind: Kind) -> &[Record] {
        match kind {
            Kind::PortGroup => &self.port_groups,
            Kind::Port => &self.ports,
        }
    }

    /// Position of the record with this object id (ASCII case-insensitive).
    pub(crate) fn find(&self, kind: Kind, id: &str) -> Option<usize> {
        let at = kind.object_id();
        self.records(kind)
            .iter()
            .position(|r| r[at].eq_ignore_ascii_case(id))
    }
}

/// Appends values in field order, checking each name against the kind's table.
struct Builder {
    names: &'static [&'static str],
    values: Record,
}

impl Builder {
    fn new(kind: Kind) -> Self {
        let names = kind.fields();
        Builder {
            names,
            values: Vec::with_capacity(names.len()),
        }
    }

    fn f(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        assert_eq!(self.names[self.values.len()], name, "field out of order");
        self.values.push(value.to_string());
        self
    }

    fn done(self) -> Record {
        assert_eq!(self.values.len(), self.names.len(), "missing fields");
        self.values
    }
}

const SEED_GROUP_ID: &str = "035853ce-f4e6-4de2-bda2-84acf827a555";
const SEED_TEMPLATE_ID: &str = "90dd306f-b8af-46b6-8289-f13437cc1e5e";
const SEED_SWITCH_ID: &str = "05186ad4-572c-48d1-aaa6-ac22280c8702";
const SEED_SWITCH_NAME: &str = "PhoneSystem";
const VMS_SERVER_ID: &str = "a7ba129e-6420-4d44-b060-93b638ba866a";
const VMS_SERVER_NAME: &str = "cuc-install-55";

/// Default values of the full-object-only PortGroup fields (also used by the generator).
fn port_group_extras(b: Builder, k: usize) -> Builder {
    b.f("DelayBeforeOpeningMs", 0)
        .f("DtmfDialInterDigitDelayMs", 0)
        .f("MediaSipSecurityProfileObjectId", "")
        .f("NoiseFreeEnable", k % 4 == 3)
        .f("OutgoingGuardTimeMs", 200)
        .f("OutgoingPostDialDelayMs", 0)
        .f("OutgoingPreDialDelayMs", 0)
        .f("PreferredCallControl", 0)
        .f("RecordingDTMFClipMs", 170)
        .f("RecordingToneExtraClipMs", 350)
        .f("SipContactLineName", "")
        .f("SipDoDtmfRfc2833", true)
        .f("SipDoDtmfKPML", k % 5 == 4)
        .f("SipPreferredMedia", 0)
        .f("WaitForCallInfoMs", 1500)
        .f("EnableAGC", true)
}

/// The Cisco page's PhoneSystem-1 and its two ports, typos fixed.
fn seed() -> (Vec<Record>, Vec<Record>) {
    let group = port_group_extras(
        Builder::new(Kind::PortGroup)
            .f("URI", format!("/vmrest/portgroups/{SEED_GROUP_ID}"))
            .f("MediaPortGroupTemplateObjectId", SEED_TEMPLATE_ID)
            .f("MediaSwitchObjectId", SEED_SWITCH_ID)
            .f(
                "PhoneSystemURI",
                format!("/vmrest/phonesystems/{SEED_SWITCH_ID}"),
            )
            .f("TelephonyIntegrationMethodEnum", 1)
            .f("EnableMWI", true)
            .f("DisplayName", "PhoneSystem-1")
            .f("CcmDoAutoFailback", true)
            .f("MwiOnCode", "")
            .f("MwiOffCode", "")
            .f("MwiRetryCountOnSuccess", 0)
            .f("MwiRetryIntervalOnSuccessMs", 5)
            .f("ObjectId", SEED_GROUP_ID)
            .f("SipTransportProtocolEnum", 10)
            .f("SipRegisterWithProxyServer", false)
            .f("SipDoAuthenticate", false)
            .f("SkinnyDevicePrefix", "test-VI")
            .f("MwiMinRequestIntervalMs", 0)
            .f("MwiMaxConcurrentRequests", 0)
            .f("MediaSwitchDisplayName", SEED_SWITCH_NAME)
            .f("PortCount", 2)
            .f("SipDoSRTP", true)
            .f("SipTLSModeEnum", 11)
            .f("ResetStatusEnum", 0),
        0,
    )
    .done();
    let port = |id: &str, n: usize| {
        Builder::new(Kind::Port)
            .f("URI", format!("/vmrest/ports/{id}"))
            .f("ObjectId", id)
            .f("MediaPortGroupObjectId", SEED_GROUP_ID)
            .f(
                "PortGroupURI",
                format!("/vmrest/portgroups/{SEED_GROUP_ID}"),
            )
            .f("TelephonyIntegrationMethodEnum", 1)
            .f("PortNumInGroup", n)
            .f("SkinnySecurityModeEnum", 0)
            .f("SkinnyDoMediaEncryption", false)
            .f("VmsServerObjectId", VMS_SERVER_ID)
            .f("HuntOrder", 0)
            .f("DisplayName", format!("PhoneSystem-1-{n:03}"))
            .f("SkinnyDeviceName", format!("test-VI{n}"))
            .f("PimgPortNumber", n)
            .f("CapAnswer", true)
            .f("CapNotification", true)
            .f("CapMWI", true)
            .f("CapEnabled", true)
            .f("CapDeliverAmis", false)
            .f("CapTrapConnection", true)
            .f("MediaSwitchDisplayName", SEED_SWITCH_NAME)
            .f("MediaSwitchObjectId", SEED_SWITCH_ID)
            .f(
                "PhoneSystemURI",
                format!("/vmrest/phonesystems/{SEED_SWITCH_ID}"),
            )
            .f("MediaPortGroupDisplayName", "PhoneSystem-1")
            .f("MediaPortGroupEnableMWI", true)
            .f("MediaPortGroupMwiReqPortSpecific", true)
            .f("SipSendPort", 0)
            .f("VmsServerName", VMS_SERVER_NAME)
            .done()
    };
    let ports = vec![
        port("2806ecdc-0a3d-43f3-a2c8-93d786fa506b", 1),
        port("f87ad180-7d06-48c9-b9bd-e6b5cd2311bc", 2),
    ];
    (vec![group], ports)
}

const TAG_GROUP: u64 = 1;
const TAG_PORT: u64 = 2;
const TAG_SWITCH: u64 = 3;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic, UUID-shaped (version 4 layout) id. The last group holds the tag and the
/// counter, so ids never collide; the rest is a hash so they look random.
fn generated_id(tag: u64, n: u64) -> String {
    let h = splitmix64((tag << 56) ^ n);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        8 + ((h >> 12) & 3),
        (h >> 4) & 0xfff,
        ((tag & 0xff) << 40) | (n & 0xff_ffff_ffff)
    )
}

/// What a generated group's ports copy from it.
struct GroupTraits {
    id: String,
    name: String,
    switch_id: String,
    switch_name: String,
    integration: u8,
    enable_mwi: bool,
    mwi_port_specific: bool,
    prefix: String,
}

fn group_traits(k: usize) -> GroupTraits {
    let (switch_id, switch_name) = match k % 3 {
        0 => (SEED_SWITCH_ID.to_string(), SEED_SWITCH_NAME.to_string()),
        m => (
            generated_id(TAG_SWITCH, m as u64),
            format!("GeneratedPhoneSystem-{m}"),
        ),
    };
    GroupTraits {
        id: generated_id(TAG_GROUP, k as u64),
        name: format!("Generated-{k:05}"),
        switch_id,
        switch_name,
        // 1 = SCCP, 2 = SIP.
        integration: if k.is_multiple_of(2) { 2 } else { 1 },
        enable_mwi: !k.is_multiple_of(4),
        mwi_port_specific: k % 3 != 1,
        prefix: format!("gen{k}-VI"),
    }
}

/// Generated port group number `k` (from 1) with `ports` ports.
pub(crate) fn generated_port_group(k: usize, ports: usize) -> Record {
    let t = group_traits(k);
    let sip = t.integration == 2;
    let b = Builder::new(Kind::PortGroup)
        .f("URI", format!("/vmrest/portgroups/{}", t.id))
        .f("MediaPortGroupTemplateObjectId", SEED_TEMPLATE_ID)
        .f("MediaSwitchObjectId", &t.switch_id)
        .f(
            "PhoneSystemURI",
            format!("/vmrest/phonesystems/{}", t.switch_id),
        )
        .f("TelephonyIntegrationMethodEnum", t.integration)
        .f("EnableMWI", t.enable_mwi)
        .f("DisplayName", &t.name)
        .f("CcmDoAutoFailback", k % 2 == 1)
        .f(
            "MwiOnCode",
            if k.is_multiple_of(5) {
                format!("{}", 600 + k % 100)
            } else {
                String::new()
            },
        )
        .f(
            "MwiOffCode",
            if k.is_multiple_of(5) {
                format!("{}", 700 + k % 100)
            } else {
                String::new()
            },
        )
        .f("MwiRetryCountOnSuccess", k % 3)
        .f("MwiRetryIntervalOnSuccessMs", 5 * (1 + k % 4))
        .f("ObjectId", &t.id)
        .f(
            "SipTransportProtocolEnum",
            if sip && k.is_multiple_of(4) { 11 } else { 10 },
        )
        .f("SipRegisterWithProxyServer", sip && k.is_multiple_of(3))
        .f("SipDoAuthenticate", sip && k.is_multiple_of(5))
        .f("SkinnyDevicePrefix", &t.prefix)
        .f(
            "MwiMinRequestIntervalMs",
            if k.is_multiple_of(6) { 100 } else { 0 },
        )
        .f("MwiMaxConcurrentRequests", k % 4)
        .f("MediaSwitchDisplayName", &t.switch_name)
        .f("PortCount", ports)
        .f("SipDoSRTP", k.is_multiple_of(2))
        .f("SipTLSModeEnum", 11 + (k % 2))
        .f("ResetStatusEnum", usize::from(k.is_multiple_of(7)));
    port_group_extras(b, k).done()
}

/// Port `i` (from 1) of generated group `k`, whose groups each have `per_group` ports.
pub(crate) fn generated_port(k: usize, i: usize, per_group: usize) -> Record {
    let t = group_traits(k);
    let n = (k - 1) * per_group + i;
    let id = generated_id(TAG_PORT, n as u64);
    Builder::new(Kind::Port)
        .f("URI", format!("/vmrest/ports/{id}"))
        .f("ObjectId", &id)
        .f("MediaPortGroupObjectId", &t.id)
        .f("PortGroupURI", format!("/vmrest/portgroups/{}", t.id))
        .f("TelephonyIntegrationMethodEnum", t.integration)
        .f("PortNumInGroup", i)
        .f(
            "SkinnySecurityModeEnum",
            if t.integration == 1 { k % 3 } else { 0 },
        )
        .f("SkinnyDoMediaEncryption", t.integration == 1 && k % 3 == 2)
        .f("VmsServerObjectId", VMS_SERVER_ID)
        .f("HuntOrder", i % 3)
        .f("DisplayName", format!("{}-{i:03}", t.name))
        .f("SkinnyDeviceName", format!("{}{i}", t.prefix))
        .f("PimgPortNumber", i)
        .f("CapAnswer", !i.is_multiple_of(4))
        .f("CapNotification", i.is_multiple_of(2))
        .f("CapMWI", i % 3 != 2)
        .f("CapEnabled", !n.is_multiple_of(10))
        .f("CapDeliverAmis", n.is_multiple_of(13))
        .f("CapTrapConnection", !i.is_multiple_of(5))
        .f("MediaSwitchDisplayName", &t.switch_name)
        .f("MediaSwitchObjectId", &t.switch_id)
        .f(
            "PhoneSystemURI",
            format!("/vmrest/phonesystems/{}", t.switch_id),
        )
        .f("MediaPortGroupDisplayName", &t.name)
        .f("MediaPortGroupEnableMWI", t.enable_mwi)
        .f("MediaPortGroupMwiReqPortSpecific", t.mwi_port_specific)
        .f("SipSendPort", if t.integration == 2 { 5060 } else { 0 })
        .f("VmsServerName", VMS_SERVER_NAME)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuid_shaped_and_distinct() {
        let a = generated_id(TAG_GROUP, 1);
        let b = generated_id(TAG_PORT, 1);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, b);
        assert_eq!(a, generated_id(TAG_GROUP, 1));
    }

    #[test]
    fn ports_point_at_their_group() {
        let g = generated_port_group(3, 2);
        let p = generated_port(3, 2, 2);
        let col = Kind::Port.column("mediaportgroupobjectid").unwrap();
        assert_eq!(p[col], g[Kind::PortGroup.object_id()]);
    }
}
