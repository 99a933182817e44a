//! The records port groups point at, derived from the groups so that every link resolves:
//! the port group templates, one phone system per switch the groups name, and each group's
//! servers and codecs.

use super::generate::{generated_id, TAG_CODEC, TAG_CODEC_DEF, TAG_SERVER, TAG_TEMPLATE};
use super::kind::{PG_INTEGRATION, PG_OBJECT_ID, PG_PORT_COUNT, PG_SWITCH_ID, PG_SWITCH_NAME};
use super::seed::SEED_TEMPLATE_ID;
use super::{Builder, Kind, Record};

/// Unity Connection's port group templates, one per `TelephonyIntegrationMethodEnum`
/// (1 SCCP, 2 SIP, 3 PIMG/TIMG); the SCCP one has the id the Cisco page's port group names.
const TEMPLATES: [(u8, &str); 3] = [(1, "SCCP"), (2, "SIP"), (3, "PIMG/TIMG")];

/// The id of the template for an integration method.
pub(super) fn template_id(integration: u8) -> String {
    match integration {
        1 => SEED_TEMPLATE_ID.to_string(),
        m => generated_id(TAG_TEMPLATE, u64::from(m)),
    }
}

pub(super) fn port_group_templates() -> Vec<Record> {
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
pub(super) fn phone_systems_of(port_groups: &[Record]) -> Vec<Record> {
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
pub(super) fn servers_of(n: usize, group: &Record) -> [Record; 2] {
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
pub(super) fn codecs_of(n: usize, group: &Record) -> [Record; 2] {
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
