//! One timed cold start: the first invoke of a fresh environment, checked
//! to echo the payload, and the `Init Duration` its REPORT line states.

use std::time::{Duration, Instant};

use anyhow::bail;
use ignis_client::{Client, InvokeRequest};

use crate::server::IgnisProcess;

/// The variable changed to force a fresh environment.
pub const COLD_VAR: &str = "IGNIS_BENCH_COLD";

/// The samples of a series of cold starts.
#[derive(Debug, Clone, Default)]
pub struct ColdRun {
    /// Wall time of each cold invoke.
    pub cold: Vec<Duration>,
    /// `Init Duration` of the REPORT lines that state one.
    pub init: Vec<Duration>,
}

/// `n` cold starts of function `name`: each forced by
/// UpdateFunctionConfiguration changing [`COLD_VAR`] (untimed; the server
/// retires the idle environments), then the first invoke of the fresh
/// environment, timed and checked to echo `payload`.
pub async fn cold_starts(
    ignis: &IgnisProcess,
    client: &Client,
    name: &str,
    payload: &str,
    n: usize,
) -> anyhow::Result<ColdRun> {
    cold_starts_between(ignis, client, name, payload, n, || Ok(())).await
}

/// [`cold_starts`], running `between` after each one (e.g. one run of the
/// floor, so both see the same background load).
pub async fn cold_starts_between(
    ignis: &IgnisProcess,
    client: &Client,
    name: &str,
    payload: &str,
    n: usize,
    mut between: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<ColdRun> {
    let mut run = ColdRun::default();
    for i in 0..n {
        ignis.set_env(name, COLD_VAR, &i.to_string()).await?;
        let start = Instant::now();
        let tail = invoke_checked(client, name, payload).await?;
        run.cold.push(start.elapsed());
        run.init.extend(init_duration(&tail));
        between()?;
    }
    Ok(run)
}

/// Invokes `name` with `payload` and `LogType=Tail`; fails unless the
/// payload comes back unchanged. Returns the log tail.
pub async fn invoke_checked(client: &Client, name: &str, payload: &str) -> anyhow::Result<String> {
    let out = client
        .invoke(
            name,
            InvokeRequest {
                tail: true,
                payload: payload.as_bytes().to_vec(),
                ..Default::default()
            },
        )
        .await?;
    let want: serde_json::Value = serde_json::from_str(payload)?;
    let got: Option<serde_json::Value> = serde_json::from_slice(&out.payload).ok();
    if out.status != 200 || out.function_error.is_some() || got.as_ref() != Some(&want) {
        bail!(
            "invoke of {name} answered {} {:?}: {}\nlog tail:\n{}",
            out.status,
            out.function_error,
            String::from_utf8_lossy(&out.payload),
            out.log_tail.unwrap_or_default()
        );
    }
    Ok(out.log_tail.unwrap_or_default())
}

/// `Init Duration: 12.34 ms` of the REPORT line in a log tail.
pub fn init_duration(tail: &str) -> Option<Duration> {
    let line = tail.lines().rev().find(|l| l.starts_with("REPORT"))?;
    let rest = line.split("Init Duration:").nth(1)?;
    let ms: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1e3))
}

/// A duration as `812.3 µs` or `4.2 ms`.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.1} µs", ms * 1e3)
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_init_duration_of_the_report_line() {
        let tail =
            "START RequestId: x\nREPORT RequestId: x\tDuration: 1.00 ms\tInit Duration: 12.34 ms\t";
        assert_eq!(init_duration(tail), Some(Duration::from_micros(12_340)));
        assert_eq!(init_duration("REPORT RequestId: x\tDuration: 1 ms"), None);
        assert_eq!(ms(Duration::from_micros(4_200)), "4.2 ms");
        assert_eq!(ms(Duration::from_nanos(812_300)), "812.3 µs");
    }
}
