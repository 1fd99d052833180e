//! The `upload_session` table: an OCI blob upload in progress.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upload_session")]
pub struct Model {
    /// A UUID, also the upload's key prefix in the blob store.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: i64,
    /// The image name under the owner.
    pub name: String,
    /// Bytes received so far.
    pub size: i64,
    /// Chunks stored so far (where: `part_nonces`).
    pub parts: i32,
    /// Hex SHA-256 of the first chunk, so a one-chunk upload is promoted without re-reading.
    pub first_part_sha256: Option<String>,
    /// Comma-separated nonces of the parts, in order: part N is `uploads/<id>/pending-<nonce
    /// N>`. Sessions from before it was kept (NULL) use `uploads/<id>/part-N`.
    pub part_nonces: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
