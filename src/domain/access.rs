//! Gathering the facts `auth::policy` decides on: the actor's role on a package (grants,
//! ownership, organization ownership, repository inheritance) and organization membership.
use std::collections::HashMap;

use entity::{
    account, membership, package, package_grant, repository, repository_collaborator, team_member,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter,
    sea_query::{Expr, LikeExpr, Query, SelectStatement},
};

use crate::{
    auth::{
        Actor,
        policy::{self, Action, PackageFacts},
    },
    domain::{
        Domain,
        types::{AccountKind, OrgRole, RepositoryRole, Role, Visibility, parse_stored},
        views::RepositoryInfo,
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

    /// A user's collaborator rows (directly or through these teams) on these repositories.
    async fn collaborations(
        &self,
        user_id: i64,
        teams: Vec<i64>,
        repository_ids: Vec<i64>,
    ) -> DomainResult<Vec<repository_collaborator::Model>> {
        Ok(repository_collaborator::Entity::find()
            .filter(repository_collaborator::Column::RepositoryId.is_in(repository_ids))
            .filter(
                Condition::any()
                    .add(repository_collaborator::Column::UserId.eq(user_id))
                    .add(repository_collaborator::Column::TeamId.is_in(teams)),
            )
            .all(&self.db)
            .await?)
    }

    /// Computes the actor's role on a package from every source.
    pub(crate) async fn access_to(
        &self,
        actor: &Actor,
        pkg: &package::Model,
        owner: &account::Model,
    ) -> DomainResult<Access> {
        let mut all = self.access_to_many(actor, &[(pkg, owner)]).await?;
        Ok(all.remove(&pkg.id).unwrap_or(Access {
            role: None,
            org_member: false,
        }))
    }

    /// [`Self::access_to`] for many packages at once, in a constant number of queries.
    pub(crate) async fn access_to_many(
        &self,
        actor: &Actor,
        packages: &[(&package::Model, &account::Model)],
    ) -> DomainResult<HashMap<i64, Access>> {
        let mut out: HashMap<i64, Access> = packages
            .iter()
            .map(|(p, _)| {
                (
                    p.id,
                    Access {
                        role: None,
                        org_member: false,
                    },
                )
            })
            .collect();
        let raise = |out: &mut HashMap<i64, Access>, package_id: i64, r: Role| {
            if let Some(a) = out.get_mut(&package_id) {
                a.role = a.role.max(Some(r));
            }
        };
        let package_ids = || packages.iter().map(|(p, _)| p.id);
        match actor {
            Actor::Anonymous => {}
            Actor::User { id, .. } => {
                let user_id = *id;
                let orgs: Vec<i64> = packages
                    .iter()
                    .filter(|(_, o)| o.kind == AccountKind::Organization.as_str())
                    .map(|(_, o)| o.id)
                    .collect();
                let mut org_roles: HashMap<i64, OrgRole> = HashMap::new();
                if !orgs.is_empty() {
                    for m in membership::Entity::find()
                        .filter(membership::Column::UserId.eq(user_id))
                        .filter(membership::Column::OrganizationId.is_in(orgs))
                        .all(&self.db)
                        .await?
                    {
                        org_roles.insert(m.organization_id, parse_stored(&m.role)?);
                    }
                }
                for (pkg, owner) in packages {
                    if owner.kind == AccountKind::User.as_str() && owner.id == user_id {
                        raise(&mut out, pkg.id, Role::Admin);
                    }
                    match org_roles.get(&owner.id) {
                        Some(OrgRole::Owner) => {
                            raise(&mut out, pkg.id, Role::Admin);
                            if let Some(a) = out.get_mut(&pkg.id) {
                                a.org_member = true;
                            }
                        }
                        Some(OrgRole::Member) => {
                            if let Some(a) = out.get_mut(&pkg.id) {
                                a.org_member = true;
                            }
                        }
                        None => {}
                    }
                }
                let teams = self.team_ids(user_id).await?;
                for g in package_grant::Entity::find()
                    .filter(package_grant::Column::PackageId.is_in(package_ids()))
                    .filter(
                        Condition::any()
                            .add(package_grant::Column::UserId.eq(user_id))
                            .add(package_grant::Column::TeamId.is_in(teams.clone())),
                    )
                    .all(&self.db)
                    .await?
                {
                    raise(&mut out, g.package_id, parse_stored(&g.role)?);
                }
                // Inherited from linked repositories: owned, or as a collaborator.
                let inheriting: Vec<(i64, i64)> = packages
                    .iter()
                    .filter(|(p, _)| p.inherit_access)
                    .filter_map(|(p, _)| Some((p.id, p.repository_id?)))
                    .collect();
                if !inheriting.is_empty() {
                    let repo_ids: Vec<i64> = inheriting.iter().map(|(_, r)| *r).collect();
                    let mut repo_roles: HashMap<i64, Role> = HashMap::new();
                    for repo in repository::Entity::find()
                        .filter(repository::Column::Id.is_in(repo_ids.clone()))
                        .all(&self.db)
                        .await?
                    {
                        if repo.owner_id == user_id {
                            repo_roles.insert(repo.id, Role::Admin);
                        }
                    }
                    for c in self.collaborations(user_id, teams, repo_ids).await? {
                        let role = parse_stored::<RepositoryRole>(&c.role)?.package_role();
                        let best = repo_roles.entry(c.repository_id).or_insert(role);
                        *best = (*best).max(role);
                    }
                    for (package_id, repo_id) in inheriting {
                        if let Some(role) = repo_roles.get(&repo_id) {
                            raise(&mut out, package_id, *role);
                        }
                    }
                }
            }
            Actor::Repository { repository_id, .. } => {
                for (pkg, _) in packages {
                    if pkg.inherit_access && pkg.repository_id == Some(*repository_id) {
                        raise(&mut out, pkg.id, Role::Write);
                    }
                }
                for g in package_grant::Entity::find()
                    .filter(package_grant::Column::PackageId.is_in(package_ids()))
                    .filter(package_grant::Column::RepositoryId.eq(*repository_id))
                    .all(&self.db)
                    .await?
                {
                    raise(&mut out, g.package_id, parse_stored(&g.role)?);
                }
            }
        }
        Ok(out)
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

    /// The actor's effective role on each of these packages (`None`: read-only by
    /// visibility), for a whole page in a constant number of queries. Packages the actor
    /// may not read are left out.
    pub async fn viewer_roles(
        &self,
        actor: &Actor,
        package_ids: &[i64],
    ) -> DomainResult<HashMap<i64, Option<Role>>> {
        let packages = package::Entity::find()
            .filter(package::Column::Id.is_in(package_ids.iter().copied()))
            .all(&self.db)
            .await?;
        let owners: HashMap<i64, account::Model> = account::Entity::find()
            .filter(account::Column::Id.is_in(packages.iter().map(|p| p.owner_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let pairs: Vec<(&package::Model, &account::Model)> = packages
            .iter()
            .filter_map(|p| Some((p, owners.get(&p.owner_id)?)))
            .collect();
        let access = self.access_to_many(actor, &pairs).await?;
        let mut out = HashMap::new();
        for (pkg, owner) in pairs {
            let Some(a) = access.get(&pkg.id) else {
                continue;
            };
            let facts = PackageFacts {
                owner_login: &owner.login,
                name: &pkg.name,
                visibility: parse_stored(&pkg.visibility)?,
                role: a.role,
                org_member: a.org_member,
            };
            // A deleted package is seen by those who may restore it.
            let visible = match pkg.deleted_at {
                None => policy::can_read(actor, &facts),
                Some(_) => policy::authorize(actor, Action::Delete, &facts).is_ok(),
            };
            if visible {
                out.insert(pkg.id, policy::effective_role(actor, &facts));
            }
        }
        Ok(out)
    }

    /// Whether the actor may see a repository: public ones anyone; internal ones the
    /// owner's members; private ones the owner (its owners, for an organization), its
    /// collaborators (directly or through a team) and its own CI token.
    pub async fn can_see_repository(
        &self,
        actor: &Actor,
        repo: &RepositoryInfo,
    ) -> DomainResult<bool> {
        Ok(!self
            .visible_repositories(actor, vec![repo.clone()])
            .await?
            .is_empty())
    }

    /// The repositories of `repos` the actor may see (see `can_see_repository`), in their
    /// order, for a whole page in a constant number of queries.
    pub async fn visible_repositories(
        &self,
        actor: &Actor,
        repos: Vec<RepositoryInfo>,
    ) -> DomainResult<Vec<RepositoryInfo>> {
        let restricted: Vec<&RepositoryInfo> = repos
            .iter()
            .filter(|r| r.visibility != Visibility::Public)
            .collect();
        if actor.site_admin() || restricted.is_empty() {
            return Ok(repos);
        }
        let user_id = match actor {
            Actor::Anonymous => None,
            Actor::Repository { .. } => None,
            Actor::User { id, .. } => Some(*id),
        };
        let mut org_roles: HashMap<i64, OrgRole> = HashMap::new();
        let mut collaborating = std::collections::HashSet::new();
        if let Some(user_id) = user_id {
            for m in membership::Entity::find()
                .filter(membership::Column::UserId.eq(user_id))
                .filter(
                    membership::Column::OrganizationId.is_in(restricted.iter().map(|r| r.owner_id)),
                )
                .all(&self.db)
                .await?
            {
                org_roles.insert(m.organization_id, parse_stored(&m.role)?);
            }
            let teams = self.team_ids(user_id).await?;
            collaborating = self
                .collaborations(user_id, teams, restricted.iter().map(|r| r.id).collect())
                .await?
                .into_iter()
                .map(|c| c.repository_id)
                .collect();
        }
        let sees = |r: &RepositoryInfo| match actor {
            _ if r.visibility == Visibility::Public => true,
            Actor::Anonymous => false,
            Actor::Repository { repository_id, .. } => *repository_id == r.id,
            Actor::User { id, .. } => {
                r.owner_id == *id
                    || collaborating.contains(&r.id)
                    || match org_roles.get(&r.owner_id) {
                        Some(OrgRole::Owner) => true,
                        Some(OrgRole::Member) => r.visibility == Visibility::Internal,
                        None => false,
                    }
            }
        };
        Ok(repos.into_iter().filter(sees).collect())
    }

    /// Whether the actor may see who belongs to an organization (its members, teams and
    /// their members): its members and site admins.
    pub async fn can_see_members(&self, actor: &Actor, org_id: i64) -> DomainResult<bool> {
        if actor.site_admin() {
            return Ok(true);
        }
        Ok(match actor.user_id() {
            Some(user_id) => self.org_role(org_id, user_id).await?.is_some(),
            None => false,
        })
    }

    /// A SQL condition on `package` that keeps exactly the packages the actor may read:
    /// the same rules as [`policy::can_read`], as one condition so lists page in SQL.
    pub(crate) fn readable_condition(&self, actor: &Actor) -> Condition {
        readable_condition(actor)
    }
}

/// [`Domain::readable_condition`]: sea-query expressions, so each backend gets its own
/// placeholders and quoting.
fn readable_condition(actor: &Actor) -> Condition {
    let public = package::Column::Visibility.eq(Visibility::Public.as_str());
    if !actor.scopes().can_read_packages() {
        return Condition::all().add(public);
    }
    // A site admin reads everything (through a token of theirs too, unless it is fenced to
    // an owner or patterns): no condition, so a page is an index range, not a scan testing
    // each row.
    let unfenced = actor
        .token()
        .is_none_or(|t| t.owner_login.is_none() && t.package_patterns.is_none());
    if actor.site_admin() && unfenced {
        return Condition::all();
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
                .add(package::Column::OwnerId.in_subquery(orgs_of(id, Some(OrgRole::Owner))))
                .add(
                    Condition::all()
                        .add(package::Column::Visibility.eq(Visibility::Internal.as_str()))
                        .add(package::Column::OwnerId.in_subquery(orgs_of(id, None))),
                )
                .add(
                    package::Column::Id.in_subquery(
                        Query::select()
                            .column(package_grant::Column::PackageId)
                            .from(package_grant::Entity)
                            .cond_where(
                                Condition::any()
                                    .add(package_grant::Column::UserId.eq(id))
                                    .add(package_grant::Column::TeamId.in_subquery(teams_of(id))),
                            )
                            .to_owned(),
                    ),
                )
                .add(
                    // Two `IN`s where the SQL had one over a `UNION`: the same rows.
                    Condition::all()
                        .add(package::Column::InheritAccess.eq(true))
                        .add(
                            Condition::any()
                                .add(
                                    package::Column::RepositoryId.in_subquery(
                                        Query::select()
                                            .column(repository::Column::Id)
                                            .from(repository::Entity)
                                            .and_where(repository::Column::OwnerId.eq(id))
                                            .to_owned(),
                                    ),
                                )
                                .add(
                                    package::Column::RepositoryId.in_subquery(
                                        Query::select()
                                            .column(repository_collaborator::Column::RepositoryId)
                                            .from(repository_collaborator::Entity)
                                            .cond_where(
                                                Condition::any()
                                                    .add(
                                                        repository_collaborator::Column::UserId
                                                            .eq(id),
                                                    )
                                                    .add(
                                                        repository_collaborator::Column::TeamId
                                                            .in_subquery(teams_of(id)),
                                                    ),
                                            )
                                            .to_owned(),
                                    ),
                                ),
                        ),
                );
        }
        Actor::Repository { repository_id, .. } => {
            private = private
                .add(
                    Condition::all()
                        .add(package::Column::InheritAccess.eq(true))
                        .add(package::Column::RepositoryId.eq(*repository_id)),
                )
                .add(
                    package::Column::Id.in_subquery(
                        Query::select()
                            .column(package_grant::Column::PackageId)
                            .from(package_grant::Entity)
                            .and_where(package_grant::Column::RepositoryId.eq(*repository_id))
                            .to_owned(),
                    ),
                );
        }
    }
    // Fine-grained tokens see only their owner and patterns beyond public packages.
    let mut fenced = Condition::all().add(private);
    if let Some(token) = actor.token() {
        if let Some(owner) = &token.owner_login {
            fenced = fenced.add(
                package::Column::OwnerId.in_subquery(
                    Query::select()
                        .column(account::Column::Id)
                        .from(account::Entity)
                        .and_where(account::Column::Login.eq(owner.to_ascii_lowercase()))
                        .to_owned(),
                ),
            );
        }
        if let Some(patterns) = &token.package_patterns {
            let mut any = Condition::any();
            for p in patterns {
                let like = p
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
                    .replace('*', "%");
                any = any.add(package::Column::Name.like(LikeExpr::new(like).escape('\\')));
            }
            fenced = fenced.add(any);
        }
    }
    Condition::any().add(public).add(fenced)
}

/// The organizations a user belongs to (with `role`, when given).
fn orgs_of(user_id: i64, role: Option<OrgRole>) -> SelectStatement {
    let mut query = Query::select()
        .column(membership::Column::OrganizationId)
        .from(membership::Entity)
        .and_where(membership::Column::UserId.eq(user_id))
        .to_owned();
    if let Some(role) = role {
        query.and_where(membership::Column::Role.eq(role.as_str()));
    }
    query
}

/// The teams a user is in.
fn teams_of(user_id: i64) -> SelectStatement {
    Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned()
}

#[cfg(test)]
mod tests {
    use sea_orm::{
        EntityTrait, QueryFilter, QueryTrait,
        sea_query::{PostgresQueryBuilder, SqliteQueryBuilder},
    };

    use super::*;
    use crate::auth::{Scopes, TokenGrant};

    fn sql(actor: &Actor) -> (String, String) {
        let query = package::Entity::find()
            .filter(readable_condition(actor))
            .into_query();
        (
            query.to_string(SqliteQueryBuilder),
            query.to_string(PostgresQueryBuilder),
        )
    }

    fn token(owner: Option<&str>, patterns: Option<&[&str]>) -> TokenGrant {
        TokenGrant {
            token_id: 1,
            scopes: Scopes::all(),
            owner_login: owner.map(str::to_string),
            package_patterns: patterns.map(|p| p.iter().map(|p| p.to_string()).collect()),
        }
    }

    #[test]
    fn readable_condition_sql() {
        let user = |site_admin, token| Actor::User {
            id: 7,
            login: "alice".into(),
            site_admin,
            token,
        };
        let actors = [
            Actor::Anonymous,
            user(false, None),
            user(true, None),
            user(true, Some(token(Some("Acme"), Some(&["web-*", "a_b%"])))),
            Actor::Repository {
                repository_id: 9,
                owner_id: 3,
                token: token(None, None),
            },
            // A site admin's unfenced token reads all, as the site admin does.
            user(true, Some(token(None, None))),
        ];
        for actor in &actors[..] {
            let fenced = actor.token().is_some_and(|t| t.owner_login.is_some());
            if actor.site_admin() && !fenced {
                assert!(sql(actor).0.ends_with("WHERE TRUE"), "site admins read all");
                continue;
            }
            let (sqlite, postgres) = sql(actor);
            // Values are inlined by `to_string`: no placeholder is left for the backend.
            for text in [&sqlite, &postgres] {
                assert!(!text.contains('$') && !text.contains('?'), "{text}");
                assert!(text.contains("'public'"), "{text}");
            }
        }
        let (sqlite, postgres) = sql(&actors[1]);
        for text in [&sqlite, &postgres] {
            for table in [
                "\"membership\"",
                "\"package_grant\"",
                "\"team_member\"",
                "\"repository\"",
                "\"repository_collaborator\"",
            ] {
                assert!(text.contains(table), "{table} in {text}");
            }
            assert!(
                text.contains("'owner'") && text.contains("'internal'"),
                "{text}"
            );
        }
        let (sqlite, postgres) = sql(&actors[3]);
        assert!(sqlite.contains(r"LIKE 'web-%' ESCAPE '\'"), "{sqlite}");
        assert!(sqlite.contains(r"LIKE 'a\_b\%' ESCAPE '\'"), "{sqlite}");
        assert!(sqlite.contains("'acme'"), "{sqlite}");
        assert!(postgres.contains(r"ESCAPE E'\\'"), "{postgres}");
        let (sqlite, _) = sql(&actors[4]);
        assert!(
            sqlite.contains("\"package\".\"repository_id\" = 9"),
            "{sqlite}"
        );
    }
}
