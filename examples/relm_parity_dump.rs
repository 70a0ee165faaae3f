//! Our side of `tests/parity/relm_parity.py`: RE-LM's vocabulary growth
//! (`unmt::train::reload::grow`, what an `mlm` node with `reload` runs) on tensors and
//! vocabularies the script writes, checked against the PyTorch port of relm_unmt's
//! `modify_params` in `examples/xlm_reference.py`.
//!
//! ```sh
//! cargo run --example relm_parity_dump -- spec.json in.safetensors out.safetensors
//! ```
//!
//! `spec.json`: `{"old_vocab": [[word, count], ...], "new_vocab": [[word, count], ...],
//! "new_rows": "normal" | "relm", "seed": u64}` (vocabulary files' entries, counts
//! non-increasing). `in.safetensors`: `old.<name>` (the pretrained model's tensors) and
//! `fresh.<name>` (the new model's initialisation). Output: the grown tensors by name.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Deserialize;
use unmt::model::checkpoint::{read_safetensors, write_safetensors};
use unmt::text::bpe::Vocab;
use unmt::text::dictionary::Dictionary;
use unmt::train::reload::{NewRows, grow};

#[derive(Deserialize)]
struct Spec {
    old_vocab: Vec<(String, u64)>,
    new_vocab: Vec<(String, u64)>,
    new_rows: NewRows,
    seed: u64,
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [spec, input, output] = args.as_slice() else {
        eprintln!("usage: relm_parity_dump spec.json in.safetensors out.safetensors");
        std::process::exit(2);
    };
    let spec: Spec =
        serde_json::from_slice(&std::fs::read(spec).expect("read spec")).expect("parse spec");
    let (tensors, _) = read_safetensors(input).expect("read tensors");
    let split = |prefix: &str| -> BTreeMap<_, _> {
        tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_owned(), v.clone())))
            .collect()
    };
    let dico = |entries: Vec<(String, u64)>| {
        Dictionary::from_vocab(&Vocab { entries }).expect("a sorted vocabulary")
    };
    let (old_dico, new_dico) = (dico(spec.old_vocab), dico(spec.new_vocab));
    let grown = grow(
        &split("old."),
        &old_dico,
        &new_dico,
        &split("fresh."),
        spec.new_rows,
        spec.seed,
    )
    .expect("grow");
    write_safetensors(output, &grown.tensors, HashMap::new()).expect("write");
}
