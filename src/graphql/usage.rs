//! Usage and quotas: `User.usage` / `Organization.usage`, and the site admins' `setQuota`.
use async_graphql::{Context, Object, SimpleObject};
use chrono::NaiveDate;

use crate::{
    domain::{
        OwnerName,
        usage::{Quota, UsageReport},
        views::AccountInfo,
    },
    graphql::{GqlResult, ctx},
};

/// One day of data transfer.
#[derive(SimpleObject)]
pub struct UsageDay {
    pub day: NaiveDate,
    /// Bytes of private and internal files sent that day (UTC).
    pub transfer_bytes: i64,
}

/// An owner's limits; `null` is unlimited, 0 allows nothing.
#[derive(SimpleObject)]
#[graphql(name = "Quota")]
pub struct QuotaObject {
    /// Storage of private and internal packages.
    pub storage_bytes: Option<i64>,
    /// Data transfer of private and internal files per calendar month (UTC).
    pub transfer_bytes: Option<i64>,
    /// Whether these are the owner's own quotas (else the server's defaults).
    pub own: bool,
}

/// Storage and data transfer of an owner's private and internal packages (public ones are
/// free), with its quotas.
pub struct UsageObject(pub UsageReport);

#[Object(name = "Usage")]
impl UsageObject {
    /// Bytes of the owner's live private and internal packages' files, each blob once.
    async fn storage_bytes(&self) -> i64 {
        self.0.storage_bytes
    }
    /// Bytes of private and internal files sent since the first of this month (UTC).
    async fn month_transfer_bytes(&self) -> i64 {
        self.0.month_transfer_bytes
    }
    /// Bytes garbage collection freed by purging the owner's deleted versions (retention
    /// policies' and people's), each blob once; every visibility counts.
    async fn reclaimed_bytes(&self) -> i64 {
        self.0.reclaimed_bytes
    }
    /// Bytes of the owner's deleted versions that no live version keeps, freed once the
    /// restore period is over; every visibility counts.
    async fn pending_reclamation_bytes(&self) -> i64 {
        self.0.pending_reclamation_bytes
    }
    /// Transfer per day over the last 30 days; days without any are omitted.
    async fn daily(&self) -> Vec<UsageDay> {
        self.0
            .daily
            .iter()
            .map(|d| UsageDay {
                day: d.day,
                transfer_bytes: d.bytes,
            })
            .collect()
    }
    async fn quota(&self) -> QuotaObject {
        QuotaObject {
            storage_bytes: self.0.quota.storage_bytes,
            transfer_bytes: self.0.quota.transfer_bytes,
            own: self.0.quota_is_own,
        }
    }
}

/// `usage` of a user or organization: `null` for anyone but the user, the organization's
/// owners and site admins.
pub(crate) async fn usage_of(
    c: &Context<'_>,
    owner: &AccountInfo,
) -> async_graphql::Result<Option<UsageObject>> {
    let c = ctx(c)?;
    Ok(c.domain
        .owner_usage(c.actor, owner)
        .await
        .gql()?
        .map(UsageObject))
}

#[derive(Default)]
pub struct UsageMutation;

#[Object]
impl UsageMutation {
    /// Sets an owner's quotas (site admins). `null` is unlimited; 0 allows nothing.
    async fn set_quota(
        &self,
        c: &Context<'_>,
        owner: String,
        storage_bytes: Option<i64>,
        transfer_bytes: Option<i64>,
    ) -> async_graphql::Result<UsageObject> {
        let c = ctx(c)?;
        let owner = OwnerName::parse(&owner).gql()?;
        c.domain
            .set_quota(
                c.actor,
                &owner,
                Quota {
                    storage_bytes,
                    transfer_bytes,
                },
            )
            .await
            .gql()
            .map(UsageObject)
    }
}
