//! Figures as SVG, drawn with `plotters`' SVG backend: text stays `<text>` for the
//! browser to set, so no font files or system libraries are needed.

use plotters::prelude::*;

use crate::results::Plot;

/// Whole figure, and the width kept on the right for the legend (long variant names).
const SIZE: (u32, u32) = (980, 420);
const LEGEND_W: u32 = 330;

/// The figure as an SVG document. Logarithmic plots draw `log10(y)` on a linear axis
/// labelled with `y`.
pub fn svg(plot: &Plot) -> Result<String, String> {
    let tf = |y: f64| {
        if plot.log_y {
            y.max(f64::MIN_POSITIVE).log10()
        } else {
            y
        }
    };
    let xs = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| tf(p.1)));
    let (x0, x1) = padded(xs, 0.0);
    let (y0, y1) = padded(ys, 0.05);
    let mut text = String::new();
    {
        // Taller when the legend needs it (the paper's plan has 28 loss curves).
        let rows = u32::try_from(plot.series.len()).unwrap_or(u32::MAX / 40);
        let size = (SIZE.0, SIZE.1.max(60 + 20 * rows));
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (area, legend) = root.split_horizontally(SIZE.0 - LEGEND_W);
        let mut chart = ChartBuilder::on(&area)
            .caption(&plot.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        let log = plot.log_y;
        let y_fmt = move |v: &f64| {
            if log {
                super::number(10f64.powf(*v))
            } else {
                super::number(*v)
            }
        };
        // Epochs and k are whole numbers: ticks at whole numbers only.
        let whole = plot
            .series
            .iter()
            .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
        let x_fmt = move |v: &f64| {
            if whole && v.fract() != 0.0 {
                String::new()
            } else {
                super::number(*v)
            }
        };
        let x_ticks = if whole {
            ((x1 - x0).round() as usize + 1).clamp(2, 12)
        } else {
            10
        };
        chart
            .configure_mesh()
            .x_labels(x_ticks)
            .x_desc(plot.x_label.as_str())
            .y_desc(plot.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in plot.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, tf(y))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| e.to_string())?;
            // The legend beside the plot, one line per series, never over the data.
            let y = 48 + 20 * i32::try_from(i).unwrap_or(i32::MAX / 40);
            legend
                .draw(&PathElement::new(
                    vec![(8, y), (30, y)],
                    color.stroke_width(3),
                ))
                .map_err(|e| e.to_string())?;
            legend
                .draw(&Text::new(s.label.clone(), (38, y - 7), ("sans-serif", 13)))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// The range of `values`, widened by `pad` of its span on each side, and never empty.
fn padded(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - pad * span, hi + pad * span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Series;

    #[test]
    fn a_plot_becomes_an_svg_with_its_title_and_legend() {
        let plot = Plot {
            name: "mlm_ppl".into(),
            title: "MLM validation perplexity".into(),
            x_label: "epoch".into(),
            y_label: "perplexity".into(),
            log_y: true,
            series: vec![Series {
                label: "mlm mk".into(),
                points: vec![(1.0, 900.0), (2.0, 600.0)],
            }],
        };
        let s = svg(&plot).expect("svg");
        assert!(s.contains("<svg"), "{s}");
        assert!(s.contains("MLM validation perplexity"), "{s}");
        assert!(s.contains("mlm mk"), "{s}");
        assert_eq!(padded([3.0].into_iter(), 0.1), (2.5, 3.5));
    }
}
