//! `unmt score`: a command line modeled on the `sacrebleu` CLI (sacrebleu/sacrebleu.py
//! `parse_args` and `main`, sacrebleu 2.6.0), reading local files only.
//!
//! Differences from sacrebleu: references are given with `-r` (not positionally), the
//! default output is text with `--width 2` (sacrebleu defaults to JSON and width 1; pass
//! `-w 1` for its text), `--json` prints our full [`ScoreReport`](crate::metrics::ScoreReport).
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::values::serde_value;
use crate::metrics::MetricsError;
use crate::metrics::bleu::{BleuParams, SmoothMethod};
use crate::metrics::chrf::ChrfParams;
use crate::metrics::io::{read_lines, read_stdin_systems};
use crate::metrics::metric::Metric;
use crate::metrics::report::{MetricName, ScoreOptions, read_references, score_lines};
use crate::metrics::significance::{
    PairedTest, Seed, SystemResult, bootstrap_ci, paired_approximate_randomization,
    paired_bootstrap_all,
};
use crate::metrics::tokenizers::Tokenizer;
use crate::validate::Validate;

/// Arguments of `unmt score`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScoreArgs {
    /// Reference file(s), one segment per line; repeat for multiple references.
    #[arg(short = 'r', long = "reference", required = true)]
    pub references: Vec<PathBuf>,
    /// System output file(s); stdin (tab-separated systems) when absent. With a paired
    /// test the first is the baseline.
    #[arg(short = 'i', long = "input", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Metrics to compute.
    #[arg(short = 'm', long = "metrics", num_args = 1.., value_parser = serde_value::<MetricName>, default_value = "bleu")]
    pub metrics: Vec<MetricName>,
    /// BLEU tokenizer.
    /// (`13a`, `intl`, `char`, `none`).
    #[arg(long, value_parser = serde_value::<Tokenizer>, default_value = "13a")]
    pub tokenize: Tokenizer,
    /// Lowercase for BLEU.
    #[arg(long)]
    pub lowercase: bool,
    /// BLEU smoothing method (`exp`, `floor`, `add-k`, `none`).
    #[arg(
        long = "smooth",
        visible_alias = "smooth-method",
        value_parser = serde_value::<SmoothMethod>,
        default_value = "exp"
    )]
    pub smooth: SmoothMethod,
    /// Smoothing value for floor (default 0.1) and add-k (default 1).
    #[arg(long)]
    pub smooth_value: Option<f64>,
    /// chrF character n-gram order.
    #[arg(long, default_value_t = 6)]
    pub chrf_char_order: usize,
    /// chrF word n-gram order (2 = chrF++).
    #[arg(long, default_value_t = 0)]
    pub chrf_word_order: usize,
    /// chrF beta.
    #[arg(long, default_value_t = 2)]
    pub chrf_beta: u32,
    /// Keep whitespace in chrF character n-grams.
    #[arg(long)]
    pub chrf_whitespace: bool,
    /// Lowercase for chrF.
    #[arg(long)]
    pub chrf_lowercase: bool,
    /// chrF epsilon smoothing instead of effective order.
    #[arg(long)]
    pub chrf_eps_smoothing: bool,
    /// Paired bootstrap resampling test against the first system.
    #[arg(long, conflicts_with = "paired_ar")]
    pub paired_bs: bool,
    /// Paired approximate randomization test against the first system.
    #[arg(long)]
    pub paired_ar: bool,
    /// Bootstrap resamples for --paired-bs.
    #[arg(long, default_value_t = 1000)]
    pub paired_bs_n: usize,
    /// Trials for --paired-ar.
    #[arg(long, default_value_t = 10000)]
    pub paired_ar_n: usize,
    /// RNG seed, or `none` for OS entropy (sacrebleu's SACREBLEU_SEED).
    #[arg(long, env = "SACREBLEU_SEED", default_value = "12345")]
    pub seed: String,
    /// Bootstrap 95% confidence interval for a single system.
    #[arg(long)]
    pub confidence: bool,
    /// Resamples for --confidence.
    #[arg(long, default_value_t = 1000)]
    pub confidence_n: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// One score per segment (one system, one metric; BLEU uses effective order).
    #[arg(long)]
    pub sentence_level: bool,
    /// Decimals in printed scores.
    #[arg(short = 'w', long, default_value_t = 2)]
    pub width: usize,
    /// Print only the score.
    #[arg(short = 'b', long)]
    pub score_only: bool,
    /// Short signatures.
    #[arg(long)]
    pub short: bool,
    /// Print the BLEU-preprocessed (lowercased/tokenized) first system and exit (for parity tests).
    #[arg(long, hide = true)]
    pub debug_tokenize: bool,
}

impl ScoreArgs {
    /// The scoring options these arguments select.
    pub fn options(&self) -> ScoreOptions {
        ScoreOptions {
            metrics: self.metrics.clone(),
            bleu: BleuParams {
                lowercase: self.lowercase,
                tokenize: self.tokenize,
                smooth_method: self.smooth,
                smooth_value: self.smooth_value,
                effective_order: self.sentence_level,
                ..BleuParams::default()
            },
            chrf: ChrfParams {
                char_order: self.chrf_char_order,
                word_order: self.chrf_word_order,
                beta: self.chrf_beta,
                lowercase: self.chrf_lowercase,
                whitespace: self.chrf_whitespace,
                eps_smoothing: self.chrf_eps_smoothing,
            },
        }
    }
}

fn no_progress(_: u64, _: u64) {}

fn emit(out: &mut impl Write, s: &str) -> Result<(), MetricsError> {
    writeln!(out, "{s}").map_err(MetricsError::Output)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, MetricsError> {
    serde_json::to_string_pretty(v).map_err(|e| MetricsError::Output(std::io::Error::other(e)))
}

/// Run `unmt score`, printing to stdout.
pub fn run(args: &ScoreArgs) -> Result<(), MetricsError> {
    let opts = args.options();
    opts.validate()?;
    let seed = Seed::parse(&args.seed)?;
    let paired = args.paired_bs || args.paired_ar;

    // Systems.
    let mut names: Vec<String> = Vec::new();
    let mut systems: Vec<Vec<String>> = Vec::new();
    if args.input.is_empty() {
        systems = read_stdin_systems()?;
        names = (1..=systems.len()).map(|i| format!("System {i}")).collect();
        if paired && !names.is_empty() {
            names[0] = "Baseline".to_owned();
        }
    } else {
        for p in &args.input {
            let name = p.display().to_string();
            if names.contains(&name) {
                if paired && names[0] == name {
                    continue;
                }
                return Err(MetricsError::InvalidOption {
                    option: "--input",
                    reason: format!("{name:?} is given twice as a system"),
                });
            }
            systems.push(read_lines(p)?);
            names.push(name);
        }
        if paired {
            names[0] = format!("Baseline: {}", names[0]);
        }
    }
    let hyp_path = args
        .input
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("-"));
    let refs = read_references(&args.references, &hyp_path, systems[0].len())?;
    for (s, p) in systems
        .iter()
        .zip(args.input.iter().chain(std::iter::repeat(&hyp_path)))
        .skip(1)
    {
        if s.len() != systems[0].len() {
            return Err(MetricsError::LineCountMismatch {
                hyp: p.clone(),
                hyp_lines: s.len(),
                reference: args.references[0].clone(),
                ref_lines: systems[0].len(),
            });
        }
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let metrics = opts.metric_list();
    let nrefs = refs.len();

    if args.debug_tokenize {
        for h in &systems[0] {
            emit(&mut out, &opts.bleu.preprocess(h))?;
        }
        return Ok(());
    }

    if args.sentence_level {
        if systems.len() > 1 || metrics.len() > 1 || paired || args.confidence {
            return Err(MetricsError::InvalidOption {
                option: "--sentence-level",
                reason: "it takes one system, one metric and no statistical test".into(),
            });
        }
        let m = &metrics[0];
        let sig = m.signature(nrefs).format(args.short);
        for (i, h) in systems[0].iter().enumerate() {
            let r: Vec<&str> = refs.iter().map(|x| x[i].as_str()).collect();
            let st = m.segment_stats(h, &r);
            let line = if args.json {
                serde_json::json!({"name": m.name(), "score": m.score(&st), "signature": sig})
                    .to_string()
            } else if args.score_only {
                format!("{:.w$}", m.score(&st), w = args.width)
            } else {
                m.format_line(&st, args.width, &sig, None)
            };
            emit(&mut out, &line)?;
        }
        return Ok(());
    }

    if systems.len() == 1 {
        return single_system(args, &opts, &systems[0], &refs, seed, &mut out);
    }
    if paired && args.confidence {
        return Err(MetricsError::InvalidOption {
            option: "--confidence",
            reason: "use either a paired test or --confidence".into(),
        });
    }
    if !paired {
        // Plain multi-system table.
        let mut rows = Vec::new();
        let mut sigs = BTreeMap::new();
        for (name, sys) in names.iter().zip(&systems) {
            let mut row = serde_json::Map::new();
            row.insert("system".into(), name.clone().into());
            for m in &metrics {
                let s = m.score(&m.corpus_stats(sys, &refs).sum());
                row.insert(m.name(), serde_json::json!(s));
                sigs.insert(m.name(), m.signature(nrefs).format(args.short));
            }
            rows.push(row);
        }
        if args.json {
            return emit(&mut out, &to_json(&rows)?);
        }
        print_table(&mut out, &names, &metrics, "", |i, m| {
            format!(
                "{:.w$}",
                rows[i][&m.name()].as_f64().unwrap_or(f64::NAN),
                w = args.width
            )
        })?;
        print_signatures(&mut out, &sigs)?;
        return Ok(());
    }

    // Paired significance test.
    let test = if args.paired_bs {
        PairedTest::Bootstrap
    } else {
        PairedTest::ApproximateRandomization
    };
    let n = match test {
        PairedTest::Bootstrap => args.paired_bs_n,
        PairedTest::ApproximateRandomization => args.paired_ar_n,
    };
    let n = if n == 0 { test.default_samples() } else { n };
    let mut results: Vec<Vec<SystemResult>> = vec![Vec::new(); systems.len()];
    let mut sigs = BTreeMap::new();
    // stats[k][m]: system k, metric m (statistics computed once per system and metric).
    let stats: Vec<Vec<_>> = systems
        .iter()
        .map(|sys| metrics.iter().map(|m| m.corpus_stats(sys, &refs)).collect())
        .collect();
    // `paired_bootstrap_all` seeds the baseline's CI and the systems' tests as sacrebleu
    // does, seed 0 included (the baseline seeded with 0, the systems unseeded).
    if test == PairedTest::Bootstrap {
        let refs_: Vec<Vec<_>> = stats.iter().map(|v| v.iter().collect()).collect();
        results = paired_bootstrap_all(&refs_, &metrics, n, seed, &no_progress);
    } else {
        for (mi, m) in metrics.iter().enumerate() {
            let bl = &stats[0][mi];
            results[0].push(SystemResult {
                score: m.score(&bl.sum()),
                p_value: None,
                mean: None,
                ci: None,
            });
            for k in 1..systems.len() {
                let r = paired_approximate_randomization(
                    bl,
                    &stats[k][mi],
                    m,
                    n,
                    seed.for_system_tests(),
                    &no_progress,
                );
                results[k].push(r);
            }
        }
    }
    for m in &metrics {
        let mut sig = m.signature(nrefs);
        sig.seed = Some(seed.display());
        match test {
            PairedTest::Bootstrap => sig.bs = Some(n),
            PairedTest::ApproximateRandomization => sig.ar = Some(n),
        }
        sigs.insert(m.name(), sig.format(args.short));
    }
    if args.json {
        let rows: Vec<serde_json::Value> = names
            .iter()
            .zip(&results)
            .map(|(name, rs)| {
                let mut row = serde_json::Map::new();
                row.insert("system".into(), name.clone().into());
                for (m, r) in metrics.iter().zip(rs) {
                    row.insert(m.name(), serde_json::to_value(r).unwrap_or_default());
                }
                serde_json::Value::Object(row)
            })
            .collect();
        let doc =
            serde_json::json!({"test": test, "samples": n, "systems": rows, "signatures": sigs});
        return emit(&mut out, &to_json(&doc)?);
    }
    let w = args.width;
    let title = if test == PairedTest::Bootstrap {
        " (μ ± 95% CI)"
    } else {
        ""
    };
    print_table(&mut out, &names, &metrics, title, |i, m| {
        let idx = metrics.iter().position(|x| x == m).unwrap_or(0);
        let r = &results[i][idx];
        let mut s = format!("{:.w$}", r.score);
        if let (Some(mu), Some(ci)) = (r.mean, r.ci) {
            s.push_str(&format!(" ({mu:.w$} ± {ci:.w$})"));
        }
        if let Some(p) = r.p_value {
            s.push_str(&format!(
                " (p = {p:.4}){}",
                if p <= 0.05 { "*" } else { "" }
            ));
        }
        s
    })?;
    let (what, unit) = match test {
        PairedTest::Bootstrap => ("bootstrap resampling", "resampling trials"),
        PairedTest::ApproximateRandomization => ("approximate randomization", "trials"),
    };
    let msg = format!("Paired {what} test with {n} {unit}");
    emit(
        &mut out,
        &format!(
            "\n{}\n{msg}\n{}",
            "-".repeat(msg.len()),
            "-".repeat(msg.len())
        ),
    )?;
    emit(
        &mut out,
        &format!(" - Each system is pairwise compared to {}.", names[0]),
    )?;
    if test == PairedTest::Bootstrap {
        emit(
            &mut out,
            "   Actual system score / bootstrap estimated true mean / 95% CI are provided for each metric.",
        )?;
    }
    emit(
        &mut out,
        " - p-values < 0.05 are marked with \"*\" (the delta is unlikely to be due to chance).\n",
    )?;
    print_signatures(&mut out, &sigs)
}

fn single_system(
    args: &ScoreArgs,
    opts: &ScoreOptions,
    hyps: &[String],
    refs: &[Vec<String>],
    seed: Seed,
    out: &mut impl Write,
) -> Result<(), MetricsError> {
    let metrics = opts.metric_list();
    if args.json && !args.confidence {
        let rep = score_lines(hyps, refs, opts)?;
        return emit(out, &to_json(&rep)?);
    }
    let mut lines = Vec::new();
    let mut json = Vec::new();
    for m in &metrics {
        let st = m.corpus_stats(hyps, refs);
        let sums = st.sum();
        let mut sig = m.signature(refs.len());
        let mut extra = None;
        let mut conf = None;
        if args.confidence {
            let (mu, ci) = bootstrap_ci(&st, m, args.confidence_n, seed, &no_progress);
            sig.bs = Some(args.confidence_n);
            sig.seed = Some(seed.display());
            extra = Some(format!("μ = {mu:.w$} ± {ci:.w$}", w = args.width));
            conf = Some((mu, ci));
        }
        let sig = sig.format(args.short);
        json.push(serde_json::json!({
            "name": m.name(), "score": m.score(&sums), "signature": sig,
            "confidence_mean": conf.map(|c| c.0), "confidence_var": conf.map(|c| c.1),
        }));
        lines.push(if args.score_only {
            let mut s = format!("{:.w$}", m.score(&sums), w = args.width);
            if let Some(e) = &extra {
                s.push_str(&format!(" ({e})"));
            }
            s
        } else {
            m.format_line(&sums, args.width, &sig, extra)
        });
    }
    if args.json {
        return emit(out, &to_json(&json)?);
    }
    // Align on the first '=' like sacrebleu's print_single_results.
    let width = lines
        .iter()
        .filter_map(|l| l.find(" = "))
        .max()
        .unwrap_or(0);
    for l in lines {
        match l.find(" = ") {
            Some(pos) if !args.score_only => {
                emit(out, &format!("{:>width$}{}", &l[..pos], &l[pos..]))?
            }
            _ => emit(out, &l)?,
        }
    }
    Ok(())
}

fn print_table(
    out: &mut impl Write,
    names: &[String],
    metrics: &[Metric],
    title_suffix: &str,
    cell: impl Fn(usize, &Metric) -> String,
) -> Result<(), MetricsError> {
    let mut header = vec!["System".to_owned()];
    header.extend(
        metrics
            .iter()
            .map(|m| format!("{}{title_suffix}", m.name())),
    );
    let mut rows = vec![header];
    for (i, n) in names.iter().enumerate() {
        let mut r = vec![n.clone()];
        r.extend(metrics.iter().map(|m| cell(i, m)));
        rows.push(r);
    }
    let ncol = rows[0].len();
    let widths: Vec<usize> = (0..ncol)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (k, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                let pad = w - s.chars().count();
                if c == 0 {
                    format!("{}{s}", " ".repeat(pad))
                } else {
                    format!("{s}{}", " ".repeat(pad))
                }
            })
            .collect();
        emit(out, &cells.join(" | "))?;
        if k == 0 {
            emit(
                out,
                &widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("-+-"),
            )?;
        }
    }
    Ok(())
}

fn print_signatures(
    out: &mut impl Write,
    sigs: &BTreeMap<String, String>,
) -> Result<(), MetricsError> {
    emit(
        out,
        "\n-----------------\nMetric signatures\n-----------------",
    )?;
    for (name, sig) in sigs {
        emit(out, &format!(" - {name:<10} {sig}"))?;
    }
    Ok(())
}
