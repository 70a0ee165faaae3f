//! p-values for declared tables: SacreBLEU's paired bootstrap resampling
//! (`sacrebleu --paired-bs`, [`crate::metrics::significance`]) of each row's `score` node
//! against the baseline row's, on the hypotheses the nodes scored.
//!
//! A column gets p-values when its baseline cell and its other cells are BLEU or chrF of
//! `score` nodes that scored the same references with the same metric settings: one
//! resampling per column, shared by all its rows, as sacrebleu tests several systems
//! against one baseline. Anything else leaves the cells without p-values and says why in
//! the report's warnings; a p-value is never computed on mismatched inputs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::collect::{Done, NodeResult};
use super::tables::{Cell, Table};
use crate::cache::ContentHash;
use crate::metrics::significance::{PairedTest, Seed, paired_bootstrap_all};
use crate::metrics::{Metric, io::read_lines};
use crate::recipe::ReportTable;
use crate::stages::ScoreParams;

/// What one `score` node scored.
struct Scored {
    hyps: Vec<String>,
    refs: Vec<Vec<String>>,
    refs_hash: Vec<ContentHash>,
    params: ScoreParams,
}

/// Reads a `score` node's processed hypothesis, its references and parameters.
fn scored(cache: &crate::cache::Cache, done: &Done) -> Result<Scored, String> {
    let record = &done.record;
    let params: ScoreParams =
        serde_json::from_value(serde_json::Value::Object(record.params.clone()))
            .map_err(|e| format!("its parameters cannot be read: {e}"))?;
    let hyp = done
        .outputs
        .get("hypothesis")
        .ok_or("it has no `hypothesis` output")?;
    let hyps = read_lines(hyp).map_err(|e| crate::stages::error_chain(&e))?;
    let mut refs = Vec::new();
    for origin in record.origins.get("refs").into_iter().flatten() {
        let path: PathBuf = match (&origin.path, &origin.producer) {
            (Some(p), _) => p.clone(),
            (None, Some(key)) => {
                let output = origin.source.rsplit('.').next().unwrap_or_default();
                cache.output_path(key, output)
            }
            (None, None) => return Err(format!("reference `{}` has no path", origin.source)),
        };
        refs.push(read_lines(&path).map_err(|e| crate::stages::error_chain(&e))?);
    }
    if refs.is_empty() {
        return Err("it records no references".to_owned());
    }
    Ok(Scored {
        hyps,
        refs,
        refs_hash: record
            .material
            .inputs
            .get("refs")
            .cloned()
            .unwrap_or_default(),
        params,
    })
}

/// The metric a column's name selects, configured as the node scored it.
fn metric_for(name: &str, params: &ScoreParams) -> Option<Metric> {
    match name {
        "bleu" => Some(Metric::Bleu(params.bleu.clone())),
        "chrf" | "chrfpp" => Some(Metric::Chrf(params.chrf.clone())),
        _ => None,
    }
}

/// Adds p-values (and the signatures they were computed under) to a declared table.
pub fn annotate(
    table: &mut Table,
    declared: &ReportTable,
    cache: &crate::cache::Cache,
    results: &[NodeResult],
    warnings: &mut Vec<String>,
) {
    let Some(base_row) = table.rows.iter().position(|r| r.label == declared.baseline) else {
        return;
    };
    let done: BTreeMap<&str, &Done> = results
        .iter()
        .filter(|r| r.stage == "score")
        .filter_map(|r| r.done().map(|d| (r.node.as_str(), d)))
        .collect();
    let mut loaded: BTreeMap<String, Result<Scored, String>> = BTreeMap::new();
    let mut signatures: Vec<String> = Vec::new();
    for (c, column) in declared.columns.iter().enumerate() {
        let Cell::Value { node: base, .. } = &table.rows[base_row].cells[c] else {
            continue;
        };
        let base = base.clone();
        if !done.contains_key(base.as_str())
            || metric_for(&column.metric, &ScoreParams::default()).is_none()
        {
            continue;
        }
        let others: Vec<(usize, String)> = table
            .rows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != base_row)
            .filter_map(|(i, r)| match &r.cells[c] {
                Cell::Value { node, .. } if done.contains_key(node.as_str()) => {
                    Some((i, node.clone()))
                }
                _ => None,
            })
            .collect();
        if others.is_empty() {
            continue;
        }
        for node in std::iter::once(&base).chain(others.iter().map(|(_, n)| n)) {
            if !loaded.contains_key(node) {
                loaded.insert(node.clone(), scored(cache, done[node.as_str()]));
            }
        }
        let b = match &loaded[&base] {
            Ok(b) => b,
            Err(why) => {
                warnings.push(format!(
                    "{}: no p-values in column `{}`: baseline `{base}` cannot be read: {why}",
                    table.name, column.label
                ));
                continue;
            }
        };
        let Some(metric) = metric_for(&column.metric, &b.params) else {
            continue;
        };
        let mut systems: Vec<(usize, &Scored)> = Vec::new();
        for (row, node) in &others {
            let why = match &loaded[node] {
                Err(why) => Some(format!("cannot be read: {why}")),
                Ok(s) if s.refs_hash != b.refs_hash => {
                    Some(format!("scores other references than `{base}`"))
                }
                Ok(s) if metric_for(&column.metric, &s.params) != Some(metric.clone()) => {
                    Some(format!(
                        "computes {} with other settings than `{base}`",
                        metric.name()
                    ))
                }
                Ok(s) if s.hyps.len() != b.hyps.len() => {
                    Some(format!("has another number of lines than `{base}`"))
                }
                Ok(s) => {
                    systems.push((*row, s));
                    None
                }
            };
            if let Some(why) = why {
                warnings.push(format!(
                    "{}: no p-value for row `{}` in column `{}`: `{node}` {why}",
                    table.name, table.rows[*row].label, column.label
                ));
            }
        }
        let base_stats = metric.corpus_stats(&b.hyps, &b.refs);
        let mut stats = Vec::with_capacity(systems.len());
        systems.retain(|(row, s)| {
            let st = metric.corpus_stats(&s.hyps, &s.refs);
            // Identical statistics (two models that both translate every line to nothing)
            // make every resampled difference 0, and sacrebleu's formula then gives its
            // smallest p-value, 1/(n+1), as if the difference were significant.
            if st == base_stats {
                warnings.push(format!(
                    "{}: no p-value for row `{}` in column `{}`: its {} statistics equal `{base}`'s on every segment (sacrebleu would print p = {:.4})",
                    table.name,
                    table.rows[*row].label,
                    column.label,
                    metric.name(),
                    1.0 / (PairedTest::Bootstrap.default_samples() as f64 + 1.0)
                ));
                false
            } else {
                stats.push(st);
                true
            }
        });
        if systems.is_empty() {
            continue;
        }
        let mut matrix = vec![vec![&base_stats]];
        matrix.extend(stats.iter().map(|s| vec![s]));
        let n = PairedTest::Bootstrap.default_samples();
        let seed = Seed::default();
        let results =
            paired_bootstrap_all(&matrix, std::slice::from_ref(&metric), n, seed, &|_, _| {});
        for ((row, _), result) in systems.iter().zip(results.iter().skip(1)) {
            if let Cell::Value { p_value, .. } = &mut table.rows[*row].cells[c] {
                *p_value = result[0].p_value;
            }
        }
        let mut sig = metric.signature(b.refs.len());
        sig.bs = Some(n);
        sig.seed = Some(seed.display());
        let line = format!("{}|{}", metric.name(), sig.format(false));
        if !signatures.contains(&line) {
            signatures.push(line);
        }
    }
    if !signatures.is_empty() {
        table.notes.push(format!(
            "p: paired bootstrap resampling against row `{}` (sacrebleu --paired-bs)",
            declared.baseline
        ));
        table.notes.extend(signatures);
    }
}
