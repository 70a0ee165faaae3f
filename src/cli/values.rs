//! Parsing command-line values with the types' own serde names, so that the libraries need
//! no clap derive and a value means the same on the command line as in a recipe.

use serde::de::DeserializeOwned;
use serde::de::value::{Error as ValueError, StrDeserializer};

/// A clap value parser for any type that deserializes from a string (unit-variant enums:
/// `--tokenize 13a`, `--smooth add-k`). An unknown value lists the accepted ones.
pub fn serde_value<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    T::deserialize(StrDeserializer::<ValueError>::new(s)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{SmoothMethod, Tokenizer};

    #[test]
    fn names_are_the_serde_names() {
        assert_eq!(serde_value::<Tokenizer>("13a"), Ok(Tokenizer::Tok13a));
        assert_eq!(serde_value::<SmoothMethod>("add-k"), Ok(SmoothMethod::AddK));
        let e = serde_value::<SmoothMethod>("addk").expect_err("unknown");
        assert!(e.contains("add-k"), "{e}");
    }
}
