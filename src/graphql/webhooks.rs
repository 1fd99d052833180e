//! Webhooks: create, update, delete, list (on the owner or repository), their deliveries,
//! redelivery. Secrets go in and never come back out (`hasSecret`).
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        OwnerName,
        events::EventKind,
        webhooks::{
            ContentType, DeliveryInfo, DeliveryStatus, HookScope, NewWebhook, WebhookInfo,
            WebhookPatch,
        },
    },
    graphql::{
        GqlResult,
        connection::{CountedConnection, paginate},
        ctx, ids,
    },
};

/// What a package event says happened.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PackageEventAction")]
pub enum PackageEventAction {
    Published,
    Updated,
    Deleted,
    Restored,
}

impl From<PackageEventAction> for EventKind {
    fn from(a: PackageEventAction) -> Self {
        match a {
            PackageEventAction::Published => Self::Published,
            PackageEventAction::Updated => Self::Updated,
            PackageEventAction::Deleted => Self::Deleted,
            PackageEventAction::Restored => Self::Restored,
        }
    }
}

impl From<EventKind> for PackageEventAction {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::Published => Self::Published,
            EventKind::Updated => Self::Updated,
            EventKind::Deleted => Self::Deleted,
            EventKind::Restored => Self::Restored,
        }
    }
}

/// How a delivery's body is encoded.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WebhookContentType {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`: `payload=<urlencoded JSON>`.
    Form,
}

impl From<WebhookContentType> for ContentType {
    fn from(c: WebhookContentType) -> Self {
        match c {
            WebhookContentType::Json => Self::Json,
            WebhookContentType::Form => Self::Form,
        }
    }
}

impl From<ContentType> for WebhookContentType {
    fn from(c: ContentType) -> Self {
        match c {
            ContentType::Json => Self::Json,
            ContentType::Form => Self::Form,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet; retried when due.
    Pending,
    Delivered,
    /// Given up: the retry limit, or a target the server may not reach.
    Failed,
}

impl From<DeliveryStatus> for WebhookDeliveryStatus {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Failed => Self::Failed,
        }
    }
}

pub struct WebhookObject(pub WebhookInfo);

#[Object(name = "Webhook")]
impl WebhookObject {
    pub async fn id(&self) -> ID {
        ids::encode("Webhook", self.0.id)
    }
    /// The payload URL.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Whether deliveries are signed (`X-Hub-Signature-256`); the secret is never shown.
    async fn has_secret(&self) -> bool {
        self.0.has_secret
    }
    async fn content_type(&self) -> WebhookContentType {
        self.0.content_type.into()
    }
    /// The actions delivered; empty: all of them.
    async fn events(&self) -> Vec<PackageEventAction> {
        self.0.events.iter().map(|e| (*e).into()).collect()
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// TLS certificates of the payload URL are not verified.
    async fn insecure_ssl(&self) -> bool {
        self.0.insecure_ssl
    }
    /// The owner's login.
    async fn owner_login(&self) -> &str {
        &self.0.owner_login
    }
    /// Set when the hook is a repository's.
    async fn repository_id(&self) -> Option<ID> {
        self.0.repository_id.map(|id| ids::encode("Repository", id))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Deliveries, newest first.
    async fn deliveries(
        &self,
        c: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<WebhookDeliveryObject>> {
        let c = ctx(c)?;
        let id = self.0.id;
        paginate(after, before, first, last, |offset, limit| async move {
            let (rows, total) = c
                .domain
                .webhook_deliveries(c.actor, id, offset, limit)
                .await?;
            Ok((rows.into_iter().map(WebhookDeliveryObject).collect(), total))
        })
        .await
    }
}

pub struct WebhookDeliveryObject(pub DeliveryInfo);

/// A request header as sent.
#[derive(SimpleObject)]
pub struct WebhookHeader {
    pub name: String,
    pub value: String,
}

#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryObject {
    pub async fn id(&self) -> ID {
        ids::encode("WebhookDelivery", self.0.id)
    }
    /// `X-GitHub-Delivery`: the same on every attempt and redelivery.
    async fn guid(&self) -> String {
        self.0.guid.to_string()
    }
    /// `package` or `ping`.
    async fn event(&self) -> &str {
        &self.0.event
    }
    async fn action(&self) -> Option<&str> {
        self.0.action.as_deref()
    }
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }
    /// The receiver's HTTP status of the last attempt.
    async fn status_code(&self) -> Option<i32> {
        self.0.response_code
    }
    /// How long the last attempt took, in milliseconds.
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Whether this is a redelivery of an earlier delivery.
    async fn redelivery(&self) -> bool {
        self.0.redelivery
    }
    /// The headers of the last attempt.
    async fn request_headers(&self) -> Vec<WebhookHeader> {
        self.0
            .request_headers
            .as_ref()
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .map(|(k, v)| WebhookHeader {
                        name: k.clone(),
                        value: v.as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The body as sent.
    async fn request_body(&self) -> &str {
        &self.0.request_body
    }
    /// The first 4 KiB of the receiver's answer.
    async fn response_excerpt(&self) -> Option<&str> {
        self.0.response_excerpt.as_deref()
    }
    /// Why the last attempt failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The `webhooks` connection of an owner or repository (their objects call this).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn webhooks_of(
    c: &Context<'_>,
    owner: &str,
    repository: Option<&str>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<CountedConnection<WebhookObject>> {
    let c = ctx(c)?;
    let scope = HookScope {
        owner: OwnerName::parse(owner).gql()?,
        repository: repository.map(str::to_string),
    };
    let scope = &scope;
    paginate(after, before, first, last, |offset, limit| async move {
        let (hooks, total) = c
            .domain
            .list_webhooks(c.actor, scope, offset, limit)
            .await?;
        Ok((hooks.into_iter().map(WebhookObject).collect(), total))
    })
    .await
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// The organization or user whose packages' events are delivered.
    pub owner: String,
    /// Only this repository's packages (a repository of `owner`).
    pub repository: Option<String>,
    pub url: String,
    pub secret: Option<String>,
    #[graphql(default_with = "WebhookContentType::Json")]
    pub content_type: WebhookContentType,
    /// Empty or missing: every action.
    pub events: Option<Vec<PackageEventAction>>,
    #[graphql(default = true)]
    pub active: bool,
    #[graphql(default = false)]
    pub insecure_ssl: bool,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateWebhookInput {
    pub webhook_id: ID,
    pub url: Option<String>,
    /// An empty string removes the secret.
    pub secret: Option<String>,
    pub content_type: Option<WebhookContentType>,
    pub events: Option<Vec<PackageEventAction>>,
    pub active: Option<bool>,
    pub insecure_ssl: Option<bool>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteWebhookInput {
    pub webhook_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct RedeliverWebhookDeliveryInput {
    pub delivery_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct WebhookPayload {
    pub client_mutation_id: Option<String>,
    pub webhook: WebhookObject,
}

#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    pub client_mutation_id: Option<String>,
    pub success: bool,
}

#[derive(SimpleObject)]
pub struct RedeliverWebhookDeliveryPayload {
    pub client_mutation_id: Option<String>,
    /// The new delivery (same `guid`).
    pub delivery: WebhookDeliveryObject,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// A webhook, for its owner's admins.
    async fn webhook(&self, c: &Context<'_>, id: ID) -> async_graphql::Result<WebhookObject> {
        let c = ctx(c)?;
        let hook = c
            .domain
            .webhook(c.actor, ids::decode(&id, "Webhook")?)
            .await
            .gql()?;
        Ok(WebhookObject(hook))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Creates a webhook and sends it a `ping`.
    async fn create_webhook(
        &self,
        c: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<WebhookPayload> {
        let c = ctx(c)?;
        let scope = HookScope {
            owner: OwnerName::parse(&input.owner).gql()?,
            repository: input.repository,
        };
        let new = NewWebhook {
            url: input.url,
            secret: input.secret,
            content_type: input.content_type.into(),
            events: input
                .events
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            active: input.active,
            insecure_ssl: input.insecure_ssl,
        };
        let hook = c.domain.create_webhook(c.actor, &scope, new).await.gql()?;
        Ok(WebhookPayload {
            client_mutation_id: input.client_mutation_id,
            webhook: WebhookObject(hook),
        })
    }

    async fn update_webhook(
        &self,
        c: &Context<'_>,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<WebhookPayload> {
        let c = ctx(c)?;
        let patch = WebhookPatch {
            url: input.url,
            secret: input.secret,
            content_type: input.content_type.map(Into::into),
            events: input
                .events
                .map(|e| e.into_iter().map(Into::into).collect()),
            active: input.active,
            insecure_ssl: input.insecure_ssl,
        };
        let hook = c
            .domain
            .update_webhook(c.actor, ids::decode(&input.webhook_id, "Webhook")?, patch)
            .await
            .gql()?;
        Ok(WebhookPayload {
            client_mutation_id: input.client_mutation_id,
            webhook: WebhookObject(hook),
        })
    }

    async fn delete_webhook(
        &self,
        c: &Context<'_>,
        input: DeleteWebhookInput,
    ) -> async_graphql::Result<DeleteWebhookPayload> {
        let c = ctx(c)?;
        c.domain
            .delete_webhook(c.actor, ids::decode(&input.webhook_id, "Webhook")?)
            .await
            .gql()?;
        Ok(DeleteWebhookPayload {
            client_mutation_id: input.client_mutation_id,
            success: true,
        })
    }

    /// Sends a delivery again, with the same `X-GitHub-Delivery`.
    async fn redeliver_webhook_delivery(
        &self,
        c: &Context<'_>,
        input: RedeliverWebhookDeliveryInput,
    ) -> async_graphql::Result<RedeliverWebhookDeliveryPayload> {
        let c = ctx(c)?;
        let delivery = c
            .domain
            .redeliver_webhook_delivery(
                c.actor,
                ids::decode(&input.delivery_id, "WebhookDelivery")?,
            )
            .await
            .gql()?;
        Ok(RedeliverWebhookDeliveryPayload {
            client_mutation_id: input.client_mutation_id,
            delivery: WebhookDeliveryObject(delivery),
        })
    }
}
