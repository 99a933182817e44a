//! All records of one simulator instance: the seed, the generated groups and ports, and the
//! records they point at, built once at start-up; only PUT changes them afterwards.

use super::generate::{generated_port, generated_port_group};
use super::related::{codecs_of, phone_systems_of, port_group_templates, servers_of};
use super::seed::seed;
use super::{Kind, Record};
use crate::SimulatorConfig;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::kind::{
        field_index, PG_INTEGRATION, PG_OBJECT_ID, PORT_GROUP_FIELDS, PORT_GROUP_SERVER_FIELDS,
        PORT_GROUP_TEMPLATE_FIELDS,
    };
    use crate::data::seed::SEED_SWITCH_ID;

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
