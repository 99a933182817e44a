//! The resource kinds the simulator serves and their field tables: names, CUPI's field
//! order, which fields a list shows, and where each kind lives under `/vmrest`.

/// PortGroup fields: first the ones a list shows (the Cisco page's order), then the extra
/// fields that only GET by object id returns.
pub(super) const PORT_GROUP_FIELDS: &[&str] = &[
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
pub(super) const PORT_GROUP_TEMPLATE_FIELDS: &[&str] = &[
    "URI",
    "ObjectId",
    "TemplateDescriptionDefault",
    "CopyTelephonyIntegrationMethodEnum",
];

/// PortGroupServer fields (`/vmrest/portgroups/{id}/portgroupservers`): the Cisco Unified CM
/// or SIP servers a port group registers with, in order of `Precedence`.
pub(super) const PORT_GROUP_SERVER_FIELDS: &[&str] = &[
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
pub(super) const fn field_index(fields: &[&str], name: &str) -> usize {
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
pub(super) const PG_OBJECT_ID: usize = field_index(PORT_GROUP_FIELDS, "ObjectId");
pub(super) const PG_SWITCH_ID: usize = field_index(PORT_GROUP_FIELDS, "MediaSwitchObjectId");
pub(super) const PG_SWITCH_NAME: usize = field_index(PORT_GROUP_FIELDS, "MediaSwitchDisplayName");
pub(super) const PG_INTEGRATION: usize =
    field_index(PORT_GROUP_FIELDS, "TelephonyIntegrationMethodEnum");
pub(super) const PG_PORT_COUNT: usize = field_index(PORT_GROUP_FIELDS, "PortCount");

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
    pub(super) fn segment(self) -> &'static str {
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
