//! GitHub's node limit ("Rate limits and node limits"), checked on the parsed document
//! before validation runs: `first`/`last` at most 100 on every connection, and at most
//! 500,000 requested nodes, counted as GitHub counts them: each connection asks for its
//! page size times the page sizes of the connections above it, summed over the query. A
//! connection without `first`/`last` counts as our default page (30). Refused with
//! GitHub's messages and codes (`EXCESSIVE_PAGINATION`, `MAX_NODE_LIMIT_EXCEEDED`).
//!
//! It walks the parsed document against the schema's registry; every other rule is left
//! to async-graphql's validation, which runs next.
//!
//! GitHub also accepts a `String` variable in an `ID` position (actions/delete-package-
//! versions declares `$packageVersionId: String!`); async-graphql 7.2's validation
//! accepts it too (its "variables in allowed position" rule doesn't refuse it), and
//! `github_graphql_accepts_string_variables_in_id_positions` keeps it so.
use std::{collections::HashMap, sync::Arc};

use async_graphql_value::{ConstValue, Value};

use async_graphql::{
    Name, Pos, Positioned, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
        SelectionSet,
    },
    registry::{MetaTypeName, Registry},
};

use crate::graphql::connection::{DEFAULT_PAGE, MAX_PAGE};

/// GitHub's ceiling on the nodes one query may ask for.
pub const MAX_NODES: u64 = 500_000;

/// Installs the admission rules on the schema.
pub struct GitHubAdmission;

impl ExtensionFactory for GitHubAdmission {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GitHubAdmission)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GitHubAdmission {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let registry = &ctx.schema_env.registry;
        let fragments = &doc.fragments;
        let operations: Vec<_> = match &doc.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(ops) => ops.values().collect(),
        };
        for op in operations {
            let walk = Walk {
                registry,
                fragments,
                variables,
                op: &op.node,
            };
            walk.check_nodes(walk.root_type())?;
        }
        Ok(doc)
    }
}

type Fragments = HashMap<Name, Positioned<async_graphql::parser::types::FragmentDefinition>>;

struct Walk<'a> {
    registry: &'a Registry,
    fragments: &'a Fragments,
    variables: &'a Variables,
    op: &'a OperationDefinition,
}

/// A field of the selection, with the type it is selected on.
struct Selected<'a> {
    field: &'a Positioned<async_graphql::parser::types::Field>,
    meta: &'a async_graphql::registry::MetaField,
}

impl<'a> Walk<'a> {
    fn root_type(&self) -> &'a str {
        match self.op.ty {
            OperationType::Query => &self.registry.query_type,
            OperationType::Mutation => self.registry.mutation_type.as_deref().unwrap_or(""),
            OperationType::Subscription => self.registry.subscription_type.as_deref().unwrap_or(""),
        }
    }

    /// The fields of a selection set on `type_name`, through fragments (each fragment
    /// once along a path, so a cycle — which validation refuses — can't loop here).
    fn fields(
        &self,
        type_name: &str,
        set: &'a SelectionSet,
        seen: &mut Vec<&'a str>,
        out: &mut Vec<Selected<'a>>,
    ) {
        let Some(meta_type) = self.registry.concrete_type_by_name(type_name) else {
            return;
        };
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if let Some(meta) = meta_type.field_by_name(&field.node.name.node) {
                        out.push(Selected { field, meta });
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    self.fields(on, &inline.node.selection_set.node, seen, out);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if seen.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(name) {
                        seen.push(name);
                        self.fields(
                            &fragment.node.type_condition.node.on.node,
                            &fragment.node.selection_set.node,
                            seen,
                            out,
                        );
                        seen.pop();
                    }
                }
            }
        }
    }

    fn children(&self, type_name: &str, set: &'a SelectionSet) -> Vec<Selected<'a>> {
        let mut out = Vec::new();
        self.fields(type_name, set, &mut Vec::new(), &mut out);
        out
    }

    /// An `Int` argument's value: a literal, or a variable's value (or default).
    fn int_argument(&self, field: &async_graphql::parser::types::Field, name: &str) -> Option<i64> {
        let value = &field.get_argument(name)?.node;
        let resolved = match value {
            Value::Variable(var) => self.variables.get(var).cloned().or_else(|| {
                self.op
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == *var)
                    .and_then(|d| d.node.default_value().cloned())
            })?,
            other => other.clone().into_const()?,
        };
        match resolved {
            ConstValue::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    fn check_nodes(&self, root: &str) -> ServerResult<()> {
        let mut total = 0;
        self.count_nodes(root, &self.op.selection_set.node, 1, &mut total)
    }

    /// Adds the nodes each connection under `set` asks for to `total`; `multiplier` is
    /// the product of the page sizes of the connections above.
    fn count_nodes(
        &self,
        type_name: &str,
        set: &'a SelectionSet,
        multiplier: u64,
        total: &mut u64,
    ) -> ServerResult<()> {
        for Selected { field, meta } in self.children(type_name, set) {
            let child_type = MetaTypeName::concrete_typename(&meta.ty);
            let mut below = multiplier;
            if is_connection(meta, child_type) {
                let name = field.node.name.node.as_str();
                let mut page = None;
                for arg in ["first", "last"] {
                    if let Some(n) = self.int_argument(&field.node, arg) {
                        if n > i64::from(MAX_PAGE) {
                            return Err(refusal(
                                format!(
                                    "Requesting {n} records on the `{name}` connection exceeds the `{arg}` limit of {MAX_PAGE} records."
                                ),
                                field.pos,
                                "EXCESSIVE_PAGINATION",
                            ));
                        }
                        page = page.or(Some(n.max(0) as u64));
                    }
                }
                below = multiplier.saturating_mul(page.unwrap_or(DEFAULT_PAGE));
                *total = total.saturating_add(below);
                if *total > MAX_NODES {
                    return Err(refusal(
                        format!(
                            "By the time this query traverses to the {name} connection, it is requesting up to {} possible nodes which exceeds the maximum limit of {}.",
                            thousands(*total),
                            thousands(MAX_NODES)
                        ),
                        field.pos,
                        "MAX_NODE_LIMIT_EXCEEDED",
                    ));
                }
            }
            self.count_nodes(child_type, &field.node.selection_set.node, below, total)?;
        }
        Ok(())
    }
}

/// A field returning one of our connections (`...Connection` with `first`/`last`).
fn is_connection(meta: &async_graphql::registry::MetaField, type_name: &str) -> bool {
    type_name.ends_with("Connection")
        && (meta.args.contains_key("first") || meta.args.contains_key("last"))
}

fn refusal(message: String, pos: Pos, code: &str) -> ServerError {
    let mut err = ServerError::new(message, Some(pos));
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    extensions.set("type", code);
    err.extensions = Some(extensions);
    err
}

/// `1010100` as GitHub prints it: `1,010,100`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn node_counts_print_with_thousands_separators() {
        assert_eq!(thousands(500_000), "500,000");
        assert_eq!(thousands(1_010_100), "1,010,100");
        assert_eq!(thousands(30), "30");
    }
}
