//! The `--since` argument of `ignis logs`: a duration back from now (`30s`,
//! `10m`, `1h30m`, `2d`) or an RFC 3339 time.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where `--since` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// This instant.
    At(DateTime<Utc>),
}

/// Why a `--since` value was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SinceError {
    /// Neither a duration nor an RFC 3339 time.
    #[error("expected a duration such as 30s, 10m, 1h or 2d, or an RFC 3339 time such as 2024-05-01T12:00:00Z")]
    Malformed,
    /// A duration too long to count back from now.
    #[error("duration is too long")]
    TooLong,
}

impl Since {
    /// Milliseconds since the Unix epoch at which the lines start, given `now`.
    pub fn to_epoch_ms(self, now: DateTime<Utc>) -> i64 {
        match self {
            Self::At(at) => at.timestamp_millis(),
            Self::Ago(ago) => {
                let ago = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
                now.timestamp_millis().saturating_sub(ago).max(0)
            }
        }
    }
}

/// Parses a `--since` value (clap's value parser).
pub fn parse(value: &str) -> Result<Since, SinceError> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(Since::At(at.with_timezone(&Utc)));
    }
    parse_duration(value).map(Since::Ago)
}

/// Parses `<number><unit>` runs, units `ms`, `s`, `m`, `h`, `d`, `w`.
fn parse_duration(value: &str) -> Result<Duration, SinceError> {
    let mut rest = value;
    let mut total_ms: u64 = 0;
    if rest.is_empty() {
        return Err(SinceError::Malformed);
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let number: u64 = number.parse().map_err(|_| SinceError::Malformed)?;
        let ms = number
            .checked_mul(unit_ms(unit)?)
            .ok_or(SinceError::TooLong)?;
        total_ms = total_ms.checked_add(ms).ok_or(SinceError::TooLong)?;
        rest = &rest[digits + unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

fn unit_ms(unit: &str) -> Result<u64, SinceError> {
    Ok(match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(SinceError::Malformed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ms(value: &str) -> i64 {
        parse(value).unwrap().to_epoch_ms(now())
    }

    #[test]
    fn durations_count_back_from_now() {
        let now_ms = now().timestamp_millis();
        assert_eq!(ms("30s"), now_ms - 30_000);
        assert_eq!(ms("10m"), now_ms - 600_000);
        assert_eq!(ms("1h"), now_ms - 3_600_000);
        assert_eq!(ms("1h30m"), now_ms - 5_400_000);
        assert_eq!(ms("2d"), now_ms - 172_800_000);
        assert_eq!(ms("500ms"), now_ms - 500);
        assert_eq!(ms("0s"), now_ms);
    }

    #[test]
    fn rfc3339_times_are_absolute() {
        assert_eq!(
            ms("2024-05-01T11:00:00Z"),
            now().timestamp_millis() - 3_600_000
        );
        assert_eq!(
            ms("2024-05-01T13:00:00+02:00"),
            now().timestamp_millis() - 3_600_000
        );
    }

    #[test]
    fn far_back_stops_at_the_epoch() {
        assert_eq!(ms("100000w"), 0);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "1.5h",
            "-1h",
            "h10",
            "yesterday",
            "2024-05-01",
        ] {
            assert_eq!(parse(bad), Err(SinceError::Malformed), "{bad:?}");
        }
        assert_eq!(parse("99999999999999999999s"), Err(SinceError::Malformed));
        assert_eq!(parse("9999999999999999w"), Err(SinceError::TooLong));
    }
}
