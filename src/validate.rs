//! Parameter validation: the trait every parameter struct implements, and its one error.
//!
//! A leaf module, so that the libraries (`text`, `embed`, `metrics`, `train`) validate their
//! own parameter structs and name the real field, and the recipe layer maps that field back
//! to its span without guessing. Nested tables report a dotted path (`optimizer.lr`).

/// A parameter that failed its range or consistency checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("invalid parameter `{field}`: {message}")]
pub struct InvalidParam {
    /// The parameter's name; a dotted path for a field of a nested table.
    pub field: String,
    /// Lowercase fragment, e.g. "must be at least 1, got 0".
    pub message: String,
}

impl InvalidParam {
    /// A new error for `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The same error seen from the table that holds the checked one under `parent`.
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }

    /// The top-level parameter the (possibly dotted) field belongs to.
    pub fn top_level(&self) -> &str {
        self.field.split('.').next().unwrap_or(&self.field)
    }
}

/// Range checks that types alone cannot express (ranges, combinations).
pub trait Validate {
    /// The first violation, naming its field.
    fn validate(&self) -> Result<(), InvalidParam>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_get_a_dotted_path() {
        let e = InvalidParam::new("lr", "must be positive").within("optimizer");
        assert_eq!(e.field, "optimizer.lr");
        assert_eq!(e.top_level(), "optimizer");
        assert_eq!(
            e.to_string(),
            "invalid parameter `optimizer.lr`: must be positive"
        );
    }
}
