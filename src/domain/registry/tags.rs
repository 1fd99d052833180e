//! Listings: an image's tags and the registry's catalog, paged in SQL in byte order.

use entity::{package, package_tag};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};

use crate::{
    auth::Actor,
    domain::{Domain, PackageType, packages::PackageRef},
    error::DomainResult,
};

use super::TAGS_PAGE_MAX;

impl Domain {
    /// Tags of an image in lexical order, `n` after `last`; the bool says whether more follow.
    pub async fn list_image_tags(
        &self,
        actor: &Actor,
        image: &PackageRef,
        n: Option<u64>,
        last: Option<&str>,
    ) -> DomainResult<(Vec<String>, bool)> {
        let pkg = self.find_package(actor, image).await?;
        // Lexical means byte order (the spec's, and what clients compare `last` with),
        // whatever the database's collation; paged in SQL.
        let name = self.bytewise("package_tag.name");
        let mut query =
            package_tag::Entity::find().filter(package_tag::Column::PackageId.eq(pkg.id));
        if let Some(last) = last {
            query = query.filter(Expr::cust(name.clone()).gt(last));
        }
        let query = query.order_by(Expr::cust(name), Order::Asc);
        let n = n.map(|n| Ord::min(n, TAGS_PAGE_MAX));
        let query = match n {
            Some(n) => query.limit(n + 1),
            None => query,
        };
        let mut tags: Vec<String> = query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        Ok(match n {
            Some(n) if (tags.len() as u64) > n => {
                tags.truncate(n as usize);
                (tags, true)
            }
            _ => (tags, false),
        })
    }

    /// The catalog: container images the caller may read, in `owner/name` order, `n` after
    /// `last`, paged in SQL (keyset on owner login then name), whatever the registry's size.
    pub async fn catalog(
        &self,
        actor: &Actor,
        n: u64,
        last: Option<&str>,
    ) -> DomainResult<(Vec<String>, bool)> {
        // Lexical order of the whole `owner/name`, byte by byte, as the spec asks.
        let full = self.bytewise(
            "((SELECT login FROM account WHERE account.id = package.owner_id) || '/' || package.name)",
        );
        let mut cond = Condition::all()
            .add(self.readable_condition(actor))
            .add(package::Column::DeletedAt.is_null())
            .add(package::Column::Format.eq(PackageType::Container.as_str()));
        if let Some(last) = last {
            // Kept a custom expression: the lexical order of the whole `owner/name` is the
            // spec's (a keyset on (login, name) would put `a-b/x` after `a/x`).
            cond = cond.add(Expr::cust(full.clone()).gt(last));
        }
        let rows = package::Entity::find()
            .filter(cond)
            .order_by(Expr::cust(full), Order::Asc)
            .limit(n + 1)
            .all(&self.db)
            .await?;
        let owners = self.owners_of(&rows).await?;
        let more = rows.len() as u64 > n;
        let names = rows
            .into_iter()
            .take(n as usize)
            .filter_map(|p| Some(format!("{}/{}", owners.get(&p.owner_id)?.login, p.name)))
            .collect();
        Ok((names, more))
    }
}
