//! The serde side: JSON values read by seeds and visitors that hand each event to the
//! [`XmlWriter`] as it comes, with no `serde_json::Value` in between.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::role::Role;
use super::writer::{Scalar, Segment, XmlWriter};
use crate::number_text::spells;

/// A JSON value to be read in `role`.
pub(super) struct ValueSeed<'w, 'k, 'de> {
    pub(super) writer: &'w mut XmlWriter<'de>,
    pub(super) role: Role<'k>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

/// With `arbitrary_precision`, serde_json hands a number that is not a 64-bit integer over as
/// a one-entry map under this key, holding the number's text (the protocol
/// `serde_json::Number` itself deserializes by).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Visitor<'de> for ValueSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.writer.scalar(self.role, Scalar::Null);
        Ok(())
    }
    fn visit_bool<E>(self, value: bool) -> Result<(), E> {
        self.writer.scalar(self.role, Scalar::Bool(value));
        Ok(())
    }
    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.writer.scalar(self.role, Scalar::String(value));
        Ok(())
    }
    // Integers that fit 64 bits come as integers (`-0` as 0); the others, and every number
    // with a fraction or an exponent, come as text (`visit_map`, below), re-spelled. Each is
    // written as the client's own text, found again in the body.
    fn visit_i64<E>(self, value: i64) -> Result<(), E> {
        self.writer.integer(self.role, value.into());
        Ok(())
    }
    fn visit_u64<E>(self, value: u64) -> Result<(), E> {
        self.writer.integer(self.role, value.into());
        Ok(())
    }
    // Not reached with `arbitrary_precision`; here for completeness.
    fn visit_f64<E>(self, value: f64) -> Result<(), E> {
        self.writer
            .scalar(self.role, Scalar::Number(&value.to_string()));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let role = self.writer.array_items(self.role);
        let mut index = 0;
        loop {
            self.writer.path.push(Segment::Index(index));
            let item = seq.next_element_seed(ValueSeed {
                writer: self.writer,
                role,
            })?;
            self.writer.path.pop();
            if item.is_none() {
                return Ok(());
            }
            self.writer.check_size();
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        if first.as_deref() == Some(NUMBER_TOKEN) {
            let text: Cow<'de, str> = map.next_value_seed(KeySeed)?;
            if text.parse::<serde_json::Number>().is_err() {
                return Err(A::Error::custom(format_args!("invalid number {text:?}")));
            }
            if map.next_key::<IgnoredAny>()?.is_some() {
                return Err(A::Error::custom(format_args!(
                    "the key {NUMBER_TOKEN:?} is reserved"
                )));
            }
            let raw = self.writer.numbers.take_if(|raw| spells(raw, &text));
            self.writer
                .scalar(self.role, Scalar::Number(raw.unwrap_or(&text)));
            return Ok(());
        }
        let role = self.writer.object_role(self.role);
        self.writer.object(first, &mut map, role)
    }
}

/// Reads a key (or a number's text), borrowed from the body unless it holds escapes.
pub(super) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Cow<'de, str>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }
    fn visit_str<E>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
    fn visit_string<E>(self, key: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key))
    }
}
