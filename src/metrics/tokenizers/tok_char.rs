//! Port of sacrebleu/tokenizers/tokenizer_char.py `TokenizerChar.__call__`:
//! `" ".join(char for char in line)` over Unicode code points.

/// Put one space between every pair of code points (whitespace code points included,
/// exactly like the Python generator expression).
pub fn tokenize_char(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    for (i, c) in line.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn joins_code_points() {
        assert_eq!(super::tokenize_char("ab c"), "a b   c");
        assert_eq!(super::tokenize_char("шљ"), "ш љ");
        assert_eq!(super::tokenize_char(""), "");
    }
}
