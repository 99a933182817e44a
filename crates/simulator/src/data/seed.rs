//! The seed: the port group and ports of Cisco's "Port Groups and Ports" page, always there,
//! first, with the ids the documentation and the README name.

use super::{Builder, Kind, Record};

/// PhoneSystem-1, the port group of Cisco's documentation, seeded first.
pub const SEED_GROUP_ID: &str = "035853ce-f4e6-4de2-bda2-84acf827a555";
pub(super) const SEED_TEMPLATE_ID: &str = "90dd306f-b8af-46b6-8289-f13437cc1e5e";
pub(super) const SEED_SWITCH_ID: &str = "05186ad4-572c-48d1-aaa6-ac22280c8702";
pub(super) const SEED_SWITCH_NAME: &str = "PhoneSystem";
pub(super) const VMS_SERVER_ID: &str = "a7ba129e-6420-4d44-b060-93b638ba866a";
pub(super) const VMS_SERVER_NAME: &str = "cuc-install-55";

/// Default values of the full-object-only PortGroup fields (also used by the generator).
pub(super) fn port_group_extras(b: Builder, k: usize) -> Builder {
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
pub(super) fn seed() -> (Vec<Record>, Vec<Record>) {
    let group = seed_port_group();
    let ports = vec![
        seed_port("2806ecdc-0a3d-43f3-a2c8-93d786fa506b", 1),
        seed_port("f87ad180-7d06-48c9-b9bd-e6b5cd2311bc", 2),
    ];
    (vec![group], ports)
}

/// PhoneSystem-1 itself.
fn seed_port_group() -> Record {
    port_group_extras(
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
    .done()
}

/// Port `n` of PhoneSystem-1, with object id `id`.
fn seed_port(id: &str, n: usize) -> Record {
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
}
