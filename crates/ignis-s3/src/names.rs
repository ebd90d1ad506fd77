//! S3's naming rules: bucket names (3–63 characters of lowercase letters,
//! digits, dots and hyphens, starting and ending with a letter or digit,
//! no `..`, not an IP address, none of the reserved prefixes and
//! suffixes) and keys (at most 1,024 bytes of UTF-8).

use http::StatusCode;

use crate::error::S3Error;

/// The longest key, in bytes.
pub const KEY_MAX: usize = 1024;

/// Whether `name` is a bucket name S3 accepts.
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    let ok_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.iter().all(ok_char) || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !PREFIXES.iter().any(|p| name.starts_with(p)) && !SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// `InvalidBucketName` unless `name` is valid.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    if valid_bucket_name(name) {
        Ok(())
    } else {
        Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", name))
    }
}

/// `KeyTooLongError` for a key over [`KEY_MAX`] bytes.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.len() > KEY_MAX {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLongError",
            "Your key is too long",
        )
        .with("MaxSizeAllowed", KEY_MAX.to_string())
        .with("Size", key.len().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "under_score",
            "sthree-x",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn keys_are_at_most_1024_bytes() {
        assert!(check_key(&"k".repeat(1024)).is_ok());
        let e = check_key(&"k".repeat(1025)).unwrap_err();
        assert_eq!(e.code, "KeyTooLongError");
        // Bytes, not characters.
        assert!(check_key(&"é".repeat(513)).is_err());
    }
}
