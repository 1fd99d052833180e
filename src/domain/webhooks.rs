//! Webhooks: payload URLs an owner (or one of its repositories) configures, and the durable
//! outbox that delivers package events to them.
//!
//! A delivery row is written in the transaction of the event it carries (`enqueue_event`),
//! so a change that rolls back sends nothing and a committed one is delivered even if the
//! process dies right after. The worker (`deliver_due_webhooks`, run by `jobs`) claims due
//! rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never take the same row; SQLite
//! has one process and one worker), POSTs them signed, and records the outcome; failures
//! retry with exponential backoff up to the retry limit. A delivery's `guid` is its
//! `X-GitHub-Delivery`, the same on every attempt and redelivery.
//!
//! Targets are checked after DNS resolution and the request goes to exactly the addresses
//! checked (no second lookup a rebinding DNS server could answer differently); redirects
//! are not followed.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use entity::{account, package, repository, webhook, webhook_delivery};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{LockBehavior, LockType},
};
use serde_json::{Value, json};

use crate::{
    auth::Actor,
    domain::{Domain, OwnerName, audit, events::EventKind, now},
    error::{DomainError, DomainResult, What},
};

/// How much of a receiver's answer a delivery keeps.
pub const RESPONSE_EXCERPT_BYTES: usize = 4096;
/// Backoff never grows beyond this.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Rows one worker pass claims.
const CLAIM_BATCH: u64 = 16;

/// What a payload is encoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ContentType {
    /// `application/json`: the body is the payload.
    Json,
    /// `application/x-www-form-urlencoded`: the body is `payload=<urlencoded JSON>`.
    Form,
}

/// Where a hook is configured.
#[derive(Debug, Clone)]
pub struct HookScope {
    pub owner: OwnerName,
    /// Only this repository's packages' events.
    pub repository: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub secret: Option<String>,
    pub content_type: ContentType,
    /// Empty: every action.
    pub events: Vec<EventKind>,
    pub active: bool,
    pub insecure_ssl: bool,
}

/// A change to a hook; `None` keeps what is there (`secret: Some("")` removes it).
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub content_type: Option<ContentType>,
    pub events: Option<Vec<EventKind>>,
    pub active: Option<bool>,
    pub insecure_ssl: Option<bool>,
}

/// A hook as its managers see it: never its secret.
#[derive(Debug, Clone)]
pub struct WebhookInfo {
    pub id: i64,
    pub owner_id: i64,
    pub owner_login: String,
    pub repository_id: Option<i64>,
    pub url: String,
    pub has_secret: bool,
    pub content_type: ContentType,
    pub events: Vec<EventKind>,
    pub active: bool,
    pub insecure_ssl: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet delivered; retried when due.
    Pending,
    Delivered,
    /// Given up (retry limit, refused target).
    Failed,
}

#[derive(Debug, Clone)]
pub struct DeliveryInfo {
    pub id: i64,
    pub webhook_id: i64,
    pub guid: uuid::Uuid,
    pub event: String,
    pub action: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub response_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub request_headers: Option<Value>,
    pub request_body: String,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub redelivery: bool,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Writes a delivery of the event for every active hook of the package's owner that wants
/// it, on `db` (the event's transaction).
pub(crate) async fn enqueue_event<C: ConnectionTrait>(
    db: &C,
    pkg: &package::Model,
    kind: EventKind,
    event_id: i64,
    payload: &Value,
) -> DomainResult<usize> {
    let mut enqueued = 0;
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::OwnerId.eq(pkg.owner_id))
        .filter(webhook::Column::Active.eq(true))
        .all(db)
        .await?;
    for hook in hooks {
        if hook.repository_id.is_some() && hook.repository_id != pkg.repository_id {
            continue;
        }
        let events = stored_events(&hook.events);
        if !events.is_empty() && !events.contains(&kind) {
            continue;
        }
        insert_delivery(
            db,
            hook.id,
            "package",
            Some(kind.as_str()),
            Some(event_id),
            payload,
        )
        .await?;
        enqueued += 1;
    }
    Ok(enqueued)
}

/// Writes a delivery of an owner-wide event (`usage`: a quota threshold reached) for every
/// active hook of the owner itself (not its repositories' hooks), on `db` (the transaction
/// that recorded it). The worker finds it when due (at once, or within its idle interval).
pub(crate) async fn enqueue_owner_event<C: ConnectionTrait>(
    db: &C,
    owner_id: i64,
    event: &str,
    action: &str,
    payload: &Value,
) -> DomainResult<usize> {
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::OwnerId.eq(owner_id))
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::RepositoryId.is_null())
        .all(db)
        .await?;
    for hook in &hooks {
        insert_delivery(db, hook.id, event, Some(action), None, payload).await?;
    }
    Ok(hooks.len())
}

async fn insert_delivery<C: ConnectionTrait>(
    db: &C,
    webhook_id: i64,
    event: &str,
    action: Option<&str>,
    event_id: Option<i64>,
    payload: &Value,
) -> DomainResult<webhook_delivery::Model> {
    let at = now();
    Ok(webhook_delivery::ActiveModel {
        webhook_id: Set(webhook_id),
        guid: Set(uuid::Uuid::new_v4()),
        event: Set(event.into()),
        action: Set(action.map(Into::into)),
        event_id: Set(event_id),
        payload: Set(payload.clone()),
        status: Set(DeliveryStatus::Pending.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        claimed_until: Set(None),
        response_code: Set(None),
        duration_ms: Set(None),
        request_headers: Set(None),
        response_excerpt: Set(None),
        error: Set(None),
        redelivery: Set(false),
        created_at: Set(at),
        delivered_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

fn stored_events(v: &Value) -> Vec<EventKind> {
    v.as_array()
        .map(|a| a.iter().filter_map(|e| e.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn events_json(events: &[EventKind]) -> Value {
    Value::Array(events.iter().map(|e| e.as_str().into()).collect())
}

/// A payload URL: http(s), a host, no credentials. Its addresses are checked on delivery.
fn validate_url(url: &str) -> DomainResult<url::Url> {
    let parsed = url::Url::parse(url)
        .map_err(|e| DomainError::invalid(format!("payload URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(DomainError::invalid(
            "the payload URL must be http:// or https://",
        ));
    }
    if parsed.host().is_none() {
        return Err(DomainError::invalid("the payload URL needs a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(DomainError::invalid(
            "the payload URL must not carry credentials; use the secret",
        ));
    }
    Ok(parsed)
}

/// Why an address may not be a webhook target (`None`: it may), whatever DNS said.
pub fn refused_address(ip: IpAddr, allowed: &[ipnet::IpNet]) -> Option<&'static str> {
    if allowed.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    if allowed.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_private() {
        Some("a private address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("not a unicast internet address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a unicast internet address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique local address")
    } else {
        None
    }
}

/// Backoff before the attempt after `attempts` failed ones: base, doubling, capped.
pub fn backoff_after(base: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `sha256=<hex HMAC-SHA256 of the body>`, GitHub's `X-Hub-Signature-256`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<sha2_hmac::Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body of a delivery as sent.
fn encode_body(content_type: ContentType, payload: &Value) -> String {
    let json = payload.to_string();
    match content_type {
        ContentType::Json => json,
        ContentType::Form => url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &json)
            .finish(),
    }
}

fn hook_info(h: webhook::Model, owner_login: String) -> DomainResult<WebhookInfo> {
    Ok(WebhookInfo {
        id: h.id,
        owner_id: h.owner_id,
        owner_login,
        repository_id: h.repository_id,
        has_secret: h.secret.as_deref().is_some_and(|s| !s.is_empty()),
        content_type: h
            .content_type
            .parse()
            .map_err(|_| DomainError::internal("stored content type"))?,
        events: stored_events(&h.events),
        url: h.url,
        active: h.active,
        insecure_ssl: h.insecure_ssl,
        created_at: h.created_at,
        updated_at: h.updated_at,
    })
}

fn delivery_info(d: webhook_delivery::Model, content_type: ContentType) -> DeliveryInfo {
    DeliveryInfo {
        id: d.id,
        webhook_id: d.webhook_id,
        guid: d.guid,
        event: d.event,
        action: d.action,
        status: d.status.parse().unwrap_or(DeliveryStatus::Failed),
        attempts: d.attempts,
        response_code: d.response_code,
        duration_ms: d.duration_ms,
        request_headers: d.request_headers,
        request_body: encode_body(content_type, &d.payload),
        response_excerpt: d.response_excerpt,
        error: d.error,
        redelivery: d.redelivery,
        next_attempt_at: d.next_attempt_at,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
    }
}

/// GitHub's `ping` payload.
fn ping_payload(base: &str, hook: &webhook::Model, owner: &account::Model) -> Value {
    let organization = owner.kind == "organization";
    json!({
        "zen": "Packages are promises; keep them.",
        "hook_id": hook.id,
        "hook": {
            "type": if hook.repository_id.is_some() { "Repository" } else if organization { "Organization" } else { "User" },
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": ["package"],
            "actions": hook.events,
            "config": {
                "content_type": hook.content_type,
                "insecure_ssl": if hook.insecure_ssl { "1" } else { "0" },
                "url": hook.url,
            },
            "created_at": hook.created_at,
            "updated_at": hook.updated_at,
        },
        "organization": organization.then(|| json!({"login": owner.login, "id": owner.id})),
        "sender": {"login": owner.login, "id": owner.id, "html_url": format!("{base}/-/owner/{}", owner.login)},
    })
}

impl Domain {
    /// The hook's owner account, for a manager of it (else "not found" for outsiders).
    async fn managed_hook(
        &self,
        actor: &Actor,
        hook_id: i64,
    ) -> DomainResult<(webhook::Model, account::Model)> {
        let unknown = || DomainError::not_found(What::Webhook, "webhook");
        let hook = webhook::Entity::find_by_id(hook_id)
            .one(&self.db)
            .await?
            .ok_or_else(unknown)?;
        let owner = account::Entity::find_by_id(hook.owner_id)
            .one(&self.db)
            .await?
            .ok_or_else(unknown)?;
        self.require_account_admin(actor, &owner)
            .await
            .map_err(|e| match e {
                DomainError::Unauthenticated(m) => DomainError::Unauthenticated(m),
                _ => unknown(),
            })?;
        Ok((hook, owner))
    }

    async fn hook_scope(
        &self,
        actor: &Actor,
        scope: &HookScope,
    ) -> DomainResult<(account::Model, Option<repository::Model>)> {
        let owner = self.account_model(&scope.owner).await?;
        self.require_account_admin(actor, &owner).await?;
        let repo = match &scope.repository {
            Some(name) => Some(
                repository::Entity::find()
                    .filter(repository::Column::OwnerId.eq(owner.id))
                    .filter(repository::Column::Name.eq(name.as_str()))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| {
                        DomainError::not_found(What::Repository, format!("repository {name}"))
                    })?,
            ),
            None => None,
        };
        Ok((owner, repo))
    }

    /// Creates a hook (the owner's admins only) and sends it a `ping`.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        scope: &HookScope,
        new: NewWebhook,
    ) -> DomainResult<WebhookInfo> {
        validate_url(&new.url)?;
        let (owner, repo) = self.hook_scope(actor, scope).await?;
        let at = now();
        let txn = self.db.begin().await?;
        let hook = webhook::ActiveModel {
            owner_id: Set(owner.id),
            repository_id: Set(repo.as_ref().map(|r| r.id)),
            url: Set(new.url.clone()),
            secret: Set(new.secret.filter(|s| !s.is_empty())),
            content_type: Set(new.content_type.to_string()),
            events: Set(events_json(&new.events)),
            active: Set(new.active),
            insecure_ssl: Set(new.insecure_ssl),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        if hook.active {
            let ping = ping_payload(&self.config.base_url(), &hook, &owner);
            insert_delivery(&txn, hook.id, "ping", None, None, &ping).await?;
        }
        audit::record(
            &txn,
            actor,
            "webhook.create",
            "webhook",
            Some(hook.id),
            json!({"owner": owner.login, "repository_id": hook.repository_id, "url": hook.url}),
        )
        .await?;
        txn.commit().await?;
        self.wake_webhook_worker().await;
        hook_info(hook, owner.login)
    }

    pub async fn update_webhook(
        &self,
        actor: &Actor,
        hook_id: i64,
        patch: WebhookPatch,
    ) -> DomainResult<WebhookInfo> {
        let (hook, owner) = self.managed_hook(actor, hook_id).await?;
        if let Some(url) = &patch.url {
            validate_url(url)?;
        }
        let mut active = hook.into_active_model();
        if let Some(url) = patch.url {
            active.url = Set(url);
        }
        if let Some(secret) = patch.secret {
            active.secret = Set(Some(secret).filter(|s| !s.is_empty()));
        }
        if let Some(c) = patch.content_type {
            active.content_type = Set(c.to_string());
        }
        if let Some(e) = patch.events {
            active.events = Set(events_json(&e));
        }
        if let Some(a) = patch.active {
            active.active = Set(a);
        }
        if let Some(i) = patch.insecure_ssl {
            active.insecure_ssl = Set(i);
        }
        active.updated_at = Set(now());
        let txn = self.db.begin().await?;
        let hook = active.update(&txn).await?;
        audit::record(
            &txn,
            actor,
            "webhook.update",
            "webhook",
            Some(hook.id),
            json!({"owner": owner.login, "url": hook.url, "active": hook.active}),
        )
        .await?;
        txn.commit().await?;
        hook_info(hook, owner.login)
    }

    /// Deletes a hook and its deliveries.
    pub async fn delete_webhook(&self, actor: &Actor, hook_id: i64) -> DomainResult<()> {
        let (hook, owner) = self.managed_hook(actor, hook_id).await?;
        let txn = self.db.begin().await?;
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::WebhookId.eq(hook.id))
            .exec(&txn)
            .await?;
        webhook::Entity::delete_by_id(hook.id).exec(&txn).await?;
        audit::record(
            &txn,
            actor,
            "webhook.delete",
            "webhook",
            Some(hook.id),
            json!({"owner": owner.login, "url": hook.url}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn webhook(&self, actor: &Actor, hook_id: i64) -> DomainResult<WebhookInfo> {
        let (hook, owner) = self.managed_hook(actor, hook_id).await?;
        hook_info(hook, owner.login)
    }

    /// A page of the hooks of an owner (or of one of its repositories), oldest first, and
    /// how many there are.
    pub async fn list_webhooks(
        &self,
        actor: &Actor,
        scope: &HookScope,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<WebhookInfo>, u64)> {
        let (owner, repo) = self.hook_scope(actor, scope).await?;
        let mut q = webhook::Entity::find().filter(webhook::Column::OwnerId.eq(owner.id));
        q = match &repo {
            Some(r) => q.filter(webhook::Column::RepositoryId.eq(r.id)),
            None => q.filter(webhook::Column::RepositoryId.is_null()),
        };
        let total = q.clone().count(&self.db).await?;
        let hooks = q
            .order_by_asc(webhook::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        let hooks = hooks
            .into_iter()
            .map(|h| hook_info(h, owner.login.clone()))
            .collect::<DomainResult<_>>()?;
        Ok((hooks, total))
    }

    /// A page of a hook's deliveries, newest first, and how many there are.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        hook_id: i64,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<DeliveryInfo>, u64)> {
        let (hook, _) = self.managed_hook(actor, hook_id).await?;
        let content_type = hook
            .content_type
            .parse()
            .map_err(|_| DomainError::internal("stored content type"))?;
        let q = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(hook.id));
        let total = q.clone().count(&self.db).await?;
        let rows = q
            .order_by_desc(webhook_delivery::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((
            rows.into_iter()
                .map(|d| delivery_info(d, content_type))
                .collect(),
            total,
        ))
    }

    /// Sends a delivery again, as a new delivery with the same `X-GitHub-Delivery` (as
    /// GitHub's redelivery does).
    pub async fn redeliver_webhook_delivery(
        &self,
        actor: &Actor,
        delivery_id: i64,
    ) -> DomainResult<DeliveryInfo> {
        let unknown = || DomainError::not_found(What::Webhook, "webhook delivery");
        let old = webhook_delivery::Entity::find_by_id(delivery_id)
            .one(&self.db)
            .await?
            .ok_or_else(unknown)?;
        let (hook, _) = self
            .managed_hook(actor, old.webhook_id)
            .await
            .map_err(|_| unknown())?;
        let content_type = hook
            .content_type
            .parse()
            .map_err(|_| DomainError::internal("stored content type"))?;
        let txn = self.db.begin().await?;
        let mut row = insert_delivery(
            &txn,
            hook.id,
            &old.event,
            old.action.as_deref(),
            old.event_id,
            &old.payload,
        )
        .await?
        .into_active_model();
        row.guid = Set(old.guid);
        row.redelivery = Set(true);
        let row = row.update(&txn).await?;
        audit::record(
            &txn,
            actor,
            "webhook.redeliver",
            "webhook",
            Some(hook.id),
            json!({"delivery_id": old.id, "guid": old.guid}),
        )
        .await?;
        txn.commit().await?;
        self.wake_webhook_worker().await;
        Ok(delivery_info(row, content_type))
    }

    async fn wake_webhook_worker(&self) {
        self.webhook_work
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.events_committed().await;
    }

    /// Whether this replica wrote deliveries since the last call (the worker's wake-up).
    pub fn take_webhook_work(&self) -> bool {
        self.webhook_work
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// One pass of the worker: claims due deliveries and attempts each. Returns how many
    /// were attempted.
    pub async fn deliver_due_webhooks(&self) -> DomainResult<usize> {
        let claimed = self.claim_due_deliveries().await?;
        let n = claimed.len();
        let attempts = claimed.into_iter().map(|d| self.attempt_delivery(d));
        for r in futures::future::join_all(attempts).await {
            if let Err(e) = r {
                tracing::warn!(error = %e, "webhook delivery");
            }
        }
        Ok(n)
    }

    /// When the earliest pending delivery is due (`None`: nothing is pending), so the worker
    /// sleeps until then instead of polling.
    pub async fn next_webhook_due(&self) -> DomainResult<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.to_string()))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .one(&self.db)
            .await?
            .map(|d| {
                d.next_attempt_at
                    .max(d.claimed_until.unwrap_or(d.next_attempt_at))
            }))
    }

    /// Marks due rows as this worker's for a while (a crashed worker's claims expire).
    async fn claim_due_deliveries(&self) -> DomainResult<Vec<webhook_delivery::Model>> {
        let at = now();
        let lease = chrono::Duration::from_std(self.config.webhooks.timeout * 3)
            .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let txn = self.db.begin().await?;
        let mut q = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.to_string()))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(at))
            .filter(
                Condition::any()
                    .add(webhook_delivery::Column::ClaimedUntil.is_null())
                    .add(webhook_delivery::Column::ClaimedUntil.lt(at)),
            )
            .order_by_asc(webhook_delivery::Column::Id)
            .limit(CLAIM_BATCH);
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = q.all(&txn).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let mut active = row.into_active_model();
            active.claimed_until = Set(Some(at + lease));
            claimed.push(active.update(&txn).await?);
        }
        txn.commit().await?;
        Ok(claimed)
    }

    async fn attempt_delivery(&self, d: webhook_delivery::Model) -> DomainResult<()> {
        let Some(hook) = webhook::Entity::find_by_id(d.webhook_id)
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        let content_type: ContentType = hook.content_type.parse().unwrap_or(ContentType::Json);
        let body = encode_body(content_type, &d.payload);
        let mut headers: Vec<(&str, String)> = vec![
            ("Accept", "*/*".into()),
            ("User-Agent", "GitHub-Hookshot/packyard".into()),
            (
                "Content-Type",
                match content_type {
                    ContentType::Json => "application/json".into(),
                    ContentType::Form => "application/x-www-form-urlencoded".into(),
                },
            ),
            ("X-GitHub-Event", d.event.clone()),
            ("X-GitHub-Delivery", d.guid.to_string()),
            ("X-GitHub-Hook-ID", hook.id.to_string()),
            (
                "X-GitHub-Hook-Installation-Target-Type",
                if hook.repository_id.is_some() {
                    "repository"
                } else {
                    "organization"
                }
                .into(),
            ),
            (
                "X-GitHub-Hook-Installation-Target-ID",
                hook.repository_id.unwrap_or(hook.owner_id).to_string(),
            ),
            ("X-Packyard-Event", d.event.clone()),
            ("X-Packyard-Delivery", d.guid.to_string()),
        ];
        if let Some(secret) = hook.secret.as_deref().filter(|s| !s.is_empty()) {
            headers.push(("X-Hub-Signature-256", signature(secret, body.as_bytes())));
        }
        let recorded: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
            .collect();
        let started = Instant::now();
        let outcome = self.post_delivery(&hook, &headers, body).await;
        let duration = started.elapsed();
        let attempts = d.attempts + 1;
        let mut active = d.into_active_model();
        active.attempts = Set(attempts);
        active.claimed_until = Set(None);
        active.duration_ms = Set(Some(duration.as_millis() as i64));
        active.request_headers = Set(Some(Value::Object(recorded)));
        let settings = &self.config.webhooks;
        let retry = |active: &mut webhook_delivery::ActiveModel| {
            if attempts as u32 >= settings.retry_limit {
                active.status = Set(DeliveryStatus::Failed.to_string());
            } else {
                let wait = backoff_after(settings.backoff, attempts as u32);
                active.next_attempt_at =
                    Set(now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)));
            }
        };
        match outcome {
            Ok((status, excerpt)) => {
                active.response_code = Set(Some(i32::from(status)));
                active.response_excerpt = Set(Some(excerpt));
                if (200..300).contains(&status) {
                    active.status = Set(DeliveryStatus::Delivered.to_string());
                    active.delivered_at = Set(Some(now()));
                    active.error = Set(None);
                } else {
                    active.error = Set(Some(format!("the receiver answered {status}")));
                    retry(&mut active);
                }
            }
            Err(Attempt::Refused(why)) => {
                active.error = Set(Some(why));
                active.status = Set(DeliveryStatus::Failed.to_string());
            }
            Err(Attempt::Failed(why)) => {
                active.response_code = Set(None);
                active.error = Set(Some(why));
                retry(&mut active);
            }
        }
        active.update(&self.db).await?;
        Ok(())
    }

    /// POSTs to the hook's URL at addresses checked against the target rules; the status
    /// and the first [`RESPONSE_EXCERPT_BYTES`] of the answer.
    async fn post_delivery(
        &self,
        hook: &webhook::Model,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<(u16, String), Attempt> {
        let url = validate_url(&hook.url).map_err(|e| Attempt::Refused(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| Attempt::Refused("no host".into()))?
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Attempt::Refused("no port".into()))?;
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            self.config.webhooks.timeout,
            tokio::net::lookup_host((lookup_host.as_str(), port)),
        )
        .await
        .map_err(|_| Attempt::Failed(format!("resolving {host}: timed out")))?
        .map_err(|e| Attempt::Failed(format!("resolving {host}: {e}")))?
        .collect();
        if addrs.is_empty() {
            return Err(Attempt::Failed(format!("{host} has no address")));
        }
        for a in &addrs {
            if let Some(why) = refused_address(a.ip(), &self.config.webhooks.allowed_networks) {
                return Err(Attempt::Refused(format!(
                    "{host} resolves to {}, {why}; not delivered (PACKYARD_WEBHOOK_ALLOWED_NETWORKS can allow it)",
                    a.ip()
                )));
            }
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.config.webhooks.timeout)
            .connect_timeout(self.config.webhooks.timeout)
            .tls_danger_accept_invalid_certs(hook.insecure_ssl)
            .resolve_to_addrs(&lookup_host, &addrs)
            .no_proxy()
            .build()
            .map_err(|e| Attempt::Failed(format!("client: {e}")))?;
        let mut request = client.post(url.as_str()).body(body);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| Attempt::Failed(format!("POST {}: {}", hook.url, error_chain(&e))))?;
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < RESPONSE_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(RESPONSE_EXCERPT_BYTES);
        Ok((status, String::from_utf8_lossy(&excerpt).into_owned()))
    }

    /// Deletes finished deliveries older than the retention period.
    pub async fn prune_webhook_deliveries(&self) -> DomainResult<u64> {
        let days = i64::try_from(self.config.webhooks.retention_days).unwrap_or(i64::MAX / 2);
        let cutoff = now() - chrono::Duration::days(days.min(365 * 1000));
        let removed = webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::Status.ne(DeliveryStatus::Pending.to_string()))
            .filter(webhook_delivery::Column::CreatedAt.lt(cutoff))
            .exec(&self.db)
            .await?;
        Ok(removed.rows_affected)
    }
}

enum Attempt {
    /// The target may not be reached: not retried.
    Refused(String),
    /// Worth another try.
    Failed(String),
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_addresses_follow_the_rules() {
        let none: &[ipnet::IpNet] = &[];
        let table: &[(&str, bool)] = &[
            ("93.184.216.34", true),
            ("8.8.8.8", true),
            ("2606:4700::1111", true),
            ("127.0.0.1", false),
            ("127.8.9.10", false),
            ("::1", false),
            ("0.0.0.0", false),
            ("::", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.1", true),
            ("169.254.169.254", false),
            ("169.254.1.1", false),
            ("fe80::1", false),
            ("fc00::1", false),
            ("fd00:ec2::254", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
        ];
        for (ip, allowed) in table {
            let addr: IpAddr = ip.parse().expect("ip");
            assert_eq!(
                refused_address(addr, none).is_none(),
                *allowed,
                "{ip}: {:?}",
                refused_address(addr, none)
            );
        }
    }

    #[test]
    fn the_allow_list_opens_named_networks_only() {
        let allowed: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().expect("net")];
        for ip in ["127.0.0.1", "::ffff:127.0.0.1"] {
            assert_eq!(refused_address(ip.parse().expect("ip"), &allowed), None);
        }
        assert!(refused_address("10.0.0.1".parse().expect("ip"), &allowed).is_some());
        assert!(refused_address("::1".parse().expect("ip"), &allowed).is_some());
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff_after(base, 1), Duration::from_secs(10));
        assert_eq!(backoff_after(base, 2), Duration::from_secs(20));
        assert_eq!(backoff_after(base, 3), Duration::from_secs(40));
        assert_eq!(backoff_after(base, 12), MAX_BACKOFF);
        assert_eq!(backoff_after(base, 100), MAX_BACKOFF);
    }

    #[test]
    fn signatures_are_githubs_hmac_sha256() {
        // GitHub's documented example ("Validating webhook deliveries").
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn form_bodies_carry_the_json_as_payload() {
        let body = encode_body(ContentType::Form, &json!({"a": "b c"}));
        assert_eq!(body, "payload=%7B%22a%22%3A%22b+c%22%7D");
        assert_eq!(
            encode_body(ContentType::Json, &json!({"a": 1})),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn payload_urls_are_http_with_a_host_and_no_credentials() {
        assert!(validate_url("https://hooks.example/x").is_ok());
        assert!(validate_url("http://10.0.0.1:8080/").is_ok());
        for bad in [
            "ftp://x/",
            "file:///etc/passwd",
            "https://u:p@x/",
            "not a url",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
    }
}
