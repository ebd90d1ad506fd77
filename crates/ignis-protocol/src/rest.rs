//! Matching a REST request (method, path, query, headers) to the operation
//! whose HTTP binding it fits, from the model's URI templates: `{Name}`
//! takes one path segment, `{Name+}` the rest of the path, `?key` requires
//! a query key and `?key=value` its value.

use crate::{Operation, Service};

/// The operation of `service` whose binding fits the request best: of those
/// that fit, the one with the most required query keys and headers, then
/// the most literal path segments (`/{Bucket}?tagging` over `/{Bucket}`);
/// of equals, the first in the model's (alphabetical) order.
pub fn match_rest(
    service: &'static Service,
    method: &str,
    path: &str,
    query: &str,
    has_header: &dyn Fn(&str) -> bool,
) -> Option<&'static Operation> {
    service
        .operations?
        .iter()
        .filter(|op| op.method == method)
        .filter_map(|op| fit(op, path, query, has_header).map(|score| (score, op)))
        .fold(
            None,
            |best: Option<((usize, usize), &Operation)>, (score, op)| match best {
                Some((top, _)) if top >= score => best,
                _ => Some((score, op)),
            },
        )
        .map(|(_, op)| op)
}

/// How specific the fit is, or `None` when the request does not fit.
fn fit(
    op: &Operation,
    path: &str,
    query: &str,
    has_header: &dyn Fn(&str) -> bool,
) -> Option<(usize, usize)> {
    let (template, required) = op.uri.split_once('?').unwrap_or((op.uri, ""));
    let literals = fit_path(template, path)?;
    let mut specific = 0;
    for key in required.split('&').filter(|k| !k.is_empty()) {
        if !query_has(query, key) {
            return None;
        }
        specific += 1;
    }
    for header in op.headers {
        if !has_header(header) {
            return None;
        }
        specific += 1;
    }
    Some((specific, literals))
}

/// The number of literal segments matched, or `None`.
fn fit_path(template: &str, path: &str) -> Option<usize> {
    let mut want = template.trim_end_matches('/').split('/');
    let mut have = path.trim_end_matches('/').split('/');
    let mut literals = 0;
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(literals),
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with("+}") => {
                // The rest of the path, at least one non-empty segment.
                return (!h.is_empty() || have.next().is_some()).then_some(literals);
            }
            (Some(w), Some(h)) if w.starts_with('{') => {
                if h.is_empty() {
                    return None;
                }
            }
            (Some(w), Some(h)) if w == h => literals += usize::from(!w.is_empty()),
            _ => return None,
        }
    }
}

/// Whether the query string has `key`, or `key=value` when the template
/// names the value.
fn query_has(query: &str, wanted: &str) -> bool {
    let (key, value) = match wanted.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (wanted, None),
    };
    query.split('&').any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k == key && value.is_none_or(|want| want == v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        service: &str,
        method: &str,
        path: &str,
        query: &str,
        headers: &[&str],
    ) -> Option<&'static str> {
        let service = Service::by_signing_name(service).unwrap();
        let has = |h: &str| headers.contains(&h);
        match_rest(service, method, path, query, &has).map(|o| o.name)
    }

    #[test]
    fn lambda_paths_name_their_operations() {
        let f = "/2015-03-31/functions";
        assert_eq!(
            op("lambda", "GET", &format!("{f}/"), "", &[]),
            Some("ListFunctions")
        );
        assert_eq!(op("lambda", "GET", f, "", &[]), Some("ListFunctions"));
        assert_eq!(
            op("lambda", "GET", &format!("{f}/fn"), "", &[]),
            Some("GetFunction")
        );
        assert_eq!(
            op("lambda", "GET", &format!("{f}/fn/aliases"), "", &[]),
            Some("ListAliases")
        );
        assert_eq!(
            op(
                "lambda",
                "GET",
                &format!("{f}/fn/versions"),
                "Marker=x",
                &[]
            ),
            Some("ListVersionsByFunction")
        );
        assert_eq!(
            op("lambda", "POST", &format!("{f}/fn/invocations"), "", &[]),
            Some("Invoke")
        );
        assert_eq!(op("lambda", "PATCH", &format!("{f}/fn"), "", &[]), None);
        assert_eq!(op("lambda", "GET", "/nothing/here", "", &[]), None);
        assert_eq!(
            op("lambda", "GET", "/2018-10-31/layers", "", &[]),
            Some("ListLayers")
        );
        assert_eq!(
            op(
                "lambda",
                "GET",
                "/2018-10-31/layers",
                "find=LayerVersion&Arn=x",
                &[]
            ),
            Some("GetLayerVersionByArn")
        );
    }

    #[test]
    fn s3_bindings_are_told_apart_by_query_and_headers() {
        assert_eq!(op("s3", "GET", "/", "", &[]), Some("ListBuckets"));
        assert_eq!(op("s3", "PUT", "/b", "", &[]), Some("CreateBucket"));
        assert_eq!(
            op("s3", "GET", "/b", "list-type=2&prefix=a", &[]),
            Some("ListObjectsV2")
        );
        assert_eq!(op("s3", "GET", "/b", "prefix=a", &[]), Some("ListObjects"));
        assert_eq!(
            op("s3", "GET", "/b/k/with/slashes", "", &[]),
            Some("GetObject")
        );
        assert_eq!(op("s3", "PUT", "/b/k", "", &[]), Some("PutObject"));
        assert_eq!(
            op("s3", "PUT", "/b/k", "", &["x-amz-copy-source"]),
            Some("CopyObject")
        );
        assert_eq!(
            op("s3", "PUT", "/b/k", "partNumber=1&uploadId=u", &[]),
            Some("UploadPart")
        );
        assert_eq!(
            op("s3", "PUT", "/b", "tagging", &[]),
            Some("PutBucketTagging")
        );
        assert_eq!(
            op("s3", "POST", "/b/k", "uploads", &[]),
            Some("CreateMultipartUpload")
        );
        assert_eq!(op("s3", "HEAD", "/b", "", &[]), Some("HeadBucket"));
    }

    #[test]
    fn greedy_labels_need_a_segment() {
        assert_eq!(fit_path("/{Bucket}/{Key+}", "/b/"), None);
        assert_eq!(fit_path("/{Bucket}/{Key+}", "/b/k/l"), Some(0));
        assert_eq!(fit_path("/a/{B}", "/a//"), None);
    }
}
