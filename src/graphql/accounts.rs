//! Users, organizations, teams and repositories.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        AccountKind, OwnerName,
        packages::PackageFilter,
        views::{AccountInfo, CollaboratorInfo, MemberInfo, RepositoryInfo, TeamInfo},
    },
    error::DomainError,
    graphql::{
        GqlResult,
        connection::CountedConnection,
        ctx, gql_error,
        ids::{self, Node},
        packages::{PackageObject, packages_connection},
        tokens::AccessTokenObject,
        types::{OrganizationRole, PackageOrder, PackageType, PackageVisibility, RepositoryRole},
        usage::UsageObject,
    },
};

fn owner_name(login: &str) -> async_graphql::Result<OwnerName> {
    OwnerName::parse(login).gql()
}

pub fn account_node(a: AccountInfo) -> Node {
    match a.kind {
        AccountKind::User => Node::User(UserObject(a)),
        AccountKind::Organization => Node::Organization(OrganizationObject(a)),
    }
}

/// The owner of packages and repositories.
#[derive(Union)]
pub enum PackageOwner {
    User(UserObject),
    Organization(OrganizationObject),
}

impl From<AccountInfo> for PackageOwner {
    fn from(a: AccountInfo) -> Self {
        match a.kind {
            AccountKind::User => Self::User(UserObject(a)),
            AccountKind::Organization => Self::Organization(OrganizationObject(a)),
        }
    }
}

/// Arguments shared by every `packages` field, as GitHub's `PackageOwner.packages`.
macro_rules! packages_field {
    ($self:ident, $ctx:ident, $filter:expr, $names:ident, $package_type:ident, $visibility:ident, $order_by:ident, $after:ident, $before:ident, $first:ident, $last:ident) => {{
        let mut filter: PackageFilter = $filter;
        filter.names = $names;
        filter.package_type = $package_type.map(Into::into);
        filter.visibility = $visibility.map(Into::into);
        packages_connection(
            $ctx,
            filter,
            $order_by.unwrap_or_default(),
            $after,
            $before,
            $first,
            $last,
        )
        .await
    }};
}

pub struct UserObject(pub AccountInfo);

#[Object(name = "User")]
impl UserObject {
    /// Webhooks delivering this user's package events (its admins only).
    async fn webhooks(
        &self,
        c: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<crate::graphql::webhooks::WebhookObject>> {
        crate::graphql::webhooks::webhooks_of(c, &self.0.login, None, after, before, first, last)
            .await
    }
    pub async fn id(&self) -> ID {
        ids::encode("User", self.0.id)
    }
    async fn login(&self) -> &str {
        &self.0.login
    }
    async fn name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    /// Shown to the user themselves and to site admins.
    async fn email(&self, c: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let c = ctx(c)?;
        Ok(
            if c.actor.user_id() == Some(self.0.id) || c.actor.site_admin() {
                self.0.email.as_deref()
            } else {
                None
            },
        )
    }
    async fn is_site_admin(&self) -> bool {
        self.0.site_admin
    }
    /// Storage and data transfer of private and internal packages, with quotas (the user
    /// and site admins; `null` for anyone else).
    async fn usage(&self, c: &Context<'_>) -> async_graphql::Result<Option<UsageObject>> {
        crate::graphql::usage::usage_of(c, &self.0).await
    }
    /// Retention policies of this owner (owner-wide and per-package), for its admins;
    /// `null` for anyone else.
    async fn retention_policies(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<crate::graphql::retention::RetentionPolicyObject>>> {
        crate::graphql::retention::policies_of_owner(c, &self.0).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The packages of this user the viewer may read.
    #[allow(clippy::too_many_arguments)]
    async fn packages(
        &self,
        c: &Context<'_>,
        names: Option<Vec<String>>,
        package_type: Option<PackageType>,
        #[graphql(desc = "Only packages linked to this repository")] repository_id: Option<ID>,
        visibility: Option<PackageVisibility>,
        order_by: Option<PackageOrder>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageObject>> {
        packages_field!(
            self,
            c,
            PackageFilter {
                owner_id: Some(self.0.id),
                repository_id: repository_id
                    .map(|id| ids::decode(&id, "Repository"))
                    .transpose()?,
                ..Default::default()
            },
            names,
            package_type,
            visibility,
            order_by,
            after,
            before,
            first,
            last
        )
    }
    /// The repositories the viewer may see.
    async fn repositories(&self, c: &Context<'_>) -> async_graphql::Result<Vec<RepositoryObject>> {
        visible_repositories(c, self.0.id).await
    }
    /// The organizations the user belongs to (shown to the user themselves and to site
    /// admins; empty for anyone else).
    async fn organizations(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Vec<OrganizationObject>> {
        let c = ctx(c)?;
        if c.actor.user_id() != Some(self.0.id) && !c.actor.site_admin() {
            return Ok(Vec::new());
        }
        Ok(c.domain
            .user_organizations(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(OrganizationObject)
            .collect())
    }
    /// The viewer's own access tokens (empty for anyone else).
    async fn access_tokens(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Vec<AccessTokenObject>> {
        let c = ctx(c)?;
        if c.actor.user_id() != Some(self.0.id) {
            return Ok(Vec::new());
        }
        Ok(c.domain
            .list_access_tokens(c.actor)
            .await
            .gql()?
            .into_iter()
            .map(AccessTokenObject)
            .collect())
    }
}

pub struct OrganizationObject(pub AccountInfo);

#[Object(name = "Organization")]
impl OrganizationObject {
    /// Changes to the organization and everything it owns (teams, members, packages,
    /// repositories, webhooks), newest first (its owners and site admins).
    #[allow(clippy::too_many_arguments)]
    async fn audit_log(
        &self,
        c: &Context<'_>,
        #[graphql(desc = "Only this action (`package.delete`).")] action: Option<String>,
        #[graphql(desc = "Only changes by the user with this login.")] actor: Option<String>,
        #[graphql(desc = "Only changes at or after this time.")] since: Option<DateTime<Utc>>,
        #[graphql(desc = "Only changes before this time.")] until: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<Option<CountedConnection<crate::graphql::audit::AuditEntryObject>>>
    {
        let args = crate::graphql::audit::AuditArgs {
            action,
            actor,
            since,
            until,
        };
        crate::graphql::audit::organization_audit_log(
            c,
            &self.0.login,
            args,
            after,
            before,
            first,
            last,
        )
        .await
        .map(Some)
    }
    /// Webhooks delivering this organization's package events (its admins only).
    async fn webhooks(
        &self,
        c: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<crate::graphql::webhooks::WebhookObject>> {
        crate::graphql::webhooks::webhooks_of(c, &self.0.login, None, after, before, first, last)
            .await
    }
    pub async fn id(&self) -> ID {
        ids::encode("Organization", self.0.id)
    }
    async fn login(&self) -> &str {
        &self.0.login
    }
    async fn name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Visibility given to new packages.
    async fn default_package_visibility(&self) -> PackageVisibility {
        self.0.default_package_visibility.into()
    }
    /// Whether new packages linked to a repository inherit its access.
    async fn default_inherit_access(&self) -> bool {
        self.0.default_inherit_access
    }
    /// Whether members (not only owners) may create packages.
    async fn members_can_create_packages(&self) -> bool {
        self.0.members_can_create_packages
    }
    /// Storage and data transfer of private and internal packages, with quotas (the
    /// organization's owners and site admins; `null` for anyone else).
    async fn usage(&self, c: &Context<'_>) -> async_graphql::Result<Option<UsageObject>> {
        crate::graphql::usage::usage_of(c, &self.0).await
    }
    /// Retention policies of this owner (owner-wide and per-package), for its admins;
    /// `null` for anyone else.
    async fn retention_policies(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<crate::graphql::retention::RetentionPolicyObject>>> {
        crate::graphql::retention::policies_of_owner(c, &self.0).await
    }
    /// Members and their roles (visible to the organization's members).
    async fn members(&self, c: &Context<'_>) -> async_graphql::Result<Vec<OrganizationMember>> {
        members_only(c, self.0.id).await?;
        Ok(ctx(c)?
            .domain
            .organization_members(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(|MemberInfo { user, role }| OrganizationMember {
                user: UserObject(user),
                role: role.into(),
            })
            .collect())
    }
    /// Teams (visible to the organization's members).
    async fn teams(&self, c: &Context<'_>) -> async_graphql::Result<Vec<TeamObject>> {
        members_only(c, self.0.id).await?;
        Ok(ctx(c)?
            .domain
            .organization_teams(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(TeamObject)
            .collect())
    }
    /// The repositories the viewer may see.
    async fn repositories(&self, c: &Context<'_>) -> async_graphql::Result<Vec<RepositoryObject>> {
        visible_repositories(c, self.0.id).await
    }
    /// The packages of this organization the viewer may read.
    #[allow(clippy::too_many_arguments)]
    async fn packages(
        &self,
        c: &Context<'_>,
        names: Option<Vec<String>>,
        package_type: Option<PackageType>,
        #[graphql(desc = "Only packages linked to this repository")] repository_id: Option<ID>,
        visibility: Option<PackageVisibility>,
        order_by: Option<PackageOrder>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageObject>> {
        packages_field!(
            self,
            c,
            PackageFilter {
                owner_id: Some(self.0.id),
                repository_id: repository_id
                    .map(|id| ids::decode(&id, "Repository"))
                    .transpose()?,
                ..Default::default()
            },
            names,
            package_type,
            visibility,
            order_by,
            after,
            before,
            first,
            last
        )
    }
}

#[derive(SimpleObject)]
pub struct OrganizationMember {
    pub user: UserObject,
    pub role: OrganizationRole,
}

pub struct TeamObject(pub TeamInfo);

#[Object(name = "Team")]
impl TeamObject {
    pub async fn id(&self) -> ID {
        ids::encode("Team", self.0.id)
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn members(&self, c: &Context<'_>) -> async_graphql::Result<Vec<UserObject>> {
        members_only(c, self.0.organization_id).await?;
        Ok(ctx(c)?
            .domain
            .team_members(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(UserObject)
            .collect())
    }
}

pub struct RepositoryObject(pub RepositoryInfo);

#[Object(name = "Repository")]
impl RepositoryObject {
    /// Webhooks delivering this repository's package events (its admins only).
    async fn webhooks(
        &self,
        c: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<crate::graphql::webhooks::WebhookObject>> {
        crate::graphql::webhooks::webhooks_of(
            c,
            &self.0.owner_login,
            Some(&self.0.name),
            after,
            before,
            first,
            last,
        )
        .await
    }
    pub async fn id(&self) -> ID {
        ids::encode("Repository", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `owner/name`.
    async fn name_with_owner(&self) -> String {
        format!("{}/{}", self.0.owner_login, self.0.name)
    }
    async fn owner(&self, c: &Context<'_>) -> async_graphql::Result<PackageOwner> {
        let account = ctx(c)?.loaders.accounts.load_one(self.0.owner_id).await?;
        Ok(account
            .ok_or_else(|| gql_error(DomainError::internal("repository without owner")))?
            .into())
    }
    async fn visibility(&self) -> PackageVisibility {
        self.0.visibility.into()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Collaborators and their roles (visible to the repository's owners and collaborators).
    async fn collaborators(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Vec<RepositoryCollaborator>> {
        let cx = ctx(c)?;
        let as_private = RepositoryInfo {
            visibility: crate::domain::Visibility::Private,
            ..self.0.clone()
        };
        if !cx
            .domain
            .can_see_repository(cx.actor, &as_private)
            .await
            .gql()?
        {
            return Err(gql_error(DomainError::forbidden(
                "collaborators are visible to the repository's owners and collaborators",
            )));
        }
        Ok(ctx(c)?
            .domain
            .repository_collaborators(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(RepositoryCollaborator)
            .collect())
    }
    /// Packages linked to this repository that the viewer may read.
    #[allow(clippy::too_many_arguments)]
    async fn packages(
        &self,
        c: &Context<'_>,
        names: Option<Vec<String>>,
        package_type: Option<PackageType>,
        visibility: Option<PackageVisibility>,
        order_by: Option<PackageOrder>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageObject>> {
        packages_field!(
            self,
            c,
            PackageFilter {
                repository_id: Some(self.0.id),
                ..Default::default()
            },
            names,
            package_type,
            visibility,
            order_by,
            after,
            before,
            first,
            last
        )
    }
}

pub struct RepositoryCollaborator(CollaboratorInfo);

#[Object]
impl RepositoryCollaborator {
    async fn user(&self, c: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        match self.0.user_id {
            Some(id) => Ok(ctx(c)?.loaders.accounts.load_one(id).await?.map(UserObject)),
            None => Ok(None),
        }
    }
    async fn team(&self, c: &Context<'_>) -> async_graphql::Result<Option<TeamObject>> {
        match self.0.team_id {
            Some(id) => Ok(ctx(c)?
                .domain
                .teams_by_ids(&[id])
                .await
                .gql()?
                .pop()
                .map(TeamObject)),
            None => Ok(None),
        }
    }
    async fn role(&self) -> RepositoryRole {
        self.0.role.into()
    }
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The authenticated user.
    async fn viewer(&self, c: &Context<'_>) -> async_graphql::Result<UserObject> {
        let c = ctx(c)?;
        let id = c.actor.user_id().ok_or_else(|| {
            gql_error(DomainError::Unauthenticated(
                "authentication required".into(),
            ))
        })?;
        Ok(UserObject(c.domain.account_by_id(id).await.gql()?))
    }
    async fn user(
        &self,
        c: &Context<'_>,
        login: String,
    ) -> async_graphql::Result<Option<UserObject>> {
        let account = ctx(c)?.domain.find_account(&owner_name(&login)?).await;
        Ok(match account {
            Ok(a) if a.kind == AccountKind::User => Some(UserObject(a)),
            Ok(_) | Err(DomainError::NotFound { .. }) => None,
            Err(e) => return Err(gql_error(e)),
        })
    }
    async fn organization(
        &self,
        c: &Context<'_>,
        login: String,
    ) -> async_graphql::Result<Option<OrganizationObject>> {
        let account = ctx(c)?.domain.find_account(&owner_name(&login)?).await;
        Ok(match account {
            Ok(a) if a.kind == AccountKind::Organization => Some(OrganizationObject(a)),
            Ok(_) | Err(DomainError::NotFound { .. }) => None,
            Err(e) => return Err(gql_error(e)),
        })
    }
    async fn repository(
        &self,
        c: &Context<'_>,
        owner: String,
        name: String,
    ) -> async_graphql::Result<Option<RepositoryObject>> {
        let cx = ctx(c)?;
        match cx.domain.find_repository(&owner_name(&owner)?, &name).await {
            Ok(r) if cx.domain.can_see_repository(cx.actor, &r).await.gql()? => {
                Ok(Some(RepositoryObject(r)))
            }
            Ok(_) => Ok(None),
            Err(DomainError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql_error(e)),
        }
    }
}

#[derive(InputObject)]
pub struct CreateOrganizationInput {
    pub login: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateOrganizationPayload {
    pub client_mutation_id: Option<String>,
    pub organization: OrganizationObject,
}

#[derive(InputObject)]
pub struct AddOrganizationMemberInput {
    pub organization_login: String,
    pub login: String,
    #[graphql(default_with = "OrganizationRole::Member")]
    pub role: OrganizationRole,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AddOrganizationMemberPayload {
    pub client_mutation_id: Option<String>,
    pub organization: OrganizationObject,
    pub member: OrganizationMember,
}

#[derive(InputObject)]
pub struct RemoveOrganizationMemberInput {
    pub organization_login: String,
    pub login: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct RemoveOrganizationMemberPayload {
    pub client_mutation_id: Option<String>,
    pub organization: OrganizationObject,
}

#[derive(InputObject)]
pub struct UpdateOrganizationPackageSettingsInput {
    pub organization_login: String,
    pub default_package_visibility: Option<PackageVisibility>,
    pub default_inherit_access: Option<bool>,
    pub members_can_create_packages: Option<bool>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateOrganizationPackageSettingsPayload {
    pub client_mutation_id: Option<String>,
    pub organization: OrganizationObject,
}

#[derive(InputObject)]
pub struct CreateTeamInput {
    pub organization_login: String,
    pub slug: String,
    pub name: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateTeamPayload {
    pub client_mutation_id: Option<String>,
    pub team: TeamObject,
}

#[derive(InputObject)]
pub struct AddTeamMemberInput {
    pub organization_login: String,
    pub team_slug: String,
    pub login: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AddTeamMemberPayload {
    pub client_mutation_id: Option<String>,
    pub team: TeamObject,
}

#[derive(InputObject)]
pub struct CreateRepositoryInput {
    pub owner_login: String,
    pub name: String,
    #[graphql(default_with = "PackageVisibility::Private")]
    pub visibility: PackageVisibility,
    pub description: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateRepositoryPayload {
    pub client_mutation_id: Option<String>,
    pub repository: RepositoryObject,
}

#[derive(InputObject)]
pub struct SetRepositoryCollaboratorInput {
    pub repository_id: ID,
    /// A user, or
    pub login: Option<String>,
    /// a team of the owning organization.
    pub team_slug: Option<String>,
    /// The role; null removes the collaborator.
    pub role: Option<RepositoryRole>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct SetRepositoryCollaboratorPayload {
    pub client_mutation_id: Option<String>,
    pub repository: RepositoryObject,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an organization owned by the viewer.
    async fn create_organization(
        &self,
        c: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<CreateOrganizationPayload> {
        let c = ctx(c)?;
        let viewer = c.actor.user_id().ok_or_else(|| {
            gql_error(DomainError::Unauthenticated(
                "authentication required".into(),
            ))
        })?;
        let owner = c.domain.account_by_id(viewer).await.gql()?;
        let org = c
            .domain
            .create_organization(
                c.actor,
                &owner_name(&input.login)?,
                &owner_name(&owner.login)?,
            )
            .await
            .gql()?;
        Ok(CreateOrganizationPayload {
            client_mutation_id: input.client_mutation_id,
            organization: OrganizationObject(org),
        })
    }

    /// Adds a user to an organization (or changes their role).
    async fn add_organization_member(
        &self,
        c: &Context<'_>,
        input: AddOrganizationMemberInput,
    ) -> async_graphql::Result<AddOrganizationMemberPayload> {
        let c = ctx(c)?;
        let org_login = owner_name(&input.organization_login)?;
        let member = c
            .domain
            .set_organization_member(
                c.actor,
                &org_login,
                &owner_name(&input.login)?,
                input.role.into(),
            )
            .await
            .gql()?;
        let org = c.domain.find_account(&org_login).await.gql()?;
        Ok(AddOrganizationMemberPayload {
            client_mutation_id: input.client_mutation_id,
            organization: OrganizationObject(org),
            member: OrganizationMember {
                user: UserObject(member.user),
                role: member.role.into(),
            },
        })
    }

    async fn remove_organization_member(
        &self,
        c: &Context<'_>,
        input: RemoveOrganizationMemberInput,
    ) -> async_graphql::Result<RemoveOrganizationMemberPayload> {
        let c = ctx(c)?;
        let org = c
            .domain
            .remove_organization_member(
                c.actor,
                &owner_name(&input.organization_login)?,
                &owner_name(&input.login)?,
            )
            .await
            .gql()?;
        Ok(RemoveOrganizationMemberPayload {
            client_mutation_id: input.client_mutation_id,
            organization: OrganizationObject(org),
        })
    }

    /// Defaults for new packages of an organization, and who may create them.
    async fn update_organization_package_settings(
        &self,
        c: &Context<'_>,
        input: UpdateOrganizationPackageSettingsInput,
    ) -> async_graphql::Result<UpdateOrganizationPackageSettingsPayload> {
        let c = ctx(c)?;
        let org = c
            .domain
            .update_organization_settings(
                c.actor,
                &owner_name(&input.organization_login)?,
                input.default_package_visibility.map(Into::into),
                input.default_inherit_access,
                input.members_can_create_packages,
            )
            .await
            .gql()?;
        Ok(UpdateOrganizationPackageSettingsPayload {
            client_mutation_id: input.client_mutation_id,
            organization: OrganizationObject(org),
        })
    }

    async fn create_team(
        &self,
        c: &Context<'_>,
        input: CreateTeamInput,
    ) -> async_graphql::Result<CreateTeamPayload> {
        let c = ctx(c)?;
        let team = c
            .domain
            .create_team(
                c.actor,
                &owner_name(&input.organization_login)?,
                &input.slug,
                input.name,
            )
            .await
            .gql()?;
        Ok(CreateTeamPayload {
            client_mutation_id: input.client_mutation_id,
            team: TeamObject(team),
        })
    }

    async fn add_team_member(
        &self,
        c: &Context<'_>,
        input: AddTeamMemberInput,
    ) -> async_graphql::Result<AddTeamMemberPayload> {
        let c = ctx(c)?;
        let team = c
            .domain
            .add_team_member(
                c.actor,
                &owner_name(&input.organization_login)?,
                &input.team_slug,
                &owner_name(&input.login)?,
            )
            .await
            .gql()?;
        Ok(AddTeamMemberPayload {
            client_mutation_id: input.client_mutation_id,
            team: TeamObject(team),
        })
    }

    async fn create_repository(
        &self,
        c: &Context<'_>,
        input: CreateRepositoryInput,
    ) -> async_graphql::Result<CreateRepositoryPayload> {
        let c = ctx(c)?;
        let repo = c
            .domain
            .create_repository(
                c.actor,
                &owner_name(&input.owner_login)?,
                &input.name,
                input.visibility.into(),
                input.description,
            )
            .await
            .gql()?;
        Ok(CreateRepositoryPayload {
            client_mutation_id: input.client_mutation_id,
            repository: RepositoryObject(repo),
        })
    }

    async fn set_repository_collaborator(
        &self,
        c: &Context<'_>,
        input: SetRepositoryCollaboratorInput,
    ) -> async_graphql::Result<SetRepositoryCollaboratorPayload> {
        let c = ctx(c)?;
        let repository_id = ids::decode(&input.repository_id, "Repository")?;
        let login = input.login.as_deref().map(owner_name).transpose()?;
        let repo = c
            .domain
            .set_repository_collaborator(
                c.actor,
                repository_id,
                login.as_ref(),
                input.team_slug.as_deref(),
                input.role.map(Into::into),
            )
            .await
            .gql()?;
        Ok(SetRepositoryCollaboratorPayload {
            client_mutation_id: input.client_mutation_id,
            repository: RepositoryObject(repo),
        })
    }
}

/// An account's repositories the viewer may see.
async fn visible_repositories(
    c: &Context<'_>,
    account_id: i64,
) -> async_graphql::Result<Vec<RepositoryObject>> {
    let cx = ctx(c)?;
    let repos = cx.domain.account_repositories(account_id).await.gql()?;
    Ok(cx
        .domain
        .visible_repositories(cx.actor, repos)
        .await
        .gql()?
        .into_iter()
        .map(RepositoryObject)
        .collect())
}

/// Who belongs to an organization is for its members to see.
async fn members_only(c: &Context<'_>, org_id: i64) -> async_graphql::Result<()> {
    let cx = ctx(c)?;
    if cx.domain.can_see_members(cx.actor, org_id).await.gql()? {
        Ok(())
    } else {
        Err(gql_error(DomainError::forbidden(
            "an organization's members and teams are visible to its members",
        )))
    }
}
