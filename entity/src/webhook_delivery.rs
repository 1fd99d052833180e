//! The `webhook_delivery` table: the outbox, one row per event and hook.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i64,
    /// `X-GitHub-Delivery`: the same for every attempt and redelivery.
    pub guid: Uuid,
    /// `package` or `ping`.
    pub event: String,
    pub action: Option<String>,
    pub event_id: Option<i64>,
    pub payload: Json,
    /// `pending`, `delivered`, `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker's claim on the row (another replica skips it until then).
    pub claimed_until: Option<DateTimeUtc>,
    pub response_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub request_headers: Option<Json>,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub redelivery: bool,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
