//! `*` / `?` patterns over names: node names (`unmt run R 'mlm[*]'`) and parameter names
//! (`trainable = ["layers.*.adapter*"]`).

/// Whether `name` matches `pattern` (`*` any run, `?` one character, the rest literal).
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point (the last `*`).
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn stars_and_question_marks_match_brackets_are_literal() {
        assert!(glob("mlm", "mlm"));
        assert!(!glob("mlm", "mlm[mlm.init=random]"));
        assert!(glob("mlm[*]", "mlm[mlm.init=random]"));
        assert!(!glob("mlm[*]", "mlm"));
        assert!(glob("mlm*", "mlm"));
        assert!(glob("tok_*", "tok_en_valid"));
        assert!(glob("tok_??", "tok_en"));
        assert!(!glob("tok_??", "tok_lmr"));
        assert!(glob("*valid*", "bpe_en_valid"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }
}
