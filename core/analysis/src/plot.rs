//! PNG plots written into the run folder: the singular value spectrum of each modality
//! and a 2-D PCA of both modalities together.
//!
//! Text is rendered with a TrueType font read at run time (`PLEXUS_FONT`, else DejaVu or
//! Liberation Sans under /usr/share/fonts), so no fontconfig is needed; with no font found
//! the plots are still drawn, without captions, labels or legend.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ndarray::{ArrayView1, ArrayView2};
use plotters::prelude::*;

use crate::error::{Error, Result};

const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (800, 600);

/// Registers a font with plotters once per process; true when text can be drawn.
fn font_available() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let mut candidates: Vec<PathBuf> = std::env::var_os("PLEXUS_FONT").map(PathBuf::from).into_iter().collect();
        for p in [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
        ] {
            candidates.push(PathBuf::from(p));
        }
        candidates.iter().any(|p| match std::fs::read(p) {
            // Leaked once per process: plotters keeps a &'static reference to the font.
            Ok(bytes) => plotters::style::register_font(FAMILY, FontStyle::Normal, Box::leak(bytes.into_boxed_slice())).is_ok(),
            Err(_) => false,
        })
    })
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot { path: path.to_path_buf(), msg: e.to_string() }
}

/// Log-scale plot of `σₖ / σ₁` against `k` for each named spectrum (descending values).
pub fn spectrum_plot(path: &Path, title: &str, spectra: &[(&str, ArrayView1<f64>)]) -> Result<()> {
    let text = font_available();
    let kmax = spectra.iter().map(|(_, s)| s.len()).max().unwrap_or(1).max(2);
    // Relative values floored at 1e-12 so exact zeros stay on a log axis.
    let rel: Vec<Vec<f64>> = spectra
        .iter()
        .map(|(_, s)| {
            let top = s.iter().copied().fold(0.0, f64::max);
            s.iter().map(|v| if top > 0.0 { (v / top).max(1e-12) } else { 1e-12 }).collect()
        })
        .collect();
    let ymin = rel.iter().flatten().copied().fold(1.0, f64::min).max(1e-12) * 0.5;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15).x_label_area_size(if text { 40 } else { 5 }).y_label_area_size(if text { 60 } else { 5 });
    if text {
        builder.caption(title, (FAMILY, 22));
    }
    let mut chart = builder.build_cartesian_2d(1f64..kmax as f64, (ymin..1.5f64).log_scale()).map_err(|e| plot_err(path, e))?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("index k")
            .y_desc("σ_k / σ_1")
            .label_style((FAMILY, 14))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| plot_err(path, e))?;
    for (i, ((name, _), values)) in spectra.iter().zip(&rel).enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let series = chart
            .draw_series(LineSeries::new(values.iter().enumerate().map(|(k, v)| ((k + 1) as f64, *v)), color.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?;
        if text {
            series.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font((FAMILY, 14)).draw().map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

/// Axis ranges covering every finite point, padded by 5% (at least 1e-6) on each side;
/// `None` when there is no finite point.
fn padded_bounds(points: impl Iterator<Item = (f64, f64)>) -> Option<(std::ops::Range<f64>, std::ops::Range<f64>)> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return None;
    }
    let pad = |a: f64, b: f64| ((b - a) * 0.05).max(1e-6);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    Some(((x0 - px)..(x1 + px), (y0 - py)..(y1 + py)))
}

/// Scatter plot of 2-D points, one colour per named group (`[N, 2]` each).
pub fn scatter_plot(path: &Path, title: &str, axes: (&str, &str), groups: &[(&str, ArrayView2<f64>)]) -> Result<()> {
    let text = font_available();
    let all = groups.iter().flat_map(|(_, p)| p.rows().into_iter().map(|r| (r[0], r[1])).collect::<Vec<_>>());
    let (xs, ys) = padded_bounds(all).ok_or_else(|| plot_err(path, "no finite points to plot"))?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15).x_label_area_size(if text { 40 } else { 5 }).y_label_area_size(if text { 60 } else { 5 });
    if text {
        builder.caption(title, (FAMILY, 22));
    }
    let mut chart = builder.build_cartesian_2d(xs, ys).map_err(|e| plot_err(path, e))?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(axes.0).y_desc(axes.1).label_style((FAMILY, 14)).x_label_formatter(&|v| format!("{v:.2}")).y_label_formatter(&|v| format!("{v:.2}"));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| plot_err(path, e))?;
    for (i, (name, points)) in groups.iter().enumerate() {
        let color = Palette99::pick(i).mix(0.5);
        let series = chart
            .draw_series(points.rows().into_iter().map(|r| Circle::new((r[0], r[1]), 2, color.filled())))
            .map_err(|e| plot_err(path, e))?;
        if text {
            series.label(*name).legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font((FAMILY, 14)).draw().map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

/// Line chart of named `(x, y)` series (e.g. training curves against the step).
pub fn line_plot(path: &Path, title: &str, axes: (&str, &str), series: &[(&str, Vec<(f64, f64)>)]) -> Result<()> {
    let text = font_available();
    let points = series.iter().flat_map(|(_, s)| s.iter().copied());
    let (xs, ys) = padded_bounds(points).ok_or_else(|| plot_err(path, "no finite points to plot"))?;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15).x_label_area_size(if text { 40 } else { 5 }).y_label_area_size(if text { 60 } else { 5 });
    if text {
        builder.caption(title, (FAMILY, 22));
    }
    let mut chart = builder
        .build_cartesian_2d(xs, ys)
        .map_err(|e| plot_err(path, e))?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(axes.0).y_desc(axes.1).label_style((FAMILY, 14));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| plot_err(path, e))?;
    for (i, (name, s)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line = chart.draw_series(LineSeries::new(s.iter().copied(), color.stroke_width(2))).map_err(|e| plot_err(path, e))?;
        if text {
            line.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font((FAMILY, 14)).draw().map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

/// One category of an [`error_bar_plot`]: a name, the value and its interval.
pub struct ErrorBarPoint<'a> {
    pub name: &'a str,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// Drawn in a second colour (e.g. the baseline of an ablation).
    pub highlight: bool,
}

/// One point with a vertical error bar per named category (e.g. a metric's mean and 95%
/// CI per ablation variant), categories along x in the order given.
pub fn error_bar_plot(path: &Path, title: &str, y_label: &str, points: &[ErrorBarPoint]) -> Result<()> {
    let text = font_available();
    let bounds = points.iter().flat_map(|p| [(0.0, p.low), (0.0, p.high), (0.0, p.value)]);
    let (_, ys) = padded_bounds(bounds).ok_or_else(|| plot_err(path, "no finite values to plot"))?;
    let n = points.len().max(1);
    // Each category gets room for its name under the axis.
    let per_category = (points.iter().map(|p| p.name.chars().count()).max().unwrap_or(0) as u32 * 8).clamp(120, 600);
    let root = BitMapBackend::new(path, (SIZE.0.max(per_category * n as u32 + 100), SIZE.1)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15).x_label_area_size(if text { 40 } else { 5 }).y_label_area_size(if text { 70 } else { 5 });
    if text {
        builder.caption(title, (FAMILY, 22));
    }
    let mut chart = builder.build_cartesian_2d(-0.5f64..(n as f64 - 0.5), ys).map_err(|e| plot_err(path, e))?;
    let names: Vec<String> = points.iter().map(|p| p.name.to_string()).collect();
    let category = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 { names.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
    };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh();
    if text {
        mesh.y_desc(y_label)
            .x_labels(n)
            .x_label_formatter(&category)
            .label_style((FAMILY, 14));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| plot_err(path, e))?;
    for (i, p) in points.iter().enumerate() {
        let color = if p.highlight { Palette99::pick(1).to_rgba() } else { Palette99::pick(0).to_rgba() };
        let x = i as f64;
        chart
            .draw_series(std::iter::once(ErrorBar::new_vertical(x, p.low, p.value, p.high, color.filled().stroke_width(2), 14)))
            .map_err(|e| plot_err(path, e))?;
        chart.draw_series(std::iter::once(Circle::new((x, p.value), 5, color.filled()))).map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}
