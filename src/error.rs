//! The one domain error: a closed set of kinds every door knows how to render.
use std::fmt;

/// What went wrong, in terms a door can render natively. Foreign errors are mapped into
/// this once (`From<DbErr>`, `From<object_store::Error>`), never matched on in doors.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not know that it exists.
    #[error("{message} not found")]
    NotFound { what: What, message: String },
    #[error("{message}")]
    AlreadyExists { what: What, message: String },
    /// No (valid) credentials, and the action needs them.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("requested range not satisfiable (size {size})")]
    RangeNotSatisfiable { size: u64 },
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The database or the blob store can't be reached (connection refused or cut, the
    /// pool's acquire timeout, a transport error): every door answers 503 with
    /// `Retry-After`, and the same request works once it is back.
    #[error("{0}")]
    Unavailable(String),
    /// The blob store or the database can't take more bytes (disk full, read-only, over a
    /// filesystem quota). Nothing was half-written; retrying once space returns works.
    #[error(
        "insufficient storage: the registry can't store this now (its disk is full or read-only)"
    )]
    InsufficientStorage,
    /// Refused for now (a throttle): the door says when to try again (`Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// Details are logged, never rendered.
    #[error("internal error")]
    Internal(#[source] InternalError),
}

/// An error whose details stay in the logs.
#[derive(Debug)]
pub struct InternalError(pub String);

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InternalError {}

pub type DomainResult<T> = Result<T, DomainError>;

/// `Retry-After` on a 503: the database or blob store is usually back within seconds (a
/// restart, a failover).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// What a `NotFound` or `AlreadyExists` is about, so a door picks its native answer from
/// it (NuGet and Maven tell a missing package from a missing version; OCI has a code for
/// each), never from the message's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::Display, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum What {
    Owner,
    Account,
    Organization,
    Member,
    Team,
    Repository,
    Package,
    Version,
    File,
    Tag,
    Grant,
    Token,
    /// A web UI session.
    Session,
    Blob,
    /// A blob (or child manifest) a pushed manifest names that isn't in the image.
    ReferencedBlob,
    Upload,
    Manifest,
    /// A name a unique index guards (a login, a repository, a package or version name),
    /// when the database reports the clash.
    Name,
    /// A door's own route or resource that isn't a package (npm `user endpoint`).
    Endpoint,
    /// A webhook or one of its deliveries.
    Webhook,
    /// A retention policy.
    RetentionPolicy,
}

impl DomainError {
    pub fn not_found(what: What, message: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            message: message.into(),
        }
    }

    pub fn exists(what: What, message: impl Into<String>) -> Self {
        Self::AlreadyExists {
            what,
            message: message.into(),
        }
    }

    /// What a `NotFound` or `AlreadyExists` is about.
    pub fn what(&self) -> Option<What> {
        match self {
            Self::NotFound { what, .. } | Self::AlreadyExists { what, .. } => Some(*what),
            _ => None,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidInput(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    pub fn internal(msg: impl fmt::Display) -> Self {
        let msg = msg.to_string();
        tracing::error!(error = %msg, "internal error");
        Self::Internal(InternalError(msg))
    }

    /// A short machine-readable code, shared by GraphQL `extensions.code` and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NOT_FOUND",
            Self::AlreadyExists { .. } => "CONFLICT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::InvalidInput(_) => "BAD_USER_INPUT",
            Self::DigestMismatch { .. } => "DIGEST_MISMATCH",
            Self::RangeNotSatisfiable { .. } => "RANGE_NOT_SATISFIABLE",
            Self::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::InsufficientStorage => "INSUFFICIENT_STORAGE",
            Self::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The HTTP status most doors use for this kind.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::AlreadyExists { .. } => 409,
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) | Self::QuotaExceeded(_) => 403,
            Self::InvalidInput(_) | Self::DigestMismatch { .. } => 400,
            Self::PayloadTooLarge(_) => 413,
            Self::RangeNotSatisfiable { .. } => 416,
            Self::TooManyRequests { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::InsufficientStorage => 507,
            Self::Internal(_) => 500,
        }
    }

    /// Seconds a throttled client should wait, for the door's `Retry-After`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        // A unique index firing means a concurrent writer won the race for the same name.
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            // Which row is the caller's to say; unique rows guard names.
            return Self::exists(What::Name, "already exists");
        }
        if db_unreachable(&err) {
            tracing::error!(error = %err, "database unreachable");
            return Self::Unavailable("the database is unavailable; try again shortly".into());
        }
        // SQLITE_FULL / SQLITE_READONLY, PostgreSQL's disk_full: the database is where the
        // disk ran out.
        let text = err.to_string();
        if [
            "database or disk is full",
            "readonly database",
            "could not extend file",
        ]
        .iter()
        .any(|m| text.contains(m))
        {
            tracing::error!(error = %text, "database: out of storage");
            return Self::InsufficientStorage;
        }
        Self::internal(format_args!("database: {err}"))
    }
}

impl From<object_store::Error> for DomainError {
    fn from(err: object_store::Error) -> Self {
        if out_of_storage(&err) {
            tracing::error!(error = %err, "blob store: out of storage");
            return Self::InsufficientStorage;
        }
        if store_unreachable(&err) {
            tracing::error!(error = %err, "blob store unreachable");
            return Self::Unavailable("the blob store is unavailable; try again shortly".into());
        }
        match err {
            object_store::Error::NotFound { .. } => {
                Self::internal(format_args!("blob missing from store: {err}"))
            }
            other => Self::internal(format_args!("blob store: {other}")),
        }
    }
}

impl From<std::io::Error> for DomainError {
    fn from(err: std::io::Error) -> Self {
        if out_of_storage(&err) {
            tracing::error!(error = %err, "io: out of storage");
            return Self::InsufficientStorage;
        }
        Self::internal(format_args!("io: {err}"))
    }
}

/// Whether an error (or one it wraps) is the filesystem refusing more bytes: full, read-only
/// or over a quota.
fn out_of_storage(err: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && (matches!(
                io.kind(),
                ErrorKind::StorageFull | ErrorKind::ReadOnlyFilesystem | ErrorKind::QuotaExceeded
            ))
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether a database error is the database being out of reach rather than the statement
/// failing: no connection within the pool's acquire timeout, a connection refused, reset or
/// cut mid-statement, or PostgreSQL's connection-exception (`08`) and operator-intervention
/// (`57P`: shutting down, starting up) codes.
fn db_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    match sqlx_err.as_ref() {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // The connection ended in the middle of the protocol (the peer went away).
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Whether a blob-store error is the store being out of reach (S3 refusing or dropping
/// connections, timing out, or answering 5xx after the client's retries), not a missing
/// object or a refused request.
fn store_unreachable(err: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(http) = e.downcast_ref::<HttpError>()
            && matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            )
        {
            return true;
        }
        // A pooled connection to the store closed under a request: hyper says so with
        // errors object_store files as `Unknown` (and doesn't retry), such as `Canceled`.
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_canceled() || h.is_closed() || h.is_incomplete_message())
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::NotConnected
                    | std::io::ErrorKind::TimedOut
            )
        {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_error(source: std::io::Error) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(source),
        }
    }

    #[test]
    fn a_blob_store_out_of_reach_is_unavailable_and_other_failures_are_not() {
        use std::io::ErrorKind;
        for kind in [
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
            ErrorKind::BrokenPipe,
            ErrorKind::NotConnected,
            ErrorKind::TimedOut,
        ] {
            let err = DomainError::from(s3_error(std::io::Error::from(kind)));
            assert!(
                matches!(err, DomainError::Unavailable(_)),
                "{kind:?}: {err:?}"
            );
        }
        let full = DomainError::from(s3_error(std::io::Error::from(ErrorKind::StorageFull)));
        assert!(matches!(full, DomainError::InsufficientStorage), "{full:?}");
        let other = DomainError::from(s3_error(std::io::Error::from(ErrorKind::InvalidData)));
        assert!(
            !matches!(
                other,
                DomainError::Unavailable(_) | DomainError::InsufficientStorage
            ),
            "{other:?}"
        );
    }
}
