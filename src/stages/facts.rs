//! What parameters already say about a node's outputs (their language, vector dimension, the
//! languages of a model), so that connected nodes that disagree are refused before anything
//! runs: an MLM whose `dim` is not its aligned vectors', Albanian data tokenized with the
//! Macedonian rules under `langs = ["en", "sq"]`, a `translate` from a language the model
//! was not trained on. Each stage says what it knows ([`Stage::output_facts`]) and what it
//! requires ([`Stage::check_facts`]); the graph propagates the facts along the edges.
//!
//! [`Stage::output_facts`]: super::Stage::output_facts
//! [`Stage::check_facts`]: super::Stage::check_facts

use std::collections::BTreeMap;

/// What is known about one output before it exists. `None`: not known (an external file, a
/// stage that does not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The language of a text or of a monolingual embedding table.
    pub lang: Option<String>,
    /// The dimension of an embedding table.
    pub dim: Option<usize>,
    /// The languages of a model, in language-id order.
    pub langs: Option<Vec<String>>,
}

/// One wired input: the reference as written (`skipgram_en.vec`) and its facts.
#[derive(Debug, Clone)]
pub struct InputFact {
    /// `node.output` or `files.NAME`.
    pub source: String,
    /// What is known about it.
    pub facts: Facts,
}

/// The facts of each wired slot, in reference order.
pub type InputFacts = BTreeMap<String, Vec<InputFact>>;

/// A disagreement between a node's parameters (or inputs) and what its inputs hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The input that disagrees and its position in the slot's list.
    pub slot: String,
    /// Its position in the slot's list.
    pub index: usize,
    /// The parameter it disagrees with, when there is one.
    pub param: Option<String>,
    /// A lowercase fragment: "holds 300-dimensional vectors but `dim` is 64".
    pub message: String,
}

impl Facts {
    /// The default for every output: the language on which all inputs that have one agree.
    pub fn inherited(inputs: &InputFacts) -> Self {
        let mut langs = inputs
            .values()
            .flatten()
            .filter_map(|i| i.facts.lang.as_ref());
        let lang = langs
            .next()
            .filter(|first| langs.all(|l| l == *first))
            .cloned();
        Self {
            lang,
            ..Self::default()
        }
    }

    /// Only a language.
    pub fn lang(lang: &str) -> Self {
        Self {
            lang: Some(lang.to_owned()),
            ..Self::default()
        }
    }
}

/// The facts of input `index` of `slot`, if wired.
pub fn input<'a>(inputs: &'a InputFacts, slot: &str, index: usize) -> Option<&'a InputFact> {
    inputs.get(slot).and_then(|v| v.get(index))
}

/// Mismatches between `langs` (a parameter naming one language per input) and the languages
/// the inputs of each slot hold.
pub fn check_langs_per_input(
    inputs: &InputFacts,
    slots: &[&str],
    langs: &[String],
    param: &str,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for slot in slots {
        for (index, i) in inputs.get(*slot).into_iter().flatten().enumerate() {
            if let (Some(have), Some(want)) = (&i.facts.lang, langs.get(index))
                && have != want
            {
                out.push(Mismatch {
                    slot: (*slot).to_owned(),
                    index,
                    param: Some(param.to_owned()),
                    message: format!(
                        "`{}` holds `{have}` text but `{param}[{index}]` is `{want}`",
                        i.source
                    ),
                });
            }
        }
    }
    out
}

/// A mismatch if the vectors of `slot` are not `dim`-dimensional.
pub fn check_dim(inputs: &InputFacts, slot: &str, dim: usize, param: &str) -> Option<Mismatch> {
    let i = input(inputs, slot, 0)?;
    let have = i.facts.dim?;
    (have != dim).then(|| Mismatch {
        slot: slot.to_owned(),
        index: 0,
        param: Some(param.to_owned()),
        message: format!(
            "`{}` is {have}-dimensional but `{param}` is {dim}",
            i.source
        ),
    })
}

/// A mismatch if the vectors of slots `a` and `b` differ in dimension.
pub fn check_same_dim(inputs: &InputFacts, a: &str, b: &str) -> Option<Mismatch> {
    let (x, y) = (input(inputs, a, 0)?, input(inputs, b, 0)?);
    let (dx, dy) = (x.facts.dim?, y.facts.dim?);
    (dx != dy).then(|| Mismatch {
        slot: b.to_owned(),
        index: 0,
        param: None,
        message: format!(
            "`{}` is {dy}-dimensional but `{}` is {dx}-dimensional",
            y.source, x.source
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(source: &str, lang: Option<&str>, dim: Option<usize>) -> InputFact {
        InputFact {
            source: source.to_owned(),
            facts: Facts {
                lang: lang.map(str::to_owned),
                dim,
                langs: None,
            },
        }
    }

    #[test]
    fn an_output_inherits_the_language_its_inputs_agree_on() {
        let mut inputs = InputFacts::new();
        inputs.insert("text".into(), vec![fact("tok.text", Some("mk"), None)]);
        inputs.insert("codes".into(), vec![fact("bpe.codes", None, None)]);
        assert_eq!(Facts::inherited(&inputs).lang.as_deref(), Some("mk"));
        inputs.insert("more".into(), vec![fact("tok_en.text", Some("en"), None)]);
        assert_eq!(Facts::inherited(&inputs).lang, None);
    }

    #[test]
    fn languages_and_dimensions_that_disagree_are_found() {
        let mut inputs = InputFacts::new();
        inputs.insert(
            "train".into(),
            vec![fact("a", Some("en"), None), fact("b", Some("mk"), None)],
        );
        inputs.insert("vectors".into(), vec![fact("v", None, Some(300))]);
        let langs = ["en".to_owned(), "sq".to_owned()];
        let m = check_langs_per_input(&inputs, &["train"], &langs, "langs");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].message, "`b` holds `mk` text but `langs[1]` is `sq`");
        assert!(check_dim(&inputs, "vectors", 300, "dim").is_none());
        let m = check_dim(&inputs, "vectors", 64, "dim").expect("mismatch");
        assert_eq!(m.message, "`v` is 300-dimensional but `dim` is 64");
    }
}
