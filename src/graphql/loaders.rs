//! Per-request DataLoaders: a page of N packages loads its versions, tags, files, owners
//! and statistics in a constant number of queries.
use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};

use crate::{
    auth::Actor,
    domain::{
        Domain,
        types::Role,
        views::{AccountInfo, FileInfo, PackageInfo, RepositoryInfo, TagInfo, VersionInfo},
    },
    graphql::gql_error,
};

type LoadResult<V> = Result<HashMap<i64, V>, async_graphql::Error>;

macro_rules! loader {
    ($(#[$doc:meta])* $name:ident, $value:ty, |$domain:ident, $keys:ident| $body:expr) => {
        $(#[$doc])*
        pub struct $name(Arc<Domain>);

        impl Loader<i64> for $name {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, $keys: &[i64]) -> LoadResult<$value> {
                let $domain = &self.0;
                $body.map_err(gql_error)
            }
        }
    };
}

loader!(
    /// A package's latest live version.
    LatestVersionLoader, VersionInfo, |d, keys| d.latest_versions_of(keys).await
);
loader!(
    /// A package's tags.
    PackageTagsLoader, Vec<TagInfo>, |d, keys| d.tags_of_packages(keys).await
);
loader!(
    /// The tags pointing at a version.
    VersionTagsLoader, Vec<TagInfo>, |d, keys| d.tags_of_versions(keys).await
);
loader!(
    /// A version's files.
    FilesLoader, Vec<FileInfo>, |d, keys| d.files_of_versions(keys).await
);
loader!(
    /// Total downloads of a package.
    PackageDownloadsLoader, i64, |d, keys| d.package_download_totals(keys).await
);
loader!(
    /// Total downloads of a version.
    VersionDownloadsLoader, i64, |d, keys| d.version_download_totals(keys).await
);
loader!(
    /// Users and organizations by id.
    AccountLoader, AccountInfo, |d, keys| d
        .accounts_by_ids(keys)
        .await
        .map(|v| v.into_iter().map(|a| (a.id, a)).collect())
);
loader!(
    /// Packages by id (of versions the caller already read).
    PackageLoader, PackageInfo, |d, keys| d.packages_by_ids(keys).await
);
loader!(
    /// Repositories by id.
    RepositoryLoader, RepositoryInfo, |d, keys| d
        .repositories_by_ids(keys)
        .await
        .map(|v| v.into_iter().map(|r| (r.id, r)).collect())
);

/// The caller's effective role on packages (`viewerPermission`); unreadable ones are
/// left out.
pub struct ViewerRoleLoader(Arc<Domain>, Actor);

impl Loader<i64> for ViewerRoleLoader {
    type Value = Option<Role>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Option<Role>> {
        self.0.viewer_roles(&self.1, keys).await.map_err(gql_error)
    }
}

/// Repositories by id, those the caller may see (a package's link to a private
/// repository shows only to who can see it).
pub struct VisibleRepositoryLoader(Arc<Domain>, Actor);

impl Loader<i64> for VisibleRepositoryLoader {
    type Value = RepositoryInfo;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<RepositoryInfo> {
        let repos = self.0.repositories_by_ids(keys).await.map_err(gql_error)?;
        Ok(self
            .0
            .visible_repositories(&self.1, repos)
            .await
            .map_err(gql_error)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect())
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub visible_repositories: DataLoader<VisibleRepositoryLoader>,
    pub viewer_roles: DataLoader<ViewerRoleLoader>,
    pub latest_version: DataLoader<LatestVersionLoader>,
    pub package_tags: DataLoader<PackageTagsLoader>,
    pub version_tags: DataLoader<VersionTagsLoader>,
    pub files: DataLoader<FilesLoader>,
    pub package_downloads: DataLoader<PackageDownloadsLoader>,
    pub version_downloads: DataLoader<VersionDownloadsLoader>,
    pub accounts: DataLoader<AccountLoader>,
    pub repositories: DataLoader<RepositoryLoader>,
    pub packages: DataLoader<PackageLoader>,
}

impl Loaders {
    pub fn new(domain: Arc<Domain>, actor: Actor) -> Self {
        // How long a loader waits for more keys before it queries
        // (`PACKYARD_GRAPHQL_BATCH_WINDOW_MS`, 1 ms by default). A page's resolvers register
        // their keys in one poll of the page, so the batch is whole long before that on a
        // machine with time to spare; the wait is added to every page that uses a loader
        // (5 ms made a page with `latestVersion` take 6.8 ms where the names alone took 1 ms).
        let window = domain.config.graphql_batch_window;
        let d = || domain.clone();
        macro_rules! new {
            ($loader:expr) => {
                DataLoader::new($loader, tokio::spawn).delay(window)
            };
        }
        Self {
            visible_repositories: new!(VisibleRepositoryLoader(d(), actor.clone())),
            viewer_roles: new!(ViewerRoleLoader(d(), actor)),
            latest_version: new!(LatestVersionLoader(d())),
            package_tags: new!(PackageTagsLoader(d())),
            version_tags: new!(VersionTagsLoader(d())),
            files: new!(FilesLoader(d())),
            package_downloads: new!(PackageDownloadsLoader(d())),
            version_downloads: new!(VersionDownloadsLoader(d())),
            accounts: new!(AccountLoader(d())),
            repositories: new!(RepositoryLoader(d())),
            packages: new!(PackageLoader(d())),
        }
    }
}
