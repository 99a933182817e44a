//! The deterministic generator: port groups and ports numbered from 1, with UUID-shaped ids
//! and values that vary with the number, so large data sets (and benchmark inputs) are the
//! same on every run.

use super::related::template_id;
use super::seed::{
    port_group_extras, SEED_SWITCH_ID, SEED_SWITCH_NAME, VMS_SERVER_ID, VMS_SERVER_NAME,
};
use super::{Builder, Kind, Record};

/// Ids of each kind of generated record carry their own tag, so they never collide.
pub(super) const TAG_GROUP: u64 = 1;
pub(super) const TAG_PORT: u64 = 2;
pub(super) const TAG_SWITCH: u64 = 3;
pub(super) const TAG_TEMPLATE: u64 = 4;
pub(super) const TAG_SERVER: u64 = 5;
pub(super) const TAG_CODEC: u64 = 6;
pub(super) const TAG_CODEC_DEF: u64 = 7;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic, UUID-shaped (version 4 layout) id. The last group holds the tag and the
/// counter, so ids never collide; the rest is a hash so they look random.
pub(super) fn generated_id(tag: u64, n: u64) -> String {
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
