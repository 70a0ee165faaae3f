//! Recipe source files and the global span space.
//!
//! A recipe may `extends` other files. Every file is parsed as if it were preceded by the
//! bytes of all files loaded before it (we pad it with spaces), so every span in the merged
//! recipe is a *global* offset that still says which file it came from. Diagnostics map a
//! global span back to `(file, local span)` at render time, and no span ever needs a file
//! tag carried next to it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{NamedSource, SourceSpan};

/// A byte range in the global span space of a [`Sources`] set.
pub type Span = Range<usize>;

/// One loaded recipe file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given (or resolved from `extends`), used in diagnostics.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    /// Global offset of the file's first byte.
    pub offset: usize,
}

/// All files that make up one recipe, in load order.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Registers a file and returns the padded text to parse and the file's global offset.
    pub fn add(&mut self, path: PathBuf, text: String) -> (String, usize) {
        let offset = self.files.last().map_or(0, |f| f.offset + f.text.len() + 1);
        let mut padded = String::with_capacity(offset + text.len());
        padded.extend(std::iter::repeat_n(' ', offset));
        padded.push_str(&text);
        self.files.push(SourceFile { path, text, offset });
        (padded, offset)
    }

    /// The file that contains global offset `at`.
    pub fn file_at(&self, at: usize) -> Option<&SourceFile> {
        self.files
            .iter()
            .rev()
            .find(|f| f.offset <= at && at <= f.offset + f.text.len())
    }

    /// The root recipe file (the one named on the command line).
    pub fn root(&self) -> Option<&SourceFile> {
        self.files.first()
    }

    /// All files in load order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// `path:line` of a global offset (as `git config --show-origin` names a value's file).
    pub fn origin(&self, at: usize) -> Option<String> {
        let file = self.file_at(at)?;
        let local = at - file.offset;
        let line = file.text[..local.min(file.text.len())]
            .matches('\n')
            .count()
            + 1;
        Some(format!("{}:{line}", file.path.display()))
    }

    /// Converts a global span to a named source and a local span for miette.
    pub fn locate(&self, span: &Span) -> Option<(NamedSource<String>, SourceSpan)> {
        let file = self.file_at(span.start)?;
        let start = span.start - file.offset;
        let len = span
            .end
            .saturating_sub(span.start)
            .min(file.text.len() - start);
        Some((
            named(&file.path, &file.text),
            SourceSpan::new(start.into(), len),
        ))
    }
}

fn named(path: &Path, text: &str) -> NamedSource<String> {
    NamedSource::new(path.display().to_string(), text.to_owned()).with_language("toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_later_files_map_back_to_local_offsets() {
        let mut s = Sources::default();
        let (p0, o0) = s.add("a.toml".into(), "x = 1\n".into());
        let (p1, o1) = s.add("b.toml".into(), "y = 2\n".into());
        assert_eq!((o0, p0.len()), (0, 6));
        assert_eq!(o1, 7);
        assert_eq!(&p1[o1..], "y = 2\n");
        assert_eq!(s.file_at(8).map(|f| f.path.clone()), Some("b.toml".into()));
        let (_, span) = s.locate(&(8..9)).expect("in b.toml");
        assert_eq!(s.origin(8).as_deref(), Some("b.toml:1"));
        assert_eq!(s.origin(6).as_deref(), Some("a.toml:2"));
        assert_eq!((span.offset(), span.len()), (1, 1));
    }
}
