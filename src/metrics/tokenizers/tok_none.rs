//! Port of sacrebleu/tokenizers/tokenizer_none.py `NoneTokenizer.__call__`: identity.

/// Return the line unchanged (BLEU still splits it on whitespace).
pub fn tokenize_none(line: &str) -> String {
    line.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity() {
        assert_eq!(super::tokenize_none(" a,b  "), " a,b  ");
    }
}
