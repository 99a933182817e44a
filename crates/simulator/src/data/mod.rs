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
//!
//! Layout: [`kind`] the kinds and their field tables; [`seed`] the Cisco page's records;
//! [`generate`] the numbered generated ones; [`related`] what the groups point at;
//! [`store`] all of them for one instance.

mod generate;
mod kind;
mod related;
mod seed;
mod store;

pub(crate) use generate::{generated_port, generated_port_group};
pub(crate) use kind::{Kind, WRITABLE_PORT_GROUP_FIELDS};
pub use seed::SEED_GROUP_ID;
pub(crate) use store::Store;

/// One record's values, aligned with [`Kind::fields`].
pub(crate) type Record = Vec<String>;

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
