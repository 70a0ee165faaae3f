//! `unmt run R NODE...`: the part of a graph that given target nodes need (the targets and
//! their ancestors), re-indexed. Targets are node names or patterns where `*` matches any
//! run of characters and `?` one character; brackets are literal, so `'mlm[*]'` names every
//! variant of `mlm` and `'tok_*'` every tokenizer.

use std::collections::BTreeSet;

use super::build::{Graph, Source};

/// A target that matches no node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch {
    /// The pattern as given.
    pub pattern: String,
}

impl Graph {
    /// The nodes the `targets` need (every match and its ancestors), in the same order.
    pub fn restrict(&self, targets: &[String]) -> Result<Graph, NoMatch> {
        let mut keep = BTreeSet::new();
        let mut stack = Vec::new();
        for t in targets {
            let found: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| glob(t, &self.nodes[i].name))
                .collect();
            if found.is_empty() {
                return Err(NoMatch { pattern: t.clone() });
            }
            stack.extend(found);
        }
        while let Some(i) = stack.pop() {
            if keep.insert(i) {
                stack.extend(self.parents(i));
            }
        }
        let new_index: Vec<Option<usize>> = {
            let mut next = 0;
            (0..self.nodes.len())
                .map(|i| {
                    keep.contains(&i).then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect()
        };
        let nodes = keep
            .iter()
            .map(|&i| {
                let mut n = self.nodes[i].clone();
                for sources in n.inputs.values_mut() {
                    for s in sources.iter_mut() {
                        if let Source::Node { index, .. } = s {
                            *index = new_index[*index].expect("ancestors are kept");
                        }
                    }
                }
                n
            })
            .collect();
        Ok(Graph {
            nodes,
            scope: self.scope.clone(),
        })
    }
}

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
