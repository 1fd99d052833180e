//! Gathering the facts `auth::policy` decides on: the actor's role on a package (grants,
//! ownership, organization ownership, repository inheritance) and organization membership.
use entity::{account, package, package_grant, repository, repository_collaborator, team_member};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    auth::{
        Actor,
        policy::{self, Action, PackageFacts},
    },
    domain::{
        Domain,
        types::{AccountKind, OrgRole, RepositoryRole, Role, Visibility, parse_stored},
    },
    error::DomainResult,
};

/// What the gate needs to know about one package and the caller.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    pub role: Option<Role>,
    pub org_member: bool,
}

impl Domain {
    /// The teams a user belongs to.
    async fn team_ids(&self, user_id: i64) -> DomainResult<Vec<i64>> {
        Ok(team_member::Entity::find()
            .filter(team_member::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.team_id)
            .collect())
    }

    /// Computes the actor's role on a package from every source.
    pub(crate) async fn access_to(
        &self,
        actor: &Actor,
        pkg: &package::Model,
        owner: &account::Model,
    ) -> DomainResult<Access> {
        let mut best: Option<Role> = None;
        let mut raise = |r: Role| best = best.max(Some(r));
        let mut org_member = false;
        match actor {
            Actor::Anonymous => {}
            Actor::User { id, .. } => {
                let user_id = *id;
                if owner.kind == AccountKind::User.as_str() && owner.id == user_id {
                    raise(Role::Admin);
                }
                if owner.kind == AccountKind::Organization.as_str() {
                    match self.org_role(owner.id, user_id).await? {
                        Some(OrgRole::Owner) => {
                            org_member = true;
                            raise(Role::Admin);
                        }
                        Some(OrgRole::Member) => org_member = true,
                        None => {}
                    }
                }
                let teams = self.team_ids(user_id).await?;
                let grants = package_grant::Entity::find()
                    .filter(package_grant::Column::PackageId.eq(pkg.id))
                    .filter(
                        Condition::any()
                            .add(package_grant::Column::UserId.eq(user_id))
                            .add(package_grant::Column::TeamId.is_in(teams.clone())),
                    )
                    .all(&self.db)
                    .await?;
                for g in grants {
                    raise(parse_stored(&g.role)?);
                }
                if pkg.inherit_access
                    && let Some(repo_id) = pkg.repository_id
                {
                    if let Some(repo) = repository::Entity::find_by_id(repo_id)
                        .one(&self.db)
                        .await?
                        && repo.owner_id == user_id
                    {
                        raise(Role::Admin);
                    }
                    let collaborations = repository_collaborator::Entity::find()
                        .filter(repository_collaborator::Column::RepositoryId.eq(repo_id))
                        .filter(
                            Condition::any()
                                .add(repository_collaborator::Column::UserId.eq(user_id))
                                .add(repository_collaborator::Column::TeamId.is_in(teams)),
                        )
                        .all(&self.db)
                        .await?;
                    for c in collaborations {
                        raise(parse_stored::<RepositoryRole>(&c.role)?.package_role());
                    }
                }
            }
            Actor::Repository { repository_id, .. } => {
                if pkg.inherit_access && pkg.repository_id == Some(*repository_id) {
                    raise(Role::Write);
                }
                let grants = package_grant::Entity::find()
                    .filter(package_grant::Column::PackageId.eq(pkg.id))
                    .filter(package_grant::Column::RepositoryId.eq(*repository_id))
                    .all(&self.db)
                    .await?;
                for g in grants {
                    raise(parse_stored(&g.role)?);
                }
            }
        }
        Ok(Access {
            role: best,
            org_member,
        })
    }

    /// Runs the gate for one package; `Ok(role)` is the actor's effective role.
    pub(crate) async fn authorize_package(
        &self,
        actor: &Actor,
        action: Action,
        pkg: &package::Model,
        owner: &account::Model,
    ) -> DomainResult<Option<Role>> {
        let visibility: Visibility = parse_stored(&pkg.visibility)?;
        // Reading a public package needs no role: the hot path of every public download
        // skips the role queries. (`viewer_role` computes the role when it is wanted.)
        let access = if action == Action::Read && visibility == Visibility::Public {
            Access {
                role: None,
                org_member: false,
            }
        } else {
            self.access_to(actor, pkg, owner).await?
        };
        let facts = PackageFacts {
            owner_login: &owner.login,
            name: &pkg.name,
            visibility,
            role: access.role,
            org_member: access.org_member,
        };
        policy::authorize(actor, action, &facts)?;
        Ok(policy::effective_role(actor, &facts))
    }

    /// The actor's effective role on a package it may read (`None`: read-only by visibility).
    pub async fn viewer_role(&self, actor: &Actor, package_id: i64) -> DomainResult<Option<Role>> {
        let (pkg, owner) = self.package_model_by_id(package_id).await?;
        let access = self.access_to(actor, &pkg, &owner).await?;
        let facts = PackageFacts {
            owner_login: &owner.login,
            name: &pkg.name,
            visibility: parse_stored(&pkg.visibility)?,
            role: access.role,
            org_member: access.org_member,
        };
        if pkg.deleted_at.is_some() || !policy::can_read(actor, &facts) {
            return Err(crate::error::DomainError::not_found("package"));
        }
        Ok(policy::effective_role(actor, &facts))
    }

    /// A SQL condition on `package` that keeps exactly the packages the actor may read:
    /// the same rules as [`policy::can_read`], as one condition so lists page in SQL.
    pub(crate) fn readable_condition(&self, actor: &Actor) -> Condition {
        let public = package::Column::Visibility.eq(Visibility::Public.as_str());
        if actor.site_admin() && actor.token().is_none() {
            return Condition::all();
        }
        if !actor.scopes().can_read_packages() {
            return Condition::all().add(public);
        }
        let mut private = Condition::any();
        match actor {
            Actor::Anonymous => {}
            Actor::User { id, site_admin, .. } => {
                let id = *id;
                if *site_admin {
                    private = private.add(Expr::cust("1 = 1"));
                }
                private = private
                    .add(package::Column::OwnerId.eq(id))
                    .add(self.sql_expr(
                        "package.owner_id IN (SELECT organization_id FROM membership WHERE user_id = $1 AND role = 'owner')",
                        [id],
                    ))
                    .add(self.sql_expr(
                        "(package.visibility = 'internal' AND package.owner_id IN (SELECT organization_id FROM membership WHERE user_id = $1))",
                        [id],
                    ))
                    .add(self.sql_expr(
                        "package.id IN (SELECT package_id FROM package_grant WHERE user_id = $1 \
                         OR team_id IN (SELECT team_id FROM team_member WHERE user_id = $2))",
                        [id, id],
                    ))
                    .add(self.sql_expr(
                        "(package.inherit_access AND package.repository_id IN (SELECT id FROM repository WHERE owner_id = $1 \
                         UNION SELECT repository_id FROM repository_collaborator WHERE user_id = $2 \
                         OR team_id IN (SELECT team_id FROM team_member WHERE user_id = $3)))",
                        [id, id, id],
                    ));
            }
            Actor::Repository { repository_id, .. } => {
                private = private
                    .add(self.sql_expr(
                        "(package.inherit_access AND package.repository_id = $1)",
                        [*repository_id],
                    ))
                    .add(self.sql_expr(
                        "package.id IN (SELECT package_id FROM package_grant WHERE repository_id = $1)",
                        [*repository_id],
                    ));
            }
        }
        // Fine-grained tokens see only their owner and patterns beyond public packages.
        let mut fenced = Condition::all().add(private);
        if let Some(token) = actor.token() {
            if let Some(owner) = &token.owner_login {
                fenced = fenced.add(self.sql_expr(
                    "package.owner_id IN (SELECT id FROM account WHERE login = $1)",
                    [owner.to_ascii_lowercase()],
                ));
            }
            if let Some(patterns) = &token.package_patterns {
                let mut any = Condition::any();
                for p in patterns {
                    let like = p
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                        .replace('*', "%");
                    any = any.add(self.sql_expr("package.name LIKE $1 ESCAPE '\\'", [like]));
                }
                fenced = fenced.add(any);
            }
        }
        Condition::any().add(public).add(fenced)
    }
}
