//! Relay connections over offset pages, with `totalCount`; at most 100 nodes a page.
use std::future::Future;

use async_graphql::{
    OutputType, SimpleObject,
    connection::{Connection, Edge, EmptyFields, OpaqueCursor, query},
};

use crate::{error::DomainError, error::DomainResult, graphql::gql_error};

pub const MAX_PAGE: i32 = 100;
/// The page a connection returns when asked for neither `first` nor `last` (and what the
/// node limit counts for it).
pub const DEFAULT_PAGE: u64 = 30;

#[derive(SimpleObject)]
pub struct Counted {
    /// How many nodes the whole connection has.
    pub total_count: u64,
}

pub type CountedConnection<T> = Connection<OpaqueCursor<u64>, T, Counted, EmptyFields>;

/// Pages through a list fetched by `fetch(offset, limit) -> (items, total)`.
pub async fn paginate<T, F, Fut>(
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
    fetch: F,
) -> async_graphql::Result<CountedConnection<T>>
where
    T: OutputType,
    F: Fn(u64, u64) -> Fut,
    Fut: Future<Output = DomainResult<(Vec<T>, u64)>>,
{
    if first.is_some_and(|n| n > MAX_PAGE) || last.is_some_and(|n| n > MAX_PAGE) {
        return Err(gql_error(DomainError::invalid(format!(
            "first and last may be at most {MAX_PAGE}"
        ))));
    }
    query(after, before, first, last, |after: Option<OpaqueCursor<u64>>, before: Option<OpaqueCursor<u64>>, first, last| async move {
        let mut start = after.map_or(0, |c| c.0 + 1);
        let mut end = before.map(|c| c.0);
        // `last` without `before` needs the total first.
        if last.is_some() && end.is_none() {
            let (_, total) = fetch(0, 0).await.map_err(gql_error)?;
            end = Some(total);
        }
        if let Some(first) = first {
            end = Some(end.map_or(start + first as u64, |e| e.min(start + first as u64)));
        }
        if let (Some(last), Some(e)) = (last, end) {
            start = start.max(e.saturating_sub(last as u64));
        }
        // Cursors are the client's to forge: whatever they say, a page is at most MAX_PAGE
        // (`before` alone pages backwards from it by the default page size).
        if first.is_none() && last.is_none() && let Some(e) = end {
            start = start.max(e.saturating_sub(DEFAULT_PAGE));
        }
        let limit = end
            .map_or(DEFAULT_PAGE, |e| e.saturating_sub(start))
            .min(MAX_PAGE as u64);
        let (items, total) = fetch(start, limit).await.map_err(gql_error)?;
        let fetched = items.len() as u64;
        let mut connection = Connection::with_additional_fields(start > 0, start + fetched < total, Counted { total_count: total });
        connection
            .edges
            .extend(items.into_iter().enumerate().map(|(i, item)| Edge::new(OpaqueCursor(start + i as u64), item)));
        Ok::<_, async_graphql::Error>(connection)
    })
    .await
}
