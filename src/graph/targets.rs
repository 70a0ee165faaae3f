//! `unmt run R NODE...`: the part of a graph that given target nodes need (the targets and
//! their ancestors), re-indexed. Targets are node names or patterns where `*` matches any
//! run of characters and `?` one character; brackets are literal, so `'mlm[*]'` names every
//! variant of `mlm` and `'tok_*'` every tokenizer.

use std::collections::BTreeSet;

use crate::glob::glob;

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
