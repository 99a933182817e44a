//! The simulator's records: field lists, the seed from Cisco's "Port Groups and Ports" page,
//! and the deterministic generator for bigger data sets.
//!
//! Besides port groups and ports it holds what their fields point at, so a frontend that
//! follows a link never meets a 404: phone systems (`MediaSwitchObjectId`, `PhoneSystemURI`),
//! the three port group templates (`MediaPortGroupTemplateObjectId`), and each port group's
//! servers and codecs. Their field names are those of Cisco's "Telephony Integrations" API page
//! and of public CUPI clients.
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

/// PhoneSystem fields in the order of Cisco's "Phone Systems" example. Its `AXLServerURI` and
/// `PhoneSystemAssociationURI` are left out: the simulator serves neither sub-resource, and
/// every URI it renders must answer.
const PHONE_SYSTEM_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "DisplayName",
    "MwiAlwaysUpdate",
    "MwiPortMemory",
    "CallLoopSupervisedTransferDetect",
    "CallLoopForwardNotificationDetect",
    "CallLoopDTMF",
    "CallLoopGuardTimeMs",
    "PortCount",
    "EnablePhoneApplications",
    "DefaultTRaPSwitch",
    "MwiForceOff",
    "RestrictDialUnconditional",
    "RestrictDialScheduled",
    "RestrictDialStartTime",
    "RestrictDialEndTime",
    "CallLoopExtensionDetect",
];

/// PortGroupTemplate fields: one template per integration method, read-only in CUPI too.
const PORT_GROUP_TEMPLATE_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "TemplateDescriptionDefault",
    "CopyTelephonyIntegrationMethodEnum",
];

/// PortGroupServer fields (`/vmrest/portgroups/{id}/portgroupservers`): the Cisco Unified CM
/// or SIP servers a port group registers with, in order of `Precedence`.
const PORT_GROUP_SERVER_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "MediaPortGroupObjectId",
    "MediaRemoteServiceEnum",
    "HostOrIPAddress",
    "HostOrIPAddressV6",
    "Port",
    "TlsPort",
    "Precedence",
    "SkinnyStateMachineEnum",
];

/// PortGroupCodec fields (`/vmrest/portgroups/{id}/portgroupcodecs`): the codecs a port group
/// advertises, lower `Preference` first.
const PORT_GROUP_CODEC_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "MediaPortGroupObjectId",
    "RtpCodecDefObjectId",
    "RtpCodecDefDisplayName",
    "PreferredPacketSizeMs",
    "Preference",
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

/// PortGroup columns the related records are derived from.
const PG_OBJECT_ID: usize = field_index(PORT_GROUP_FIELDS, "ObjectId");
const PG_SWITCH_ID: usize = field_index(PORT_GROUP_FIELDS, "MediaSwitchObjectId");
const PG_SWITCH_NAME: usize = field_index(PORT_GROUP_FIELDS, "MediaSwitchDisplayName");
const PG_INTEGRATION: usize = field_index(PORT_GROUP_FIELDS, "TelephonyIntegrationMethodEnum");
const PG_PORT_COUNT: usize = field_index(PORT_GROUP_FIELDS, "PortCount");

/// The only PortGroup fields a PUT may change (per the Cisco page).
pub(crate) const WRITABLE_PORT_GROUP_FIELDS: &[&str] = &["MwiOnCode", "MwiOffCode"];

/// The resource types the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    PortGroup,
    Port,
    PhoneSystem,
    PortGroupTemplate,
    PortGroupServer,
    PortGroupCodec,
}

/// What routing and rendering need to know about a [`Kind`], kept in one table so adding a
/// resource is one entry rather than a new arm in every method.
struct KindInfo {
    /// Element name of one item (`PortGroup`).
    item: &'static str,
    /// Element name of a list (`PortGroups`).
    collection: &'static str,
    /// Path segment of the list (`portgroups`).
    segment: &'static str,
    fields: &'static [&'static str],
    /// Number of leading fields a list shows.
    list_len: usize,
    object_id: usize,
    /// For a sub-resource: the kind it lives under and the column holding the parent's id.
    parent: Option<(Kind, usize)>,
}

const fn top_level(
    item: &'static str,
    collection: &'static str,
    segment: &'static str,
    fields: &'static [&'static str],
    list_len: usize,
) -> KindInfo {
    KindInfo {
        item,
        collection,
        segment,
        fields,
        list_len,
        object_id: field_index(fields, "ObjectId"),
        parent: None,
    }
}

/// A resource under `/vmrest/portgroups/{id}/`, whose records name their group in
/// `MediaPortGroupObjectId`.
const fn under_port_group(
    item: &'static str,
    collection: &'static str,
    segment: &'static str,
    fields: &'static [&'static str],
) -> KindInfo {
    KindInfo {
        parent: Some((
            Kind::PortGroup,
            field_index(fields, "MediaPortGroupObjectId"),
        )),
        ..top_level(item, collection, segment, fields, fields.len())
    }
}

const PORT_GROUP: KindInfo = top_level(
    "PortGroup",
    "PortGroups",
    "portgroups",
    PORT_GROUP_FIELDS,
    PORT_GROUP_LIST_LEN,
);
const PORT: KindInfo = top_level("Port", "Ports", "ports", PORT_FIELDS, PORT_FIELDS.len());
const PHONE_SYSTEM: KindInfo = top_level(
    "PhoneSystem",
    "PhoneSystems",
    "phonesystems",
    PHONE_SYSTEM_FIELDS,
    PHONE_SYSTEM_FIELDS.len(),
);
const PORT_GROUP_TEMPLATE: KindInfo = top_level(
    "PortGroupTemplate",
    "PortGroupTemplates",
    "portgrouptemplates",
    PORT_GROUP_TEMPLATE_FIELDS,
    PORT_GROUP_TEMPLATE_FIELDS.len(),
);
const PORT_GROUP_SERVER: KindInfo = under_port_group(
    "PortGroupServer",
    "PortGroupServers",
    "portgroupservers",
    PORT_GROUP_SERVER_FIELDS,
);
const PORT_GROUP_CODEC: KindInfo = under_port_group(
    "PortGroupCodec",
    "PortGroupCodecs",
    "portgroupcodecs",
    PORT_GROUP_CODEC_FIELDS,
);

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::PortGroup,
        Kind::Port,
        Kind::PhoneSystem,
        Kind::PortGroupTemplate,
        Kind::PortGroupServer,
        Kind::PortGroupCodec,
    ];

    fn info(self) -> &'static KindInfo {
        match self {
            Kind::PortGroup => &PORT_GROUP,
            Kind::Port => &PORT,
            Kind::PhoneSystem => &PHONE_SYSTEM,
            Kind::PortGroupTemplate => &PORT_GROUP_TEMPLATE,
            Kind::PortGroupServer => &PORT_GROUP_SERVER,
            Kind::PortGroupCodec => &PORT_GROUP_CODEC,
        }
    }

    /// The kind whose list is at `segment`: under `/vmrest/` when `parent` is `None`, else
    /// under one record of `parent`.
    pub(crate) fn at(parent: Option<Kind>, segment: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.info().segment == segment && k.info().parent.map(|(p, _)| p) == parent)
    }

    /// All field names, in rendering order.
    pub(crate) fn fields(self) -> &'static [&'static str] {
        self.info().fields
    }

    /// Number of leading fields a list shows.
    pub(crate) fn list_len(self) -> usize {
        self.info().list_len
    }

    /// Element name of one item (`PortGroup`).
    pub(crate) fn item(self) -> &'static str {
        self.info().item
    }

    /// Element name of a list (`PortGroups`).
    pub(crate) fn collection(self) -> &'static str {
        self.info().collection
    }

    /// Path segment of the list (`portgroups`).
    fn segment(self) -> &'static str {
        self.info().segment
    }

    /// Index of `ObjectId`.
    pub(crate) fn object_id(self) -> usize {
        self.info().object_id
    }

    /// For a sub-resource, the kind it lives under and the column naming the parent.
    pub(crate) fn parent(self) -> Option<(Kind, usize)> {
        self.info().parent
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
    phone_systems: Vec<Record>,
    port_group_templates: Vec<Record>,
    port_group_servers: Vec<Record>,
    port_group_codecs: Vec<Record>,
}

impl Store {
    /// The seed plus `config.generated_port_groups` generated groups and their ports, and the
    /// phone systems, templates, servers and codecs those groups refer to.
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
        let mut port_group_servers = Vec::with_capacity(port_groups.len() * 2);
        let mut port_group_codecs = Vec::with_capacity(port_groups.len() * 2);
        for (n, group) in port_groups.iter().enumerate() {
            port_group_servers.extend(servers_of(n, group));
            port_group_codecs.extend(codecs_of(n, group));
        }
        Store {
            phone_systems: phone_systems_of(&port_groups),
            port_group_templates: port_group_templates(),
            port_groups,
            ports,
            port_group_servers,
            port_group_codecs,
        }
    }

    pub(crate) fn records(&self, kind: Kind) -> &[Record] {
        match kind {
            Kind::PortGroup => &self.port_groups,
            Kind::Port => &self.ports,
            Kind::PhoneSystem => &self.phone_systems,
            Kind::PortGroupTemplate => &self.port_group_templates,
            Kind::PortGroupServer => &self.port_group_servers,
            Kind::PortGroupCodec => &self.port_group_codecs,
        }
    }

    /// Position of the record with this object id (ASCII case-insensitive).
    pub(crate) fn find(&self, kind: Kind, id: &str) -> Option<usize> {
        let at = kind.object_id();
        self.records(kind)
            .iter()
            .position(|r| r[at].eq_ignore_ascii_case(id))
    }

    /// The records of `kind` that live under the record `parent` names (every record for a
    /// top-level kind), or `None` when that parent does not exist, which CUPI answers 404.
    pub(crate) fn under<'a>(
        &'a self,
        kind: Kind,
        parent: Option<&str>,
    ) -> Option<impl Iterator<Item = &'a Record> + 'a> {
        let scope = match (kind.parent(), parent) {
            (Some((parent_kind, column)), Some(id)) => {
                let at = self.find(parent_kind, id)?;
                let parent_id = self.records(parent_kind)[at][parent_kind.object_id()].as_str();
                Some((column, parent_id))
            }
            _ => None,
        };
        Some(
            self.records(kind)
                .iter()
                .filter(move |r| scope.is_none_or(|(column, id)| r[column] == id)),
        )
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

/// PhoneSystem-1, the port group of Cisco's documentation, seeded first.
pub const SEED_GROUP_ID: &str = "035853ce-f4e6-4de2-bda2-84acf827a555";
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
const TAG_TEMPLATE: u64 = 4;
const TAG_SERVER: u64 = 5;
const TAG_CODEC: u64 = 6;
const TAG_CODEC_DEF: u64 = 7;

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
        .f("MediaPortGroupTemplateObjectId", template_id(t.integration))
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

/// Unity Connection's port group templates, one per `TelephonyIntegrationMethodEnum`
/// (1 SCCP, 2 SIP, 3 PIMG/TIMG); the SCCP one has the id the Cisco page's port group names.
const TEMPLATES: [(u8, &str); 3] = [(1, "SCCP"), (2, "SIP"), (3, "PIMG/TIMG")];

/// The id of the template for an integration method.
fn template_id(integration: u8) -> String {
    match integration {
        1 => SEED_TEMPLATE_ID.to_string(),
        m => generated_id(TAG_TEMPLATE, u64::from(m)),
    }
}

fn port_group_templates() -> Vec<Record> {
    TEMPLATES
        .iter()
        .map(|&(integration, description)| {
            let id = template_id(integration);
            Builder::new(Kind::PortGroupTemplate)
                .f("URI", format!("/vmrest/portgrouptemplates/{id}"))
                .f("ObjectId", &id)
                .f("TemplateDescriptionDefault", description)
                .f("CopyTelephonyIntegrationMethodEnum", integration)
                .done()
        })
        .collect()
}

/// One phone system per distinct `MediaSwitchObjectId` of the port groups, in order of first
/// use, each counting the ports of its groups. The first is the default TRaP switch.
fn phone_systems_of(port_groups: &[Record]) -> Vec<Record> {
    let (id_at, name_at) = (PG_SWITCH_ID, PG_SWITCH_NAME);
    let mut switches: Vec<(&str, &str, usize)> = Vec::new();
    for group in port_groups {
        let ports: usize = group[PG_PORT_COUNT].parse().unwrap_or(0);
        match switches.iter_mut().find(|(id, _, _)| *id == group[id_at]) {
            Some((_, _, count)) => *count += ports,
            None => switches.push((&group[id_at], &group[name_at], ports)),
        }
    }
    switches
        .iter()
        .enumerate()
        .map(|(n, &(id, name, ports))| {
            Builder::new(Kind::PhoneSystem)
                .f("URI", format!("/vmrest/phonesystems/{id}"))
                .f("ObjectId", id)
                .f("DisplayName", name)
                .f("MwiAlwaysUpdate", false)
                .f("MwiPortMemory", false)
                .f("CallLoopSupervisedTransferDetect", false)
                .f("CallLoopForwardNotificationDetect", false)
                .f("CallLoopDTMF", "A")
                .f("CallLoopGuardTimeMs", 2500)
                .f("PortCount", ports)
                .f("EnablePhoneApplications", false)
                .f("DefaultTRaPSwitch", n == 0)
                .f("MwiForceOff", false)
                .f("RestrictDialUnconditional", false)
                .f("RestrictDialScheduled", false)
                .f("RestrictDialStartTime", 0)
                .f("RestrictDialEndTime", 0)
                .f("CallLoopExtensionDetect", true)
                .done()
        })
        .collect()
}

/// The fields every record under a port group starts with: its URI, its id (the `i`-th, 1 or
/// 2, of port group number `n`) and its group's id.
fn under_group(kind: Kind, tag: u64, n: usize, i: usize, group_id: &str) -> Builder {
    let id = generated_id(tag, (2 * n + i) as u64);
    Builder::new(kind)
        .f(
            "URI",
            format!("/vmrest/portgroups/{group_id}/{}/{id}", kind.segment()),
        )
        .f("ObjectId", &id)
        .f("MediaPortGroupObjectId", group_id)
}

/// The two servers of port group number `n` (0 is the seed): a Cisco Unified CM publisher
/// and subscriber (`MediaRemoteServiceEnum` 100) for an SCCP group, a primary and a backup SIP
/// proxy (102) for a SIP one.
fn servers_of(n: usize, group: &Record) -> [Record; 2] {
    let group_id = &group[PG_OBJECT_ID];
    let (service, host, port, tls_port) = match group[PG_INTEGRATION].as_str() {
        "2" => (102, "sip-proxy", 5060, 5061),
        _ => (100, "cucm", 2000, 2443),
    };
    [1, 2].map(|precedence| {
        under_group(Kind::PortGroupServer, TAG_SERVER, n, precedence, group_id)
            .f("MediaRemoteServiceEnum", service)
            .f(
                "HostOrIPAddress",
                format!("{host}-{precedence}.example.com"),
            )
            .f("HostOrIPAddressV6", "")
            .f("Port", port)
            .f("TlsPort", tls_port)
            .f("Precedence", precedence)
            // The value Cisco's server examples carry.
            .f("SkinnyStateMachineEnum", 10)
            .done()
    })
}

/// The codecs every port group advertises, most preferred first: (definition id, name).
const CODECS: [(u64, &str); 2] = [(1, "G.711 mu-law"), (2, "G.729")];

/// The codecs of port group number `n` (0 is the seed).
fn codecs_of(n: usize, group: &Record) -> [Record; 2] {
    let group_id = &group[PG_OBJECT_ID];
    [0, 1].map(|preference| {
        let (definition, name) = CODECS[preference];
        under_group(Kind::PortGroupCodec, TAG_CODEC, n, preference + 1, group_id)
            .f(
                "RtpCodecDefObjectId",
                generated_id(TAG_CODEC_DEF, definition),
            )
            .f("RtpCodecDefDisplayName", name)
            .f("PreferredPacketSizeMs", 20)
            .f("Preference", preference)
            .done()
    })
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

    fn store(groups: usize) -> Store {
        Store::new(&SimulatorConfig {
            generated_port_groups: groups,
            ..SimulatorConfig::default()
        })
    }

    /// Every id a port group or port names in a served kind is the id of a record.
    #[test]
    fn every_reference_names_a_record() {
        let store = store(7);
        let references = [
            (Kind::PortGroup, "MediaSwitchObjectId", Kind::PhoneSystem),
            (
                Kind::PortGroup,
                "MediaPortGroupTemplateObjectId",
                Kind::PortGroupTemplate,
            ),
            (Kind::Port, "MediaSwitchObjectId", Kind::PhoneSystem),
            (Kind::Port, "MediaPortGroupObjectId", Kind::PortGroup),
            (
                Kind::PortGroupServer,
                "MediaPortGroupObjectId",
                Kind::PortGroup,
            ),
            (
                Kind::PortGroupCodec,
                "MediaPortGroupObjectId",
                Kind::PortGroup,
            ),
        ];
        for (from, field, to) in references {
            let column = from.column(field).unwrap();
            for record in store.records(from) {
                assert!(
                    store.find(to, &record[column]).is_some(),
                    "{} {field}={} names no {}",
                    from.item(),
                    record[column],
                    to.item()
                );
            }
        }
    }

    #[test]
    fn groups_get_the_template_of_their_integration_and_their_own_servers_and_codecs() {
        let store = store(4);
        let integration = PG_INTEGRATION;
        let template = field_index(PORT_GROUP_FIELDS, "MediaPortGroupTemplateObjectId");
        let copied = field_index(
            PORT_GROUP_TEMPLATE_FIELDS,
            "CopyTelephonyIntegrationMethodEnum",
        );
        let service = field_index(PORT_GROUP_SERVER_FIELDS, "MediaRemoteServiceEnum");
        for group in &store.port_groups {
            let at = store
                .find(Kind::PortGroupTemplate, &group[template])
                .unwrap();
            assert_eq!(store.port_group_templates[at][copied], group[integration]);
            let id = Some(group[PG_OBJECT_ID].as_str());
            let servers: Vec<_> = store.under(Kind::PortGroupServer, id).unwrap().collect();
            assert_eq!(servers.len(), 2);
            let expected = if group[integration] == "2" {
                "102"
            } else {
                "100"
            };
            assert!(servers.iter().all(|s| s[service] == expected));
            assert_eq!(store.under(Kind::PortGroupCodec, id).unwrap().count(), 2);
        }
        assert!(store.under(Kind::PortGroupCodec, Some("nope")).is_none());
        assert_eq!(store.port_group_templates.len(), 3);
    }

    #[test]
    fn phone_systems_count_the_ports_of_their_groups() {
        let store = store(5);
        let ports = Kind::PhoneSystem.column("PortCount").unwrap();
        let switch = Kind::Port.column("MediaSwitchObjectId").unwrap();
        assert_eq!(store.phone_systems.len(), 3);
        for system in &store.phone_systems {
            let id = &system[Kind::PhoneSystem.object_id()];
            let expected = store.ports.iter().filter(|p| p[switch] == *id).count();
            assert_eq!(system[ports], expected.to_string(), "{id}");
        }
        assert_eq!(
            store.phone_systems[0][Kind::PhoneSystem.object_id()],
            SEED_SWITCH_ID
        );
        assert_eq!(self::store(0).phone_systems.len(), 1);
    }
}
