//! Static word embeddings: fastText-style skip-gram training (`skipgram`), the fastText
//! `.vec` format (`vec_format`), VecMap cross-lingual mapping (`vecmap`, `--identical` /
//! `--supervised`) and MUSE-protocol bilingual lexicon induction (`bli`).
pub mod bli;
pub mod skipgram;
pub mod vec_format;
pub mod vecmap;
