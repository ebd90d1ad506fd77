//! GetObject's and HeadObject's conditions and ranges, as S3 evaluates
//! them: `If-Match` (else `If-Unmodified-Since`) failing is 412,
//! `If-None-Match` (else `If-Modified-Since`) failing is 304; a `Range` of
//! one `bytes=` range is served as 206 with `Content-Range`, one that does
//! not overlap the object is 416 `InvalidRange`, anything else is ignored.

use http::{HeaderMap, StatusCode};

use crate::error::S3Error;

/// What the conditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Serve,
    /// 304 Not Modified.
    NotModified,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == bare)
}

fn date(value: &str) -> Option<i64> {
    httpdate::parse_http_date(value.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// Evaluates the request's conditions on an object with `etag`, last
/// modified at `modified_ms`.
pub fn evaluate(h: &HeaderMap, etag: &str, modified_ms: i64) -> Result<Verdict, S3Error> {
    let modified = modified_ms.div_euclid(1000);
    let failed = |condition: &str| {
        S3Error::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", condition)
    };
    match header(h, "if-match") {
        Some(list) => {
            if !etag_matches(list, etag) {
                return Err(failed("If-Match"));
            }
        }
        None => {
            if let Some(since) = header(h, "if-unmodified-since").and_then(date) {
                if modified > since {
                    return Err(failed("If-Unmodified-Since"));
                }
            }
        }
    }
    match header(h, "if-none-match") {
        Some(list) => {
            if etag_matches(list, etag) {
                return Ok(Verdict::NotModified);
            }
        }
        None => {
            if let Some(since) = header(h, "if-modified-since").and_then(date) {
                if modified <= since {
                    return Ok(Verdict::NotModified);
                }
            }
        }
    }
    Ok(Verdict::Serve)
}

/// The byte range to serve (`start`, inclusive `end`) of an object of
/// `size` bytes; `None`: the whole object.
pub fn range(h: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(value) = header(h, "range") else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let unsatisfiable = || {
        S3Error::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", value)
        .with("ActualObjectSize", size.to_string())
    };
    let parsed = match (first.is_empty(), last.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            let Ok(n) = last.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let Ok(start) = first.parse::<u64>() else {
                return Ok(None);
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match last.parse::<u64>() {
                    Ok(e) if e >= start => e,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(unsatisfiable());
            }
            (start, end.min(size - 1))
        }
    };
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn ranges() {
        let r = |v: &str| range(&h(&[("range", v)]), 10);
        assert_eq!(r("bytes=0-3").unwrap(), Some((0, 3)));
        assert_eq!(r("bytes=5-").unwrap(), Some((5, 9)));
        assert_eq!(r("bytes=-3").unwrap(), Some((7, 9)));
        assert_eq!(r("bytes=8-100").unwrap(), Some((8, 9)));
        assert_eq!(r("bytes=-100").unwrap(), Some((0, 9)));
        assert_eq!(r("bytes=10-").unwrap_err().code, "InvalidRange");
        assert_eq!(r("bytes=3-1").unwrap(), None);
        assert_eq!(r("bytes=0-1,3-4").unwrap(), None);
        assert_eq!(r("items=0-1").unwrap(), None);
    }

    #[test]
    fn conditions_in_s3_order() {
        let etag = "\"abc\"";
        let t = 1_700_000_000_000; // Tue, 14 Nov 2023 22:13:20 GMT
        let e = |pairs: &[(&'static str, &str)]| evaluate(&h(pairs), etag, t);
        assert_eq!(e(&[("if-match", "\"abc\"")]).unwrap(), Verdict::Serve);
        assert_eq!(
            e(&[("if-match", "\"x\"")]).unwrap_err().code,
            "PreconditionFailed"
        );
        assert_eq!(
            e(&[("if-none-match", "\"abc\"")]).unwrap(),
            Verdict::NotModified
        );
        assert_eq!(e(&[("if-none-match", "\"x\"")]).unwrap(), Verdict::Serve);
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        let after = "Tue, 14 Nov 2023 22:13:21 GMT";
        assert_eq!(
            e(&[("if-modified-since", after)]).unwrap(),
            Verdict::NotModified
        );
        assert_eq!(e(&[("if-modified-since", before)]).unwrap(), Verdict::Serve);
        assert_eq!(
            e(&[("if-unmodified-since", before)]).unwrap_err().code,
            "PreconditionFailed"
        );
        // If-Match holding overrides a failing If-Unmodified-Since.
        assert_eq!(
            e(&[("if-match", "\"abc\""), ("if-unmodified-since", before)]).unwrap(),
            Verdict::Serve
        );
        // If-None-Match failing (not matching) overrides If-Modified-Since.
        assert_eq!(
            e(&[("if-none-match", "\"x\""), ("if-modified-since", after)]).unwrap(),
            Verdict::Serve
        );
    }
}
