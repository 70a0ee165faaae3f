//! Parameter documentation taken from the params structs' doc comments at build time
//! (`build.rs` writes the table), so `unmt stages` and the rustdoc say the same thing.

include!(concat!(env!("OUT_DIR"), "/param_docs.rs"));

/// The type and doc of `field` in the struct whose `std::any::type_name` is `type_name`
/// (`unmt::train::job::MlmParams`; the crate name is dropped, the table is keyed from `src/`).
pub fn lookup(type_name: &str, field: &str) -> Option<(&'static str, &'static str)> {
    let path = type_name
        .split_once("::")
        .map_or(type_name, |(_, rest)| rest);
    PARAM_DOCS
        .iter()
        .find(|(s, f, _, _)| *s == path && *f == field)
        .map(|(_, _, ty, doc)| (*ty, *doc))
}

#[cfg(test)]
mod tests {
    use crate::stages::registry;

    /// Every parameter of every stage has a type and a doc (a field added without a doc
    /// comment, or a params struct the scanner cannot read, fails here).
    #[test]
    fn every_stage_parameter_is_documented() {
        let mut missing = Vec::new();
        for s in registry() {
            for f in s.param_fields() {
                match s.param_doc(f) {
                    Some((ty, doc)) if !ty.is_empty() && !doc.is_empty() => {}
                    _ => missing.push(format!("{}.{f}", s.kind())),
                }
            }
        }
        assert!(missing.is_empty(), "undocumented parameters: {missing:?}");
    }

    #[test]
    fn a_doc_is_the_first_paragraph_without_its_default() {
        let mlm = registry().iter().find(|s| s.kind() == "mlm").expect("mlm");
        let (ty, doc) = mlm.param_doc("n_layers").expect("n_layers");
        assert_eq!((ty, doc), ("usize", "Layers."));
    }
}
