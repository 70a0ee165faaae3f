//! Stage parameters: typed, validated, and canonicalised for node keys.
//!
//! A recipe's `params` table is deserialized straight from the spanned TOML into the stage's
//! `Params` type, so a type error points at the offending value. The canonical form used in
//! node keys drops every field equal to its documented default: adding a parameter with a
//! default (or writing a default out explicitly) never changes existing keys.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

pub use crate::validate::{InvalidParam, Validate};

/// Why a `params` table was rejected.
#[derive(Debug, Clone)]
pub enum ParamsError {
    /// A key the stage does not know.
    UnknownKey {
        /// The key as written.
        key: String,
        /// Its span.
        span: std::ops::Range<usize>,
        /// The stage's parameter names, for "did you mean".
        known: &'static [&'static str],
    },
    /// A deserialization error (wrong type, bad enum value...), located by toml.
    Type {
        /// toml's message.
        message: String,
        /// Where, when toml knows.
        span: Option<std::ops::Range<usize>>,
    },
    /// A range check failed.
    Invalid(InvalidParam),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamsError::UnknownKey { key, .. } => write!(f, "unknown parameter `{key}`"),
            ParamsError::Type { message, .. } => f.write_str(message),
            ParamsError::Invalid(p) => write!(f, "`{}` {}", p.field, p.message),
        }
    }
}

/// Outside a recipe (a job file), a parameter error is an ordinary error without a span.
impl std::error::Error for ParamsError {}

/// Parameters in the two forms the engine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Forms {
    /// Every field, defaults included (shown by `explain` and `show`, stored in records).
    pub full: serde_json::Map<String, serde_json::Value>,
    /// Only the fields that differ from their defaults (hashed into the node key).
    pub canonical: BTreeMap<String, serde_json::Value>,
}

/// Deserializes and validates a spanned `params` table into `P`.
pub fn deserialize<P>(table: Spanned<DeValue<'static>>) -> Result<P, ParamsError>
where
    P: DeserializeOwned + Serialize + Default + Validate,
{
    let known = struct_fields::<P>();
    if let DeValue::Table(t) = table.get_ref() {
        for (key, _) in t {
            if !known.contains(&key.get_ref().as_ref()) {
                return Err(ParamsError::UnknownKey {
                    key: key.get_ref().to_string(),
                    span: key.span(),
                    known,
                });
            }
        }
    }
    let params = P::deserialize(ValueDeserializer::from(table)).map_err(|e| ParamsError::Type {
        message: e.message().to_owned(),
        span: e.span(),
    })?;
    params.validate().map_err(ParamsError::Invalid)?;
    Ok(params)
}

/// Splits `params` into its full and canonical (non-default) forms.
pub fn canonicalize<P: Serialize + Default>(params: &P) -> Result<Forms, serde_json::Error> {
    let full = as_object(serde_json::to_value(params)?);
    let defaults = as_object(serde_json::to_value(P::default())?);
    let canonical = full
        .iter()
        .filter(|(k, v)| defaults.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Forms { full, canonical })
}

fn as_object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".to_owned(), other);
            map
        }
    }
}

/// The field names serde's derive declares for struct `T` (empty for non-structs).
///
/// Serde passes the field list to `deserialize_struct`; a deserializer that records it and
/// then fails is the standard way to read it without a second source of truth.
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Introspect<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Introspect<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("introspection"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("introspection"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Introspect(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct P {
        merges: u32,
        lowercase: bool,
    }
    impl Validate for P {
        fn validate(&self) -> Result<(), InvalidParam> {
            if self.merges > 100 {
                return Err(InvalidParam::new("merges", "must be at most 100"));
            }
            Ok(())
        }
    }

    fn parse(text: &'static str) -> Spanned<DeValue<'static>> {
        let t = toml::de::DeTable::parse(text).expect("valid toml");
        let span = t.span();
        Spanned::new(span, DeValue::Table(t.into_inner()))
    }

    #[test]
    fn fields_are_introspected() {
        assert_eq!(struct_fields::<P>(), &["merges", "lowercase"]);
    }

    #[test]
    fn defaults_are_left_out_of_the_canonical_form() {
        let p: P = deserialize(parse("merges = 10\nlowercase = false\n")).expect("valid");
        let r = canonicalize(&p).expect("encodable");
        assert_eq!(r.canonical.len(), 1);
        assert_eq!(r.canonical["merges"], serde_json::json!(10));
        assert_eq!(r.full.len(), 2);
    }

    #[test]
    fn unknown_keys_type_errors_and_ranges_are_reported() {
        assert!(matches!(
            deserialize::<P>(parse("merge = 1\n")),
            Err(ParamsError::UnknownKey { key, span, .. }) if key == "merge" && span == (0..5)
        ));
        assert!(matches!(
            deserialize::<P>(parse("merges = \"x\"\n")),
            Err(ParamsError::Type { span: Some(_), .. })
        ));
        assert!(matches!(
            deserialize::<P>(parse("merges = 1000\n")),
            Err(ParamsError::Invalid(InvalidParam { field, .. })) if field == "merges"
        ));
    }
}
