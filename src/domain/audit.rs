//! The audit trail: who did what to which thing, written in the same transaction as the change.
use entity::audit_event;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::{auth::Actor, domain::now, error::DomainResult};

pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: Option<i64>,
    data: serde_json::Value,
) -> DomainResult<()> {
    let mut data = data;
    if let (serde_json::Value::Object(map), Actor::Repository { repository_id, .. }) =
        (&mut data, actor)
    {
        map.insert("repository_token".into(), (*repository_id).into());
    }
    audit_event::ActiveModel {
        actor_id: Set(actor.user_id()),
        action: Set(action.into()),
        target_type: Set(target_type.into()),
        target_id: Set(target_id),
        data: Set(data),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
