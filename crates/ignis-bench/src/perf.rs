//! The performance report's shape (`benches/report.rs`): which sections a
//! run measures, the A/B variants of the cold-start server, the printed
//! table (each figure beside its floor and their ratio), the verdicts on
//! the targets, and where the JSON goes.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::bail;
use serde_json::{json, Value};

/// A part of the report that can run alone (`IGNIS_BENCH_ONLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Loopback HTTP, fork+exec and interpreter start-up floors.
    Floors,
    /// Warm invokes next to the HTTP floor.
    Warm,
    /// Cold starts per runtime next to their interpreter's start-up.
    Cold,
    /// Distinct cold functions invoked at once.
    Burst,
    /// An idle warm environment's memory per runtime; the server's RSS.
    Memory,
}

impl Section {
    /// Every section, in the order a run measures them.
    pub const ALL: [Section; 5] = [
        Section::Floors,
        Section::Warm,
        Section::Cold,
        Section::Burst,
        Section::Memory,
    ];

    /// Its name in `IGNIS_BENCH_ONLY` and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Section::Floors => "floors",
            Section::Warm => "warm",
            Section::Cold => "cold",
            Section::Burst => "burst",
            Section::Memory => "memory",
        }
    }
}

impl FromStr for Section {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        Section::ALL
            .into_iter()
            .find(|sec| sec.name() == s.trim())
            .ok_or_else(|| {
                anyhow::anyhow!("unknown section {s:?} (one of floors, warm, cold, burst, memory)")
            })
    }
}

/// The sections of a comma-separated `IGNIS_BENCH_ONLY`; all when `None`
/// or empty.
pub fn sections(only: Option<&str>) -> anyhow::Result<Vec<Section>> {
    let Some(only) = only.filter(|s| !s.trim().is_empty()) else {
        return Ok(Section::ALL.to_vec());
    };
    let mut out = only
        .split(',')
        .map(Section::from_str)
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// One server configuration the cold-start sections run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// `default`, or `before`/`after` of an A/B.
    pub name: &'static str,
    /// Variables added to `ignis serve`'s environment.
    pub env: Vec<(&'static str, &'static str)>,
}

/// The variants of `IGNIS_BENCH_AB`: none set, one `default` server;
/// `prewarm`, a server with `IGNIS_PREWARM=off` (`before`) and one with
/// the default (`after`).
pub fn variants(ab: Option<&str>) -> anyhow::Result<Vec<Variant>> {
    match ab.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(vec![Variant {
            name: "default",
            env: Vec::new(),
        }]),
        Some("prewarm") => Ok(vec![
            Variant {
                name: "before",
                env: vec![("IGNIS_PREWARM", "off")],
            },
            Variant {
                name: "after",
                env: Vec::new(),
            },
        ]),
        Some(other) => bail!("IGNIS_BENCH_AB={other:?}: the one A/B is `prewarm`"),
    }
}

/// A target checked in one run: `value` against `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What is checked, e.g. `warm p50 (min-echo) <= 3.5x floor p50`.
    pub target: String,
    /// The measured figure (a ratio, ms or MB, as the target says).
    pub value: f64,
    /// The bound.
    pub limit: f64,
    /// Whether `value` is on the right side of `limit`.
    pub met: bool,
    /// The numbers behind a ratio, for the table.
    pub detail: String,
}

impl Verdict {
    /// Met when `value <= limit`.
    pub fn at_most(target: impl Into<String>, value: f64, limit: f64, detail: String) -> Self {
        Self {
            target: target.into(),
            value,
            limit,
            met: value <= limit,
            detail,
        }
    }

    /// Met when `value >= limit`.
    pub fn at_least(target: impl Into<String>, value: f64, limit: f64, detail: String) -> Self {
        Self {
            target: target.into(),
            value,
            limit,
            met: value >= limit,
            detail,
        }
    }

    /// `MET` or `MISS`.
    pub fn word(&self) -> &'static str {
        if self.met {
            "MET"
        } else {
            "MISS"
        }
    }

    /// `{target, value, limit, met}`.
    pub fn to_json(&self) -> Value {
        json!({
            "target": self.target,
            "value": round(self.value, 4),
            "limit": self.limit,
            "met": self.met,
            "detail": self.detail,
        })
    }
}

/// The printed table: rows grouped by section, each figure beside its
/// floor and their ratio.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    /// Adds a row; `floor` and `ratio` may be empty.
    pub fn row(
        &mut self,
        section: &str,
        metric: &str,
        value: String,
        floor: String,
        ratio: String,
    ) {
        self.rows
            .push([section.into(), metric.into(), value, floor, ratio]);
    }

    /// Adds a row whose ratio is `value / floor` of the given numbers.
    pub fn ratio_row(
        &mut self,
        section: &str,
        metric: &str,
        (value, shown): (f64, String),
        floor: Option<(f64, String)>,
    ) {
        let (floor_shown, ratio_shown) = match floor {
            Some((f, s)) => (s, format!("{:.2}x", ratio(value, f))),
            None => (String::new(), String::new()),
        };
        self.row(section, metric, shown, floor_shown, ratio_shown);
    }

    /// The rows as aligned text, then the verdicts.
    pub fn render(&self, verdicts: &[Verdict]) -> String {
        let header = ["section", "metric", "value", "floor", "ratio"].map(String::from);
        let mut widths = [0usize; 5];
        for r in std::iter::once(&header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut last_section = "";
        for r in std::iter::once(&header).chain(&self.rows) {
            if !last_section.is_empty() && r[0] != last_section {
                out.push('\n');
            }
            last_section = &r[0];
            let line = format!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4],
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if !verdicts.is_empty() {
            let width = verdicts
                .iter()
                .map(|v| v.target.chars().count())
                .max()
                .unwrap_or(0);
            let _ = writeln!(out, "\n{:<width$}  {:>10}  verdict", "target", "value");
            for v in verdicts {
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>10}  {} ({})",
                    v.target,
                    shown(v.value),
                    v.word(),
                    v.detail
                );
            }
            let met = verdicts.iter().filter(|v| v.met).count();
            let _ = writeln!(out, "{met} of {} targets met", verdicts.len());
        }
        out
    }
}

/// A figure with about three significant digits.
fn shown(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `a / b`, infinite when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::INFINITY
    }
}

/// Microseconds of a duration.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `v` rounded to `digits` decimals, for the JSON.
pub fn round(v: f64, digits: i32) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// Writes the JSON of a run to `<dir>/report-<stamp>.json` and returns
/// the path (`stamp`: the run's UTC date and time, `YYYY-MM-DDTHHMMSSZ`).
pub fn store_json(dir: &Path, stamp: &str, report: &Value) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("report-{stamp}.json"));
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    fs::write(&path, text + "\n")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_parse_and_default_to_all() {
        assert_eq!(sections(None).unwrap(), Section::ALL.to_vec());
        assert_eq!(sections(Some(" ")).unwrap(), Section::ALL.to_vec());
        assert_eq!(
            sections(Some("memory,cold, cold")).unwrap(),
            vec![Section::Cold, Section::Memory]
        );
        assert!(sections(Some("warm,fast")).is_err());
    }

    #[test]
    fn variants_of_the_prewarm_ab() {
        assert_eq!(variants(None).unwrap().len(), 1);
        let ab = variants(Some("prewarm")).unwrap();
        assert_eq!(ab[0].name, "before");
        assert_eq!(ab[0].env, vec![("IGNIS_PREWARM", "off")]);
        assert!(ab[1].env.is_empty());
        assert!(variants(Some("zygote")).is_err());
    }

    #[test]
    fn verdicts_and_the_table() {
        let met = Verdict::at_most("p50 <= 3.5x", 3.5, 3.5, "a".into());
        let miss = Verdict::at_least("rate >= 0.2x", 0.19, 0.2, "b".into());
        assert!(met.met && !miss.met);
        assert_eq!(miss.to_json()["met"], json!(false));
        let mut t = Table::default();
        t.ratio_row(
            "warm",
            "p50",
            (40.0, "40.0 µs".into()),
            Some((10.0, "10.0 µs".into())),
        );
        t.row(
            "memory",
            "server RSS",
            "9 MB".into(),
            String::new(),
            String::new(),
        );
        let text = t.render(&[met, miss]);
        assert!(text.contains("4.00x"), "{text}");
        assert!(
            text.contains("MET (a)") && text.contains("MISS (b)"),
            "{text}"
        );
        assert!(text.contains("1 of 2 targets met"), "{text}");
    }
}
