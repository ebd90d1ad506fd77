//! Unique ids as AWS formats them: a four-letter prefix naming the kind
//! (`AIDA` user, `AROA` role, `ANPA` managed policy, `AKIA` access key)
//! and 16 random characters of `A-Z2-7`; secrets of 40 base64 characters.

use ignis_protocol::AwsError;

use crate::error::service_failure;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random<const N: usize>() -> Result<[u8; N], AwsError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| service_failure())?;
    Ok(bytes)
}

/// `prefix` and 16 random characters of `A-Z2-7` (20 in all).
pub fn unique_id(prefix: &str) -> Result<String, AwsError> {
    let tail: String = random::<16>()?
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    Ok(format!("{prefix}{tail}"))
}

/// A secret access key: 40 random base64 characters.
pub fn secret() -> Result<String, AwsError> {
    Ok(random::<40>()?
        .iter()
        .map(|b| char::from(SECRET_ALPHABET[usize::from(b % 64)]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_aws_ids_and_differ() {
        let a = unique_id("AIDA").unwrap();
        assert_eq!(a.len(), 20);
        assert!(a.starts_with("AIDA"));
        assert!(a[4..].chars().all(|c| ALPHABET.contains(&(c as u8))));
        assert_ne!(a, unique_id("AIDA").unwrap());
        let s = secret().unwrap();
        assert_eq!(s.len(), 40);
        assert_ne!(s, secret().unwrap());
    }
}
