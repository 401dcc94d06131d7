//! Chart geometry for server-side SVG (web UI spec §9): the marks a template draws — bars,
//! polylines, dots, grid lines and axis labels — computed here in plain numbers, so the
//! template holds no arithmetic and the page needs no script or remote asset.
//!
//! Every time chart has the same frame (width, height, margins) and one band per bucket, so
//! charts of one window line up under each other; a value axis starts at zero and ends on a
//! "nice" number (1, 2, 2.5 or 5 × 10ⁿ steps).

/// The frame of every chart, in SVG user units (the SVG scales to its container).
pub(crate) const WIDTH: f64 = 640.0;
pub(crate) const HEIGHT: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;
/// At most this many bucket labels under the x axis.
const MAX_X_LABELS: usize = 7;

/// A number as an SVG attribute (one decimal is finer than a pixel at these sizes).
pub(crate) fn n(x: f64) -> String {
    format!("{x:.1}")
}

/// A horizontal grid line with its value label.
#[derive(Debug, Clone)]
pub(crate) struct GridLine {
    pub y: String,
    pub label: String,
}

/// A label under the x axis.
#[derive(Debug, Clone)]
pub(crate) struct XLabel {
    pub x: String,
    pub label: String,
}

/// One bar (or bar segment).
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    /// CSS classes (the series colour or pattern).
    pub class: &'static str,
    /// The tooltip (`<title>`): bucket and value in words.
    pub title: String,
    /// The bucket's first day (`data-bucket`).
    pub bucket: String,
    /// The raw value (`data-value`), for tests and `charts.js`.
    pub value: String,
}

/// One connected run of a line series.
#[derive(Debug, Clone)]
pub(crate) struct Polyline {
    pub points: String,
    pub class: &'static str,
}

/// A point marker with its tooltip.
#[derive(Debug, Clone)]
pub(crate) struct Dot {
    pub cx: String,
    pub cy: String,
    pub class: &'static str,
    pub title: String,
}

/// Everything a template draws for one chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plot {
    pub width: String,
    pub height: String,
    /// Left and right edges of the plot area.
    pub x0: String,
    pub x1: String,
    /// The zero line.
    pub baseline: String,
    /// Where value labels end (left of the plot) and where bucket labels sit (below it).
    pub tick_x: String,
    pub label_y: String,
    pub grid: Vec<GridLine>,
    pub x_labels: Vec<XLabel>,
    pub bars: Vec<Bar>,
    pub lines: Vec<Polyline>,
    pub dots: Vec<Dot>,
}

/// The step of a nice axis: 1, 2, 2.5 or 5 × 10ⁿ, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The axis top and its ticks for values up to `max`: four steps or fewer; whole steps only
/// when `whole` (counts never get a 2.5 tick).
pub(crate) fn axis(max: f64, whole: bool) -> (f64, Vec<f64>) {
    let mut step = nice_step(max / 4.0);
    if whole {
        step = if step < 1.0 {
            1.0
        } else if step.fract() != 0.0 {
            // 2.5 → 5: counts have whole ticks.
            step * 2.0
        } else {
            step
        };
    }
    let steps = (max / step).ceil().max(1.0);
    let top = steps * step;
    let ticks = (0..=steps as usize).map(|i| i as f64 * step).collect();
    (top, ticks)
}

/// The x layout of `buckets` equal bands across the plot area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bands {
    count: usize,
    band: f64,
}

impl Bands {
    pub(crate) fn new(count: usize) -> Bands {
        let count = count.max(1);
        Bands {
            count,
            band: (WIDTH - LEFT - RIGHT) / count as f64,
        }
    }

    /// The left edge of bucket `i`.
    pub(crate) fn left(&self, i: usize) -> f64 {
        LEFT + self.band * i as f64
    }

    /// The centre of bucket `i`.
    pub(crate) fn centre(&self, i: usize) -> f64 {
        self.left(i) + self.band / 2.0
    }

    /// A bar's left edge and width in bucket `i` (a small gap between bars).
    pub(crate) fn bar(&self, i: usize) -> (f64, f64) {
        let gap = (self.band * 0.2).min(6.0);
        let w = (self.band - gap).max(1.0);
        (self.left(i) + (self.band - w) / 2.0, w)
    }

    /// The full band width.
    pub(crate) fn width(&self) -> f64 {
        self.band
    }

    /// Labels under at most [`MAX_X_LABELS`] buckets, evenly spread, the first one included.
    pub(crate) fn labels(&self, label: impl Fn(usize) -> String) -> Vec<XLabel> {
        let every = self.count.div_ceil(MAX_X_LABELS).max(1);
        (0..self.count)
            .step_by(every)
            .map(|i| XLabel {
                x: n(self.centre(i)),
                label: label(i),
            })
            .collect()
    }
}

/// The vertical layout: values from `low` (≤ 0) to `high` (≥ 0) over the plot height.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    low: f64,
    high: f64,
}

impl Scale {
    pub(crate) fn new(low: f64, high: f64) -> Scale {
        let (low, high) = (low.min(0.0), high.max(0.0));
        if high - low <= 0.0 {
            Scale { low, high: 1.0 }
        } else {
            Scale { low, high }
        }
    }

    /// The y of value `v`.
    pub(crate) fn y(&self, v: f64) -> f64 {
        let h = HEIGHT - TOP - BOTTOM;
        TOP + h * (self.high - v) / (self.high - self.low)
    }
}

/// An empty plot with the frame, the grid of `ticks` (labelled by `label`) and `x_labels`.
pub(crate) fn frame(
    scale: &Scale,
    ticks: &[f64],
    label: impl Fn(f64) -> String,
    x_labels: Vec<XLabel>,
) -> Plot {
    Plot {
        width: n(WIDTH),
        height: n(HEIGHT),
        x0: n(LEFT),
        x1: n(WIDTH - RIGHT),
        baseline: n(scale.y(0.0)),
        tick_x: n(LEFT - 6.0),
        label_y: n(HEIGHT - 8.0),
        grid: ticks
            .iter()
            .map(|t| GridLine {
                y: n(scale.y(*t)),
                label: label(*t),
            })
            .collect(),
        x_labels,
        ..Plot::default()
    }
}

/// A bar from value 0 to `v` (above or below the zero line).
pub(crate) fn bar_rect(scale: &Scale, x: f64, w: f64, v: f64) -> (String, String, String, String) {
    let (a, b) = (scale.y(0.0), scale.y(v));
    (n(x), n(a.min(b)), n(w), n((a - b).abs()))
}

/// The runs of consecutive present values as polylines (a missing value breaks the line).
pub(crate) fn polylines(points: &[Option<(f64, f64)>], class: &'static str) -> Vec<Polyline> {
    let mut out = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for p in points {
        match p {
            Some((x, y)) => run.push(format!("{},{}", n(*x), n(*y))),
            None if !run.is_empty() => {
                out.push(Polyline {
                    points: run.join(" "),
                    class,
                });
                run.clear();
            }
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(Polyline {
            points: run.join(" "),
            class,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_nice_numbers() {
        assert_eq!(axis(7.0, true), (8.0, vec![0.0, 2.0, 4.0, 6.0, 8.0]));
        assert_eq!(axis(1.0, true).0, 1.0);
        assert_eq!(axis(0.0, true), (1.0, vec![0.0, 1.0]));
        assert_eq!(axis(93.0, true).0, 100.0);
        assert_eq!(axis(9.0, true).0, 10.0, "no 2.5 steps for counts");
        assert_eq!(axis(0.9, false).0, 1.0);
    }

    #[test]
    fn bands_cover_the_plot_and_labels_are_sparse() {
        let b = Bands::new(30);
        assert!((b.left(0) - LEFT).abs() < 1e-9);
        assert!((b.left(30) - (WIDTH - RIGHT)).abs() < 1e-9);
        assert!(b.labels(|i| i.to_string()).len() <= MAX_X_LABELS);
        let s = Scale::new(-10.0, 10.0);
        assert!((s.y(0.0) - (TOP + (HEIGHT - TOP - BOTTOM) / 2.0)).abs() < 1e-9);
    }

    #[test]
    fn missing_values_break_lines() {
        let pts = [Some((1.0, 1.0)), Some((2.0, 2.0)), None, Some((4.0, 4.0))];
        let lines = polylines(&pts, "p50");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].points, "1.0,1.0 2.0,2.0");
    }
}
