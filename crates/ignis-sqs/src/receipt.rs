//! Receipt handles: what a receive hands out to name one delivery of a
//! message. A handle is URL-safe base64 (no padding) of
//! `<queue>\n<row id>\n<token>`; the token is random per receive and kept on
//! the message's row, so a handle is unguessable and a newer receive makes
//! older handles stale.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// A parsed receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The queue it was received from.
    pub queue: String,
    /// The message's row.
    pub id: i64,
    /// The receive's token.
    pub token: String,
}

/// A fresh receive token.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The handle of a delivery.
pub fn encode(queue: &str, id: i64, token: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{queue}\n{id}\n{token}"))
}

/// Parses a handle; `None` when it is not one of ours.
pub fn decode(handle: &str) -> Option<Receipt> {
    let raw = URL_SAFE_NO_PAD.decode(handle).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, '\n');
    let (queue, id, token) = (parts.next()?, parts.next()?, parts.next()?);
    if queue.is_empty() || token.is_empty() {
        return None;
    }
    Some(Receipt {
        queue: queue.to_string(),
        id: id.parse().ok()?,
        token: token.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_garbage_is_refused() {
        let t = new_token();
        let h = encode("q.fifo", 42, &t);
        assert_eq!(
            decode(&h),
            Some(Receipt {
                queue: "q.fifo".into(),
                id: 42,
                token: t
            })
        );
        assert_eq!(decode("not a handle"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("q\nx\nt")), None);
        assert_eq!(decode(""), None);
    }
}
