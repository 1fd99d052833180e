//! Users, organizations, memberships, teams, repositories and collaborators.
use entity::{
    account, membership, package, package_grant, repository, repository_collaborator, team,
    team_member,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set, TransactionTrait,
};

use crate::{
    auth::{Actor, Scope},
    domain::{
        Domain, audit,
        names::OwnerName,
        now,
        types::{AccountKind, OrgRole, RepositoryRole, Visibility, parse_stored},
        views::{AccountInfo, CollaboratorInfo, MemberInfo, RepositoryInfo, TeamInfo},
    },
    error::{DomainError, DomainResult, What},
};

impl TryFrom<account::Model> for AccountInfo {
    type Error = DomainError;
    fn try_from(m: account::Model) -> DomainResult<Self> {
        Ok(Self {
            id: m.id,
            kind: parse_stored(&m.kind)?,
            default_package_visibility: parse_stored(&m.default_package_visibility)?,
            login: m.login,
            display_name: m.display_name,
            email: m.email,
            site_admin: m.site_admin,
            default_inherit_access: m.default_inherit_access,
            members_can_create_packages: m.members_can_create_packages,
            created_at: m.created_at,
        })
    }
}

impl From<team::Model> for TeamInfo {
    fn from(m: team::Model) -> Self {
        Self {
            id: m.id,
            organization_id: m.organization_id,
            slug: m.slug,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

pub(crate) fn repository_info(
    m: repository::Model,
    owner_login: String,
) -> DomainResult<RepositoryInfo> {
    Ok(RepositoryInfo {
        id: m.id,
        owner_id: m.owner_id,
        owner_login,
        visibility: parse_stored(&m.visibility)?,
        name: m.name,
        description: m.description,
        created_at: m.created_at,
    })
}

/// A team slug: lower-case letters, digits and hyphens (what GitHub derives from a name).
fn parse_slug(s: &str) -> DomainResult<String> {
    let slug = s.to_ascii_lowercase();
    if slug.is_empty()
        || slug.len() > 64
        || !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(DomainError::invalid(format!("invalid team slug {s:?}")));
    }
    Ok(slug)
}

/// A repository name: GitHub's grammar (letters, digits, `.`, `_`, `-`), not `.`/`..`.
pub fn parse_repository_name(s: &str) -> DomainResult<String> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(DomainError::invalid(format!(
            "invalid repository name {s:?}"
        )));
    }
    Ok(s.to_string())
}

fn hash_password(password: &str) -> DomainResult<String> {
    if password.len() < 8 {
        return Err(DomainError::invalid(
            "password must be at least 8 characters",
        ));
    }
    super::passwords::hash_with_default_cost(password.as_bytes())
}

impl Domain {
    pub(crate) async fn account_model(&self, login: &OwnerName) -> DomainResult<account::Model> {
        account::Entity::find()
            .filter(account::Column::Login.eq(login.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Account, format!("account {login}")))
    }

    pub async fn find_account(&self, login: &OwnerName) -> DomainResult<AccountInfo> {
        self.account_model(login).await?.try_into()
    }

    pub async fn account_by_id(&self, id: i64) -> DomainResult<AccountInfo> {
        account::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Account, format!("account #{id}")))?
            .try_into()
    }

    pub async fn accounts_by_ids(&self, ids: &[i64]) -> DomainResult<Vec<AccountInfo>> {
        account::Entity::find()
            .filter(account::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Creates a user (bootstrap CLI, no actor). The password is optional: token-only users.
    pub async fn create_user(
        &self,
        login: &OwnerName,
        email: Option<String>,
        password: Option<&str>,
        site_admin: bool,
    ) -> DomainResult<AccountInfo> {
        let password_hash = password.map(hash_password).transpose()?;
        self.insert_account(login, AccountKind::User, email, password_hash, site_admin)
            .await
    }

    async fn insert_account(
        &self,
        login: &OwnerName,
        kind: AccountKind,
        email: Option<String>,
        password_hash: Option<String>,
        site_admin: bool,
    ) -> DomainResult<AccountInfo> {
        let model = account::ActiveModel {
            login: Set(login.to_string()),
            kind: Set(kind.as_str().into()),
            display_name: Set(None),
            email: Set(email),
            password_hash: Set(password_hash),
            site_admin: Set(site_admin),
            default_package_visibility: Set(Visibility::Private.as_str().into()),
            default_inherit_access: Set(true),
            members_can_create_packages: Set(true),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(|e| match DomainError::from(e) {
            DomainError::AlreadyExists { .. } => {
                DomainError::exists(What::Account, format!("the login {login} is taken"))
            }
            other => other,
        })?;
        model.try_into()
    }

    /// Checks a user's password (npm login), from `client` when known. Slow by design
    /// (argon2) and guarded: throttled per account and client, a few at a time, and as
    /// slow for a login that doesn't exist (see `passwords`).
    pub async fn verify_password(
        &self,
        login: &OwnerName,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> DomainResult<AccountInfo> {
        let refuse = || DomainError::Unauthenticated("incorrect username or password".into());
        let attempt = self.passwords.begin(login.as_str(), client)?;
        let user = match self.account_model(login).await {
            Ok(user) if user.kind == AccountKind::User.as_str() => Some(user),
            Ok(_) | Err(DomainError::NotFound { .. }) => None,
            Err(e) => {
                // Our failure, not the client's: it doesn't count against them.
                self.passwords.give_back(attempt);
                return Err(e);
            }
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        match self.passwords.verify(stored, password).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse()),
            Err(e) => {
                self.passwords.give_back(attempt);
                return Err(e);
            }
        }
        self.passwords.give_back(attempt);
        user.ok_or_else(refuse)?.try_into()
    }

    /// The actor's role in an organization, if any.
    pub(crate) async fn org_role(
        &self,
        org_id: i64,
        user_id: i64,
    ) -> DomainResult<Option<OrgRole>> {
        membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(org_id))
            .filter(membership::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?
            .map(|m| parse_stored(&m.role))
            .transpose()
    }

    pub(crate) async fn org_model(&self, login: &OwnerName) -> DomainResult<account::Model> {
        let org = self.account_model(login).await?;
        if org.kind != AccountKind::Organization.as_str() {
            return Err(DomainError::not_found(
                What::Organization,
                format!("organization {login}"),
            ));
        }
        Ok(org)
    }

    /// Organization administration needs the `admin:org` scope and ownership (or site admin).
    pub(crate) async fn require_org_owner(
        &self,
        actor: &Actor,
        org: &account::Model,
    ) -> DomainResult<()> {
        let Some(user_id) = actor.user_id() else {
            return Err(DomainError::Unauthenticated(
                "authentication required".into(),
            ));
        };
        if !actor.has_scope(Scope::AdminOrg) {
            return Err(DomainError::forbidden(
                "the token lacks the admin:org scope",
            ));
        }
        token_may_touch(actor, org)?;
        if actor.site_admin() || self.org_role(org.id, user_id).await? == Some(OrgRole::Owner) {
            return Ok(());
        }
        Err(DomainError::forbidden(format!(
            "you must be an owner of {}",
            org.login
        )))
    }

    /// Creates an organization whose first owner is `owner` (the actor itself in GraphQL).
    pub async fn create_organization(
        &self,
        actor: &Actor,
        login: &OwnerName,
        owner: &OwnerName,
    ) -> DomainResult<AccountInfo> {
        let owner_model = self.account_model(owner).await?;
        match actor {
            Actor::User { id, site_admin, .. } if *site_admin || *id == owner_model.id => {}
            Actor::Anonymous => {
                return Err(DomainError::Unauthenticated(
                    "authentication required".into(),
                ));
            }
            _ => {
                return Err(DomainError::forbidden(
                    "you may only create organizations you own",
                ));
            }
        }
        if !actor.has_scope(Scope::AdminOrg) {
            return Err(DomainError::forbidden(
                "the token lacks the admin:org scope",
            ));
        }
        if owner_model.kind != AccountKind::User.as_str() {
            return Err(DomainError::invalid(format!("{owner} is not a user")));
        }
        let txn = self.db.begin().await?;
        let org = account::ActiveModel {
            login: Set(login.to_string()),
            kind: Set(AccountKind::Organization.as_str().into()),
            display_name: Set(None),
            email: Set(None),
            password_hash: Set(None),
            site_admin: Set(false),
            default_package_visibility: Set(Visibility::Private.as_str().into()),
            default_inherit_access: Set(true),
            members_can_create_packages: Set(true),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match DomainError::from(e) {
            DomainError::AlreadyExists { .. } => {
                DomainError::exists(What::Account, format!("the login {login} is taken"))
            }
            other => other,
        })?;
        membership::ActiveModel {
            organization_id: Set(org.id),
            user_id: Set(owner_model.id),
            role: Set(OrgRole::Owner.as_str().into()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            actor,
            "organization.create",
            "account",
            Some(org.id),
            serde_json::json!({"login": login.as_str()}),
        )
        .await?;
        txn.commit().await?;
        org.try_into()
    }

    /// Organization settings for new packages.
    pub async fn update_organization_settings(
        &self,
        actor: &Actor,
        org: &OwnerName,
        default_visibility: Option<Visibility>,
        default_inherit_access: Option<bool>,
        members_can_create_packages: Option<bool>,
    ) -> DomainResult<AccountInfo> {
        let org = self.org_model(org).await?;
        self.require_org_owner(actor, &org).await?;
        let mut active = org.into_active_model();
        if let Some(v) = default_visibility {
            active.default_package_visibility = Set(v.as_str().into());
        }
        if let Some(v) = default_inherit_access {
            active.default_inherit_access = Set(v);
        }
        if let Some(v) = members_can_create_packages {
            active.members_can_create_packages = Set(v);
        }
        let txn = self.db.begin().await?;
        let org = active.update(&txn).await?;
        audit::record(
            &txn,
            actor,
            "organization.update_settings",
            "account",
            Some(org.id),
            serde_json::json!({
                "default_package_visibility": org.default_package_visibility,
                "default_inherit_access": org.default_inherit_access,
                "members_can_create_packages": org.members_can_create_packages,
            }),
        )
        .await?;
        txn.commit().await?;
        org.try_into()
    }

    /// Adds a user to an organization, or changes their role.
    pub async fn set_organization_member(
        &self,
        actor: &Actor,
        org: &OwnerName,
        user: &OwnerName,
        role: OrgRole,
    ) -> DomainResult<MemberInfo> {
        let org = self.org_model(org).await?;
        self.require_org_owner(actor, &org).await?;
        let user = self.account_model(user).await?;
        if user.kind != AccountKind::User.as_str() {
            return Err(DomainError::invalid(format!(
                "{} is not a user",
                user.login
            )));
        }
        let txn = self.db.begin().await?;
        let owners = lock_org_owners(&txn, actor, &org).await?;
        let existing = membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(org.id))
            .filter(membership::Column::UserId.eq(user.id))
            .one(&txn)
            .await?;
        match existing {
            Some(m) => {
                if m.role == OrgRole::Owner.as_str() && role != OrgRole::Owner && owners.len() <= 1
                {
                    return Err(DomainError::invalid(
                        "an organization must keep at least one owner",
                    ));
                }
                let mut active = m.into_active_model();
                active.role = Set(role.as_str().into());
                active.update(&txn).await?;
            }
            None => {
                membership::ActiveModel {
                    organization_id: Set(org.id),
                    user_id: Set(user.id),
                    role: Set(role.as_str().into()),
                    created_at: Set(now()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
        }
        audit::record(
            &txn,
            actor,
            "organization.member.set",
            "account",
            Some(org.id),
            serde_json::json!({"user": user.login, "role": role.as_str()}),
        )
        .await?;
        txn.commit().await?;
        Ok(MemberInfo {
            user: user.try_into()?,
            role,
        })
    }

    /// Removes a user from an organization and its teams. The last owner can't leave.
    pub async fn remove_organization_member(
        &self,
        actor: &Actor,
        org: &OwnerName,
        user: &OwnerName,
    ) -> DomainResult<AccountInfo> {
        let org = self.org_model(org).await?;
        self.require_org_owner(actor, &org).await?;
        let user = self.account_model(user).await?;
        let txn = self.db.begin().await?;
        let owners = lock_org_owners(&txn, actor, &org).await?;
        if owners.len() == 1 && owners[0].user_id == user.id {
            return Err(DomainError::invalid(
                "an organization must keep at least one owner",
            ));
        }
        let removed = membership::Entity::delete_many()
            .filter(membership::Column::OrganizationId.eq(org.id))
            .filter(membership::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(DomainError::not_found(
                What::Member,
                format!("member {} of {}", user.login, org.login),
            ));
        }
        let teams: Vec<i64> = team::Entity::find()
            .filter(team::Column::OrganizationId.eq(org.id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        team_member::Entity::delete_many()
            .filter(team_member::Column::UserId.eq(user.id))
            .filter(team_member::Column::TeamId.is_in(teams))
            .exec(&txn)
            .await?;
        // Grants on the organization's packages are for members only (granting checks it,
        // and a member who publishes a package is granted admin on it): they go too.
        package_grant::Entity::delete_many()
            .filter(package_grant::Column::UserId.eq(user.id))
            .filter(
                package_grant::Column::PackageId.in_subquery(
                    package::Entity::find()
                        .select_only()
                        .column(package::Column::Id)
                        .filter(package::Column::OwnerId.eq(org.id))
                        .into_query(),
                ),
            )
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            actor,
            "organization.member.remove",
            "account",
            Some(org.id),
            serde_json::json!({"user": user.login}),
        )
        .await?;
        txn.commit().await?;
        org.try_into()
    }

    /// The organizations a user belongs to, by login (the web UI's home page).
    pub async fn user_organizations(&self, user_id: i64) -> DomainResult<Vec<AccountInfo>> {
        let rows = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?;
        let mut orgs = self
            .accounts_by_ids(&rows.iter().map(|m| m.organization_id).collect::<Vec<_>>())
            .await?;
        orgs.sort_by(|a, b| a.login.cmp(&b.login));
        Ok(orgs)
    }

    pub async fn organization_members(&self, org_id: i64) -> DomainResult<Vec<MemberInfo>> {
        let rows = membership::Entity::find()
            .filter(membership::Column::OrganizationId.eq(org_id))
            .order_by_asc(membership::Column::Id)
            .all(&self.db)
            .await?;
        let users = self
            .accounts_by_ids(&rows.iter().map(|m| m.user_id).collect::<Vec<_>>())
            .await?;
        rows.into_iter()
            .map(|m| {
                let user = users
                    .iter()
                    .find(|u| u.id == m.user_id)
                    .cloned()
                    .ok_or_else(|| DomainError::internal("member without account"))?;
                Ok(MemberInfo {
                    user,
                    role: parse_stored(&m.role)?,
                })
            })
            .collect()
    }

    pub async fn create_team(
        &self,
        actor: &Actor,
        org: &OwnerName,
        slug: &str,
        name: Option<String>,
    ) -> DomainResult<TeamInfo> {
        let org = self.org_model(org).await?;
        self.require_org_owner(actor, &org).await?;
        let slug = parse_slug(slug)?;
        let txn = self.db.begin().await?;
        let team = team::ActiveModel {
            organization_id: Set(org.id),
            name: Set(name.unwrap_or_else(|| slug.clone())),
            slug: Set(slug),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            actor,
            "team.create",
            "team",
            Some(team.id),
            serde_json::json!({"slug": team.slug, "name": team.name}),
        )
        .await?;
        txn.commit().await?;
        Ok(team.into())
    }

    pub(crate) async fn team_model(&self, org_id: i64, slug: &str) -> DomainResult<team::Model> {
        team::Entity::find()
            .filter(team::Column::OrganizationId.eq(org_id))
            .filter(team::Column::Slug.eq(slug.to_ascii_lowercase()))
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Team, format!("team {slug}")))
    }

    pub async fn find_team(&self, org: &OwnerName, slug: &str) -> DomainResult<TeamInfo> {
        let org = self.org_model(org).await?;
        Ok(self.team_model(org.id, slug).await?.into())
    }

    pub async fn teams_by_ids(&self, ids: &[i64]) -> DomainResult<Vec<TeamInfo>> {
        Ok(team::Entity::find()
            .filter(team::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn organization_teams(&self, org_id: i64) -> DomainResult<Vec<TeamInfo>> {
        Ok(team::Entity::find()
            .filter(team::Column::OrganizationId.eq(org_id))
            .order_by_asc(team::Column::Slug)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds an organization member to a team.
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        org: &OwnerName,
        slug: &str,
        user: &OwnerName,
    ) -> DomainResult<TeamInfo> {
        let org = self.org_model(org).await?;
        self.require_org_owner(actor, &org).await?;
        let team = self.team_model(org.id, slug).await?;
        let user = self.account_model(user).await?;
        if self.org_role(org.id, user.id).await?.is_none() {
            return Err(DomainError::invalid(format!(
                "{} is not a member of {}",
                user.login, org.login
            )));
        }
        let exists = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(team.id))
            .filter(team_member::Column::UserId.eq(user.id))
            .one(&self.db)
            .await?;
        if exists.is_none() {
            let txn = self.db.begin().await?;
            team_member::ActiveModel {
                team_id: Set(team.id),
                user_id: Set(user.id),
                created_at: Set(now()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            audit::record(
                &txn,
                actor,
                "team.member.add",
                "team",
                Some(team.id),
                serde_json::json!({"user": user.login}),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(team.into())
    }

    pub async fn team_members(&self, team_id: i64) -> DomainResult<Vec<AccountInfo>> {
        let ids: Vec<i64> = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(team_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        self.accounts_by_ids(&ids).await
    }

    /// Creates a repository under a user (themselves) or an organization (owners).
    pub async fn create_repository(
        &self,
        actor: &Actor,
        owner: &OwnerName,
        name: &str,
        visibility: Visibility,
        description: Option<String>,
    ) -> DomainResult<RepositoryInfo> {
        let owner = self.account_model(owner).await?;
        self.require_account_admin(actor, &owner).await?;
        let name = parse_repository_name(name)?;
        let repo = repository::ActiveModel {
            owner_id: Set(owner.id),
            name: Set(name.clone()),
            visibility: Set(visibility.as_str().into()),
            description: Set(description),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(|e| match DomainError::from(e) {
            DomainError::AlreadyExists { .. } => DomainError::exists(
                What::Repository,
                format!("repository {}/{name} already exists", owner.login),
            ),
            other => other,
        })?;
        audit::record(
            &self.db,
            actor,
            "repository.create",
            "repository",
            Some(repo.id),
            serde_json::json!({"name": name}),
        )
        .await?;
        repository_info(repo, owner.login)
    }

    /// Acting on an account's own things: the user themselves (scope `user`) or an owner of
    /// the organization (scope `admin:org`), or a site admin.
    pub(crate) async fn require_account_admin(
        &self,
        actor: &Actor,
        owner: &account::Model,
    ) -> DomainResult<()> {
        let Some(user_id) = actor.user_id() else {
            return Err(match actor {
                Actor::Anonymous => DomainError::Unauthenticated("authentication required".into()),
                _ => DomainError::forbidden("repository tokens can't manage accounts"),
            });
        };
        if owner.kind == AccountKind::Organization.as_str() {
            return self.require_org_owner(actor, owner).await;
        }
        if !actor.has_scope(Scope::User) {
            return Err(DomainError::forbidden("the token lacks the user scope"));
        }
        token_may_touch(actor, owner)?;
        if actor.site_admin() || owner.id == user_id {
            return Ok(());
        }
        Err(DomainError::forbidden(format!(
            "you may not manage {}",
            owner.login
        )))
    }

    pub async fn find_repository(
        &self,
        owner: &OwnerName,
        name: &str,
    ) -> DomainResult<RepositoryInfo> {
        let owner = self.account_model(owner).await?;
        let repo = repository::Entity::find()
            .filter(repository::Column::OwnerId.eq(owner.id))
            .filter(repository::Column::Name.eq(name))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                DomainError::not_found(
                    What::Repository,
                    format!("repository {}/{name}", owner.login),
                )
            })?;
        repository_info(repo, owner.login)
    }

    pub async fn repositories_by_ids(&self, ids: &[i64]) -> DomainResult<Vec<RepositoryInfo>> {
        let repos = repository::Entity::find()
            .filter(repository::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        let owners = self
            .accounts_by_ids(&repos.iter().map(|r| r.owner_id).collect::<Vec<_>>())
            .await?;
        repos
            .into_iter()
            .map(|r| {
                let login = owners
                    .iter()
                    .find(|o| o.id == r.owner_id)
                    .map(|o| o.login.clone())
                    .unwrap_or_default();
                repository_info(r, login)
            })
            .collect()
    }

    pub async fn repository_by_id(&self, id: i64) -> DomainResult<RepositoryInfo> {
        self.repositories_by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| DomainError::not_found(What::Repository, format!("repository #{id}")))
    }

    pub async fn account_repositories(&self, owner_id: i64) -> DomainResult<Vec<RepositoryInfo>> {
        let owner = self.account_by_id(owner_id).await?;
        repository::Entity::find()
            .filter(repository::Column::OwnerId.eq(owner_id))
            .order_by_asc(repository::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| repository_info(r, owner.login.clone()))
            .collect()
    }

    /// Sets (or with `role: None` removes) a user's or team's role on a repository.
    pub async fn set_repository_collaborator(
        &self,
        actor: &Actor,
        repository_id: i64,
        user: Option<&OwnerName>,
        team_slug: Option<&str>,
        role: Option<RepositoryRole>,
    ) -> DomainResult<RepositoryInfo> {
        let repo = repository::Entity::find_by_id(repository_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                DomainError::not_found(What::Repository, format!("repository #{repository_id}"))
            })?;
        let owner = account::Entity::find_by_id(repo.owner_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::internal("repository without owner"))?;
        self.require_account_admin(actor, &owner).await?;
        let (user_id, team_id) = match (user, team_slug) {
            (Some(login), None) => (Some(self.account_model(login).await?.id), None),
            (None, Some(slug)) => {
                if owner.kind != AccountKind::Organization.as_str() {
                    return Err(DomainError::invalid("teams exist only in organizations"));
                }
                (None, Some(self.team_model(owner.id, slug).await?.id))
            }
            _ => {
                return Err(DomainError::invalid(
                    "give exactly one of login or teamSlug",
                ));
            }
        };
        let txn = self.db.begin().await?;
        repository_collaborator::Entity::delete_many()
            .filter(repository_collaborator::Column::RepositoryId.eq(repo.id))
            .filter(match (user_id, team_id) {
                (Some(u), _) => repository_collaborator::Column::UserId.eq(u),
                (_, t) => repository_collaborator::Column::TeamId.eq(t),
            })
            .exec(&txn)
            .await?;
        if let Some(role) = role {
            repository_collaborator::ActiveModel {
                repository_id: Set(repo.id),
                user_id: Set(user_id),
                team_id: Set(team_id),
                role: Set(role.as_str().into()),
                created_at: Set(now()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
        audit::record(&txn, actor, "repository.collaborator.set", "repository", Some(repo.id), serde_json::json!({"user_id": user_id, "team_id": team_id, "role": role.map(|r| r.as_str())})).await?;
        txn.commit().await?;
        repository_info(repo, owner.login)
    }

    pub async fn repository_collaborators(
        &self,
        repository_id: i64,
    ) -> DomainResult<Vec<CollaboratorInfo>> {
        repository_collaborator::Entity::find()
            .filter(repository_collaborator::Column::RepositoryId.eq(repository_id))
            .order_by_asc(repository_collaborator::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| {
                Ok(CollaboratorInfo {
                    user_id: c.user_id,
                    team_id: c.team_id,
                    role: parse_stored(&c.role)?,
                })
            })
            .collect()
    }
}

/// A fine-grained token limited to one owner administers that owner only.
fn token_may_touch(actor: &Actor, account: &account::Model) -> DomainResult<()> {
    match actor.token().and_then(|t| t.owner_login.as_deref()) {
        Some(only) if !only.eq_ignore_ascii_case(&account.login) => Err(DomainError::forbidden(
            format!("the token is limited to {only}"),
        )),
        _ => Ok(()),
    }
}

/// The organization's owner memberships as of now, with the right to change them held
/// until `txn` ends, after checking that `actor` is still one of them (or a site admin).
/// A no-op write to the organization's row takes it: a row lock on PostgreSQL, the write
/// lock on SQLite. So two owners demoting or removing each other at once run one after the
/// other, and the second sees the first's outcome (it may no longer be an owner, or the
/// other may be the last one): the last-owner rule holds under concurrency.
async fn lock_org_owners(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    org: &account::Model,
) -> DomainResult<Vec<membership::Model>> {
    account::Entity::update_many()
        .col_expr(
            account::Column::Login,
            sea_orm::sea_query::Expr::col(account::Column::Login),
        )
        .filter(account::Column::Id.eq(org.id))
        .exec(txn)
        .await?;
    let owners = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org.id))
        .filter(membership::Column::Role.eq(OrgRole::Owner.as_str()))
        .all(txn)
        .await?;
    let is_owner = actor
        .user_id()
        .is_some_and(|id| owners.iter().any(|m| m.user_id == id));
    if !actor.site_admin() && !is_owner {
        return Err(DomainError::forbidden(format!(
            "you must be an owner of {}",
            org.login
        )));
    }
    Ok(owners)
}
