//! A byte budget on request bodies being read, parsed and translated at once.
//!
//! A request costs about three times its size while it is turned into the upstream's (the raw
//! bytes, the typed request, the translated body), and Codex sends the whole history every turn:
//! 256 Codex-sized requests arriving together, or a few 1.5 MB ones, would otherwise multiply that
//! in memory at the same moment. A request takes its share of the budget before its body is read
//! and gives it back once the upstream's body is built and the rest dropped. The phase is pure
//! CPU, so waiting for a share costs no throughput; a request larger than the whole budget waits
//! for all of it and then goes alone.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::translate::{ErrorCode, Failure};

/// Request bytes being turned into upstream requests at once (`CODEX_SHIM_REQUEST_BUDGET_MB`).
pub const DEFAULT_BUDGET: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct RequestBudget {
    bytes: usize,
    sem: Arc<Semaphore>,
}

/// A request's share of the budget, given back when dropped.
pub struct Share(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// The budget in bytes: `CODEX_SHIM_REQUEST_BUDGET_MB`, else [`DEFAULT_BUDGET`].
pub fn budget_from_env() -> usize {
    std::env::var("CODEX_SHIM_REQUEST_BUDGET_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&mb| mb > 0)
        .map_or(DEFAULT_BUDGET, |mb| mb * 1024 * 1024)
}

impl RequestBudget {
    pub fn new(bytes: usize) -> Self {
        let bytes = bytes.clamp(1, u32::MAX as usize);
        RequestBudget {
            bytes,
            sem: Arc::new(Semaphore::new(bytes)),
        }
    }

    /// Waits for a share for a body of `len` bytes (the whole budget at most).
    async fn share(&self, len: usize) -> Share {
        let n = len.clamp(1, self.bytes) as u32;
        Share(self.sem.clone().acquire_many_owned(n).await.ok())
    }

    /// Takes a share by the declared `Content-Length` (or, without one, by the size read), then
    /// reads the body, up to `limit` bytes.
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<(Bytes, Share), Failure> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let early = match declared {
            Some(len) if len > limit => return Err(too_large(limit)),
            Some(len) => Some(self.share(len).await),
            None => None,
        };
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<http_body_util::LengthLimitError>() {
                    return too_large(limit);
                }
                source = err.source();
            }
            Failure::invalid(format!(
                "codex-shim: the request body could not be read: {e}"
            ))
        })?;
        let share = match early {
            Some(s) => s,
            None => self.share(bytes.len()).await,
        };
        Ok((bytes, share))
    }
}

fn too_large(limit: usize) -> Failure {
    Failure::new(
        ErrorCode::InvalidRequest,
        413,
        format!(
            "codex-shim: the request body is larger than {} MB",
            limit / (1024 * 1024)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_wait_for_the_budget_and_a_huge_body_takes_all_of_it() {
        let budget = RequestBudget::new(100);
        let a = budget.share(60).await;
        // 60 of 100 taken: 50 more must wait until `a` is given back.
        let waiting = budget.share(50);
        tokio::pin!(waiting);
        assert!(futures_util::FutureExt::now_or_never(&mut waiting).is_none());
        drop(a);
        let b = waiting.await;
        assert_eq!(budget.sem.available_permits(), 50);
        drop(b);
        // Larger than the budget: takes all of it, and still goes through.
        let huge = budget.share(10_000).await;
        assert_eq!(budget.sem.available_permits(), 0);
        drop(huge);
        assert_eq!(budget.sem.available_permits(), 100);
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let budget = RequestBudget::new(100);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "5000".parse().unwrap());
        let err = budget
            .read(&h, Body::from(vec![b'x'; 5000]), 1000)
            .await
            .err()
            .unwrap();
        assert_eq!(err.status, 413);
        // No declared length: the body is cut off at the limit, and still answered 413.
        let err = budget
            .read(&HeaderMap::new(), Body::from(vec![b'x'; 5000]), 1000)
            .await
            .err()
            .unwrap();
        assert_eq!(err.status, 413, "{}", err.message);
        let (bytes, _share) = budget
            .read(&HeaderMap::new(), Body::from("{}"), 1000)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{}");
    }
}
