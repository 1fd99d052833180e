//! Unit-test helpers for domain services: a real domain on a temporary SQLite file and
//! blob directory, with a user to act as.
use std::sync::Arc;

use crate::{
    auth::Actor,
    config::Config,
    domain::{Domain, OwnerName},
};

/// A domain in a temporary directory (kept alive by the returned `TempDir`) and a user
/// `login` acting with no token limits.
pub(crate) async fn domain_with_user(login: &str) -> (tempfile::TempDir, Domain, Actor, OwnerName) {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = vec![
        (
            "PACKYARD_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        (
            "PACKYARD_DATABASE_URL".to_string(),
            format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display()),
        ),
    ];
    let config = Config::load_from(None, &env).expect("config");
    let domain = Domain::open(Arc::new(config)).await.expect("open domain");
    let login = OwnerName::parse(login).expect("login");
    let user = domain
        .create_user(&login, None, None, false)
        .await
        .expect("user");
    let actor = Actor::User {
        id: user.id,
        login: user.login.clone(),
        site_admin: false,
        token: None,
    };
    (dir, domain, actor, login)
}
