//! Figures from the cache: learning curves from the `history` output of `mlm` and `unmt`
//! nodes (one entry per epoch, `train::scaffold::EpochReport`), and BLI precision at
//! k = 1, 5, 10 from `bli` nodes' metrics.
//!
//! Histories are read as JSON values, not as the trainer's types, so a report still reads
//! a history that an older unmt wrote with fewer fields.

use serde::Serialize;

use super::collect::{Done, NodeResult};

/// One figure.
#[derive(Debug, Clone, Serialize)]
pub struct Plot {
    /// File stem (`mlm_ppl`).
    pub name: String,
    /// Heading.
    pub title: String,
    /// Horizontal axis.
    pub x_label: String,
    /// Vertical axis.
    pub y_label: String,
    /// Logarithmic vertical axis (perplexities).
    pub log_y: bool,
    /// Lines.
    pub series: Vec<Series>,
}

/// One line of a figure.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Legend entry: node, and language, direction or objective.
    pub label: String,
    /// `(x, y)` in order of x.
    pub points: Vec<(f64, f64)>,
}

/// Every figure that has data, in a fixed order.
pub fn plots(results: &[NodeResult], warnings: &mut Vec<String>) -> Vec<Plot> {
    let mut mlm_ppl = Vec::new();
    let mut mlm_loss = Vec::new();
    let mut unmt_bleu = Vec::new();
    let mut unmt_loss = Vec::new();
    let mut bli = Vec::new();
    for r in results {
        let Some(done) = r.done() else { continue };
        match r.stage.as_str() {
            "mlm" => {
                if let Some(h) = history(r, done, warnings) {
                    mlm_ppl.extend(valid_series(&r.node, &h, "_mlm_ppl", &["valid_mlm_ppl"]));
                    mlm_loss.extend(loss_series(&r.node, &h));
                }
            }
            "unmt" => {
                if let Some(h) = history(r, done, warnings) {
                    unmt_bleu.extend(valid_series(&r.node, &h, "_mt_sacrebleu", &[]));
                    unmt_loss.extend(loss_series(&r.node, &h));
                }
            }
            "bli" => {
                for (method, name) in [("nn", "NN"), ("csls", "CSLS")] {
                    let points: Vec<(f64, f64)> = [1, 5, 10]
                        .into_iter()
                        .filter_map(|k| {
                            let v = done.metrics.get(&format!("{method}_p{k}"))?;
                            Some((f64::from(k), *v))
                        })
                        .collect();
                    if !points.is_empty() {
                        bli.push(Series {
                            label: format!("{} {name}", r.node),
                            points,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let plot = |name: &str, title: &str, x: &str, y: &str, log_y, series: Vec<Series>| Plot {
        name: name.to_owned(),
        title: title.to_owned(),
        x_label: x.to_owned(),
        y_label: y.to_owned(),
        log_y,
        series,
    };
    [
        plot(
            "mlm_ppl",
            "MLM validation perplexity",
            "epoch",
            "perplexity",
            true,
            mlm_ppl,
        ),
        plot(
            "unmt_bleu",
            "UNMT validation BLEU (greedy, SacreBLEU)",
            "epoch",
            "BLEU",
            false,
            unmt_bleu,
        ),
        plot("bli", "BLI precision at k", "k", "P@k", false, bli),
        plot(
            "mlm_loss",
            "MLM training loss",
            "epoch",
            "loss",
            false,
            mlm_loss,
        ),
        plot(
            "unmt_loss",
            "UNMT training loss per objective",
            "epoch",
            "loss",
            false,
            unmt_loss,
        ),
    ]
    .into_iter()
    .filter(|p| !p.series.is_empty())
    .collect()
}

/// The node's history entries, or a warning.
fn history(
    r: &NodeResult,
    done: &Done,
    warnings: &mut Vec<String>,
) -> Option<Vec<serde_json::Value>> {
    let path = done.outputs.get("history")?;
    let parsed = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            serde_json::from_slice::<Vec<serde_json::Value>>(&b).map_err(|e| e.to_string())
        });
    match parsed {
        Ok(h) => Some(h),
        Err(e) => {
            warnings.push(format!(
                "`{}`: no curves: its history `{}` cannot be read: {e}",
                r.node,
                path.display()
            ));
            None
        }
    }
}

fn epoch(entry: &serde_json::Value) -> Option<f64> {
    entry.get("epoch")?.as_f64()
}

/// A series per validation metric `valid_X{suffix}` (label `node X`), except `skip`.
fn valid_series(
    node: &str,
    history: &[serde_json::Value],
    suffix: &str,
    skip: &[&str],
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for entry in history {
        let (Some(x), Some(metrics)) = (
            epoch(entry),
            entry.get("metrics").and_then(|m| m.as_object()),
        ) else {
            continue;
        };
        for (name, value) in metrics {
            let (Some(what), Some(y)) = (name.strip_suffix(suffix), value.as_f64()) else {
                continue;
            };
            if skip.contains(&name.as_str()) || !y.is_finite() {
                continue;
            }
            let label = format!("{node} {}", what.strip_prefix("valid_").unwrap_or(what));
            push(&mut out, label, (x, y));
        }
    }
    out
}

/// A series per training step kind (`mlm`, `ae_en`, `bt_en-mk-en`).
fn loss_series(node: &str, history: &[serde_json::Value]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for entry in history {
        let (Some(x), Some(train)) = (epoch(entry), entry.get("train").and_then(|t| t.as_object()))
        else {
            continue;
        };
        for (kind, stats) in train {
            if let Some(y) = stats.get("loss").and_then(serde_json::Value::as_f64)
                && y.is_finite()
            {
                push(&mut out, format!("{node} {kind}"), (x, y));
            }
        }
    }
    out
}

fn push(series: &mut Vec<Series>, label: String, point: (f64, f64)) {
    match series.iter_mut().find(|s| s.label == label) {
        Some(s) => s.points.push(point),
        None => series.push(Series {
            label,
            points: vec![point],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_become_one_series_per_language_and_objective() {
        let h: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"epoch":1,"train":{"mlm":{"loss":7.5}},"metrics":{"valid_en_mlm_ppl":900,"valid_mk_mlm_ppl":800,"valid_mlm_ppl":850}},
                {"epoch":2,"train":{"mlm":{"loss":6.5}},"metrics":{"valid_en_mlm_ppl":700,"valid_mk_mlm_ppl":600,"valid_mlm_ppl":650}}]"#,
        )
        .expect("json");
        let ppl = valid_series("mlm", &h, "_mlm_ppl", &["valid_mlm_ppl"]);
        let labels: Vec<&str> = ppl.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["mlm en", "mlm mk"]);
        assert_eq!(ppl[1].points, [(1.0, 800.0), (2.0, 600.0)]);
        let loss = loss_series("mlm", &h);
        assert_eq!(loss.len(), 1);
        assert_eq!(loss[0].points, [(1.0, 7.5), (2.0, 6.5)]);
    }
}
