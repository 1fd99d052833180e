//! The single gate: what an actor may do to a package, and where it may create one.
//!
//! The domain gathers the facts (the actor's role on the package from grants, ownership and
//! repository inheritance, and organization membership); this module decides. It is pure,
//! so every combination is tested in a table below.
use crate::{
    auth::{Actor, Scope},
    domain::types::{OrgRole, Role, Visibility},
    error::{DomainError, What},
};

/// What the actor wants to do to a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Download files, read metadata.
    Read,
    /// Publish versions, move tags.
    Write,
    /// Change settings and access (visibility, linking, grants).
    Admin,
    /// Delete or restore packages and versions.
    Delete,
}

/// The facts about one package and one actor that the decision needs.
#[derive(Clone, Debug)]
pub struct PackageFacts<'a> {
    pub owner_login: &'a str,
    pub name: &'a str,
    pub visibility: Visibility,
    /// The actor's role from grants, ownership, org ownership and repository inheritance.
    pub role: Option<Role>,
    /// Whether the actor belongs to the organization that owns the package.
    pub org_member: bool,
}

/// The facts about an owner that creating a package there needs.
#[derive(Clone, Debug)]
pub struct OwnerFacts<'a> {
    pub owner_id: i64,
    pub owner_login: &'a str,
    pub is_organization: bool,
    /// The actor's role in that organization.
    pub org_role: Option<OrgRole>,
    pub members_can_create_packages: bool,
}

/// The role the actor effectively holds, after token restrictions; `None` for no role.
pub fn effective_role(actor: &Actor, facts: &PackageFacts<'_>) -> Option<Role> {
    if !token_covers(actor, facts) {
        return None;
    }
    if actor.site_admin() {
        return Some(Role::Admin);
    }
    facts.role
}

fn token_covers(actor: &Actor, facts: &PackageFacts<'_>) -> bool {
    actor
        .token()
        .is_none_or(|t| t.covers(facts.owner_login, facts.name))
}

/// Whether the actor may know the package exists and read it.
pub fn can_read(actor: &Actor, facts: &PackageFacts<'_>) -> bool {
    if facts.visibility == Visibility::Public {
        return true;
    }
    // A token without any package scope reads like an anonymous caller.
    if !actor.scopes().can_read_packages() || !token_covers(actor, facts) {
        return false;
    }
    effective_role(actor, facts).is_some()
        || (facts.visibility == Visibility::Internal && facts.org_member)
}

/// The one answer about a package the caller may not know of: missing, or there but not
/// readable by it (or deleted, and not restorable by it) answer alike, on every door, for
/// reads and writes, so no answer tells them apart. Anonymous callers get `Unauthenticated`
/// (the door's 401 challenge: Maven, NuGet and bundler send credentials only after one);
/// signed-in callers get `NotFound` naming `what`.
pub fn unknown(actor: &Actor, what: What, message: impl Into<String>) -> DomainError {
    if actor.is_anonymous() {
        DomainError::Unauthenticated("authentication required".into())
    } else {
        DomainError::not_found(what, message)
    }
}

/// Decides whether `actor` may do `action` to the package. A caller who may not read the
/// package gets [`unknown`] (its existence is not leaked); anonymous callers who need
/// credentials get `Unauthenticated`; callers who may read but not act get `Forbidden`.
pub fn authorize(
    actor: &Actor,
    action: Action,
    facts: &PackageFacts<'_>,
) -> Result<(), DomainError> {
    let what = || format!("package {}/{}", facts.owner_login, facts.name);
    if !can_read(actor, facts) {
        return Err(unknown(actor, What::Package, what()));
    }
    if action != Action::Read && actor.is_anonymous() {
        return Err(DomainError::Unauthenticated(
            "authentication required".into(),
        ));
    }
    let (needed_role, needed_scope) = match action {
        Action::Read => return Ok(()),
        Action::Write => (Role::Write, Scope::WritePackages),
        Action::Admin => (Role::Admin, Scope::WritePackages),
        Action::Delete => (Role::Admin, Scope::DeletePackages),
    };
    if effective_role(actor, facts).is_none_or(|role| role < needed_role) {
        return Err(DomainError::forbidden(format!(
            "{} needs the {} role on {}",
            match action {
                Action::Write => "publishing",
                Action::Delete => "deleting or restoring",
                _ => "changing settings",
            },
            needed_role,
            what()
        )));
    }
    if !actor.has_scope(needed_scope) {
        return Err(DomainError::forbidden(format!(
            "the token lacks the {} scope",
            needed_scope.as_str()
        )));
    }
    Ok(())
}

/// Decides whether `actor` may create a new package named `name` under an owner.
pub fn authorize_create(
    actor: &Actor,
    owner: &OwnerFacts<'_>,
    name: &str,
) -> Result<(), DomainError> {
    if actor.is_anonymous() {
        return Err(DomainError::Unauthenticated(
            "authentication required".into(),
        ));
    }
    if let Some(token) = actor.token()
        && !token.covers(owner.owner_login, name)
    {
        return Err(DomainError::forbidden(format!(
            "the token may not publish {}/{name}",
            owner.owner_login
        )));
    }
    let allowed = actor.site_admin()
        || match actor {
            Actor::Anonymous => false,
            Actor::User { id, .. } if !owner.is_organization => *id == owner.owner_id,
            Actor::User { .. } => match owner.org_role {
                Some(OrgRole::Owner) => true,
                Some(OrgRole::Member) => owner.members_can_create_packages,
                None => false,
            },
            // A repository's CI token publishes into its own owner's namespace (linked to it).
            Actor::Repository { owner_id, .. } => *owner_id == owner.owner_id,
        };
    if !allowed {
        return Err(DomainError::forbidden(format!(
            "you may not create packages in {}",
            owner.owner_login
        )));
    }
    if !actor.has_scope(Scope::WritePackages) {
        return Err(DomainError::forbidden(
            "the token lacks the write:packages scope",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Scopes, TokenGrant};

    fn token(scopes: &str) -> TokenGrant {
        TokenGrant {
            token_id: 1,
            scopes: Scopes::parse(scopes).expect("scopes"),
            owner_login: None,
            package_patterns: None,
        }
    }

    fn user(id: i64, scopes: &str) -> Actor {
        Actor::User {
            id,
            login: format!("u{id}"),
            site_admin: false,
            token: Some(token(scopes)),
        }
    }

    const ALL: &str = "read:packages,write:packages,delete:packages";

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Want {
        Ok,
        NotFound,
        Forbidden,
        Unauth,
    }

    fn outcome(r: Result<(), DomainError>) -> Want {
        match r {
            Ok(()) => Want::Ok,
            Err(DomainError::NotFound { .. }) => Want::NotFound,
            Err(DomainError::Forbidden(_)) => Want::Forbidden,
            Err(DomainError::Unauthenticated(_)) => Want::Unauth,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    /// Actors × visibility × action. Expired and revoked tokens never become actors (the
    /// domain refuses them with `Unauthenticated`); the HTTP table test covers them.
    #[test]
    fn the_table() {
        use Action::*;
        use Visibility::*;
        use Want::{Forbidden as F, NotFound as N, Ok as Y, Unauth as U};
        let anonymous = (Actor::Anonymous, None, false);
        let reader = (user(2, ALL), Some(Role::Read), false);
        let writer = (user(3, ALL), Some(Role::Write), false);
        let admin = (user(4, ALL), Some(Role::Admin), false);
        let org_member = (user(5, ALL), None, true);
        let stranger = (user(6, ALL), None, false);
        let read_only_token = (user(7, "read:packages"), Some(Role::Admin), false);
        let no_scope_token = (user(8, ""), Some(Role::Admin), false);
        let write_no_delete = (user(9, "write:packages"), Some(Role::Admin), false);
        let repo_token = (
            Actor::Repository {
                repository_id: 1,
                owner_id: 1,
                token: token("read:packages,write:packages"),
            },
            Some(Role::Write),
            false,
        );
        let site_admin = (
            Actor::User {
                id: 10,
                login: "root".into(),
                site_admin: true,
                token: None,
            },
            None,
            false,
        );
        let fenced = (
            Actor::User {
                id: 11,
                login: "u11".into(),
                site_admin: false,
                token: Some(TokenGrant {
                    owner_login: Some("other".into()),
                    ..token(ALL)
                }),
            },
            Some(Role::Admin),
            false,
        );

        #[rustfmt::skip]
        type Case<'a> = (&'a str, &'a (Actor, Option<Role>, bool), Visibility, [Want; 4]);
        let table: Vec<Case<'_>> = vec![
            //                                   Read Write Admin Delete
            ("anonymous", &anonymous, Public, [Y, U, U, U]),
            ("anonymous", &anonymous, Internal, [U, U, U, U]),
            ("anonymous", &anonymous, Private, [U, U, U, U]),
            ("reader", &reader, Public, [Y, F, F, F]),
            ("reader", &reader, Private, [Y, F, F, F]),
            ("writer", &writer, Private, [Y, Y, F, F]),
            ("admin", &admin, Private, [Y, Y, Y, Y]),
            ("org member", &org_member, Internal, [Y, F, F, F]),
            ("org member", &org_member, Private, [N, N, N, N]),
            ("non-member", &stranger, Public, [Y, F, F, F]),
            ("non-member", &stranger, Internal, [N, N, N, N]),
            ("non-member", &stranger, Private, [N, N, N, N]),
            ("read-only token", &read_only_token, Private, [Y, F, F, F]),
            ("no-scope token", &no_scope_token, Private, [N, N, N, N]),
            ("no-scope token", &no_scope_token, Public, [Y, F, F, F]),
            ("write token", &write_no_delete, Private, [Y, Y, Y, F]),
            ("repo token", &repo_token, Private, [Y, Y, F, F]),
            ("site admin", &site_admin, Private, [Y, Y, Y, Y]),
            ("fenced token", &fenced, Private, [N, N, N, N]),
            ("fenced token", &fenced, Public, [Y, F, F, F]),
        ];
        for (label, (actor, role, member), visibility, wants) in table {
            let facts = PackageFacts {
                owner_login: "acme",
                name: "tool",
                visibility,
                role: *role,
                org_member: *member,
            };
            for (action, want) in [Read, Write, Admin, Delete].into_iter().zip(wants) {
                assert_eq!(
                    outcome(authorize(actor, action, &facts)),
                    want,
                    "{label} {visibility} {action:?}"
                );
            }
        }
    }

    #[test]
    fn who_may_create() {
        let org = |role, members_can| OwnerFacts {
            owner_id: 100,
            owner_login: "acme",
            is_organization: true,
            org_role: role,
            members_can_create_packages: members_can,
        };
        let own = OwnerFacts {
            owner_id: 2,
            owner_login: "u2",
            is_organization: false,
            org_role: None,
            members_can_create_packages: false,
        };
        assert!(authorize_create(&user(2, ALL), &own, "x").is_ok());
        assert!(matches!(
            authorize_create(&user(3, ALL), &own, "x"),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            authorize_create(&Actor::Anonymous, &own, "x"),
            Err(DomainError::Unauthenticated(_))
        ));
        assert!(matches!(
            authorize_create(&user(2, "read:packages"), &own, "x"),
            Err(DomainError::Forbidden(_))
        ));
        assert!(authorize_create(&user(3, ALL), &org(Some(OrgRole::Member), true), "x").is_ok());
        assert!(authorize_create(&user(3, ALL), &org(Some(OrgRole::Member), false), "x").is_err());
        assert!(authorize_create(&user(3, ALL), &org(Some(OrgRole::Owner), false), "x").is_ok());
        assert!(authorize_create(&user(3, ALL), &org(None, true), "x").is_err());
        let repo = Actor::Repository {
            repository_id: 1,
            owner_id: 100,
            token: token("write:packages"),
        };
        assert!(authorize_create(&repo, &org(None, false), "x").is_ok());
        let fenced = Actor::User {
            id: 3,
            login: "u3".into(),
            site_admin: false,
            token: Some(TokenGrant {
                package_patterns: Some(vec!["web-*".into()]),
                ..token(ALL)
            }),
        };
        assert!(authorize_create(&fenced, &org(Some(OrgRole::Owner), false), "web-ui").is_ok());
        assert!(authorize_create(&fenced, &org(Some(OrgRole::Owner), false), "api").is_err());
    }
}
