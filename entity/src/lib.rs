//! SeaORM entities: one module per table, nothing else. Only `domain/` uses them.

pub mod access_token;
pub mod account;
pub mod audit_event;
pub mod blob;
pub mod download_daily;
pub mod image_blob;
pub mod image_referrer;
pub mod membership;
pub mod package;
pub mod package_event;
pub mod package_file;
pub mod package_grant;
pub mod package_tag;
pub mod package_version;
pub mod repository;
pub mod repository_collaborator;
pub mod rubygems_log;
pub mod team;
pub mod team_member;
pub mod upload_session;
pub mod usage_daily;
pub mod usage_quota;
pub mod usage_threshold;
pub mod web_session;
pub mod webhook;
pub mod webhook_delivery;
