//! Reading HTTP bodies under a size limit without breaking the connection:
//! a body over the limit is read to its end (up to a drain bound) and
//! dropped, so the client is not cut off mid-upload and reads the error.
//! Used by the Runtime API and the Invoke and management APIs.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::HeaderMap;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit; `read` bytes were seen.
    TooLarge {
        /// Bytes read before giving up (all of them if `drained`).
        read: usize,
        /// Whether the whole body was read (the connection can be reused).
        drained: bool,
    },
    /// The transport failed.
    Read(String),
}

/// Reads at most `max` bytes; a longer body is read and dropped up to
/// `drain_max` bytes in all. One-chunk bodies are returned without a copy.
pub async fn read_limited<B>(body: B, max: usize, drain_max: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    read_with_trailers(body, max, drain_max)
        .await
        .map(|(bytes, _)| bytes)
}

/// [`read_limited`], also returning the trailers a chunked body ended with.
pub async fn read_with_trailers<B>(
    mut body: B,
    max: usize,
    drain_max: usize,
) -> Result<(Bytes, Option<HeaderMap>), BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let mut trailers: Option<HeaderMap> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.get_or_insert_with(HeaderMap::new).extend(t);
                }
                continue;
            }
        };
        total += data.len();
        if total > drain_max {
            return Err(BodyError::TooLarge {
                read: total,
                drained: false,
            });
        }
        if total <= max {
            chunks.push(data);
        } else {
            chunks.clear();
        }
    }
    if total > max {
        return Err(BodyError::TooLarge {
            read: total,
            drained: true,
        });
    }
    let bytes = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut buf = BytesMut::with_capacity(total);
            chunks.iter().for_each(|c| buf.extend_from_slice(c));
            buf.freeze()
        }
    };
    Ok((bytes, trailers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body arriving in several chunks.
    struct Chunks(Vec<Bytes>);

    impl hyper::body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            let next = (!self.0.is_empty()).then(|| Ok(Frame::data(self.0.remove(0))));
            Poll::Ready(next)
        }
    }

    #[tokio::test]
    async fn reads_within_limit_and_refuses_beyond() {
        let ok = read_limited(Full::new(Bytes::from_static(b"abc")), 3, 10).await;
        assert_eq!(ok, Ok(Bytes::from_static(b"abc")));
        let big = read_limited(Full::new(Bytes::from_static(b"abcd")), 3, 10).await;
        assert_eq!(
            big,
            Err(BodyError::TooLarge {
                read: 4,
                drained: true
            })
        );
        let huge = read_limited(Full::new(Bytes::from_static(b"abcdefghijkl")), 3, 10).await;
        assert_eq!(
            huge,
            Err(BodyError::TooLarge {
                read: 12,
                drained: false
            })
        );
    }

    #[tokio::test]
    async fn joins_chunks_and_drains_oversized_ones() {
        let parts = || Chunks(vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]);
        assert_eq!(
            read_limited(parts(), 4, 10).await,
            Ok(Bytes::from_static(b"abcd"))
        );
        assert_eq!(
            read_limited(parts(), 3, 10).await,
            Err(BodyError::TooLarge {
                read: 4,
                drained: true
            })
        );
    }
}
