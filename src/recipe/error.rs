//! Recipe errors: collected during loading and validation, rendered once with miette.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, NamedSource};

use super::source::{Sources, Span};

/// One problem in a recipe, located by a global span (see [`Sources`]).
#[derive(Debug, Clone)]
pub struct RecipeError {
    /// Lowercase fragment, e.g. "unknown stage kind `tokenise`".
    pub message: String,
    /// Where the problem is; `None` for problems of the whole file (e.g. unreadable).
    pub span: Option<Span>,
    /// Text under the primary span.
    pub label: String,
    /// Further labelled spans in the same file (e.g. the other nodes of a cycle).
    pub extra: Vec<(Span, String)>,
    /// What to do about it ("did you mean `tokenize`?").
    pub help: Option<String>,
}

impl RecipeError {
    /// A located error with a label.
    pub fn at(span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: Some(span),
            label: label.into(),
            extra: Vec::new(),
            help: None,
        }
    }

    /// An error with no location.
    pub fn global(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: None,
            label: String::new(),
            extra: Vec::new(),
            help: None,
        }
    }

    /// Adds a help line.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line when `help` is `Some`.
    #[must_use]
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Adds a secondary label.
    #[must_use]
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.extra.push((span, label.into()));
        self
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// One error with its source file attached, ready for miette.
#[derive(Debug)]
pub struct LocatedError {
    message: String,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl LocatedError {
    fn new(error: &RecipeError, sources: &Sources) -> Self {
        let mut labels = Vec::new();
        let mut source = None;
        if let Some(span) = &error.span
            && let Some((named, local)) = sources.locate(span)
        {
            source = Some(named);
            labels.push(LabeledSpan::new_primary_with_span(
                Some(error.label.clone()),
                local,
            ));
            for (span, label) in &error.extra {
                if let Some((_, local)) = sources.locate(span) {
                    labels.push(LabeledSpan::new_with_span(Some(label.clone()), local));
                }
            }
        }
        Self {
            message: error.message.clone(),
            source,
            labels,
            help: error.help.clone(),
        }
    }
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LocatedError {}

impl Diagnostic for LocatedError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("unmt::recipe"))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
}

/// Every problem found in a recipe, rendered as one report.
///
/// With one error the report is that error; with several, a headline plus one related
/// diagnostic per error, each pointing into its own file.
#[derive(Debug)]
pub struct RecipeDiagnostics {
    recipe: String,
    errors: Vec<LocatedError>,
}

impl RecipeDiagnostics {
    /// Locates `errors` in `sources`.
    pub fn new(recipe: &str, errors: &[RecipeError], sources: &Sources) -> Self {
        Self {
            recipe: recipe.to_owned(),
            errors: errors
                .iter()
                .map(|e| LocatedError::new(e, sources))
                .collect(),
        }
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are no errors (never true for a returned report).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    fn single(&self) -> Option<&LocatedError> {
        (self.errors.len() == 1).then(|| &self.errors[0])
    }
}

impl fmt::Display for RecipeDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(e) => write!(f, "{e}"),
            None => write!(
                f,
                "recipe `{}` has {} errors",
                self.recipe,
                self.errors.len()
            ),
        }
    }
}

impl std::error::Error for RecipeDiagnostics {}

impl Diagnostic for RecipeDiagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("unmt::recipe"))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.single().and_then(|e| e.source_code())
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.single().and_then(|e| e.labels())
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.single().and_then(|e| e.help())
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.single().is_some() {
            None
        } else {
            Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("tokenise", ["tokenize", "corpus"]).as_deref(),
            Some("did you mean `tokenize`?")
        );
        assert_eq!(did_you_mean("zzz", ["tokenize", "corpus"]), None);
    }
}
