// The GitHub GraphQL story with the real @octokit/graphql: the queries the
// actions/delete-package-versions action sends (its GraphQL releases), run unchanged.
// Driven by tests/integration/octokit.rs: OCTOKIT_DIR, BASE_URL (http://HOST/api: octokit
// posts to BASE_URL/graphql), TOKEN, OWNER, REPO, PACKAGE, KEEP (how many of the newest
// versions survive). Prints one JSON line of what it saw.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.OCTOKIT_DIR, "node_modules", "x.js"));
const { graphql } = await import(require.resolve("@octokit/graphql"));

const gh = graphql.defaults({
  baseUrl: process.env.BASE_URL,
  headers: { authorization: `token ${process.env.TOKEN}` },
});
const { OWNER: owner, REPO: repo, PACKAGE: pkg } = process.env;
const keep = Number(process.env.KEEP);
const seen = {};

// The action's get-versions query: `last: N` of a newest-first list is the oldest N.
const getVersions = `
  query getVersions($owner: String!, $repo: String!, $package: String!, $last: Int!) {
    repository(owner: $owner, name: $repo) {
      packages(first: 1, names: [$package]) {
        edges {
          node {
            name
            versions(last: $last) {
              edges { node { id version } }
            }
          }
        }
      }
    }
  }`;
// Its delete mutation declares the id a String, where GitHub's schema says ID.
const deleteVersion = `
  mutation deletePackageVersion($packageVersionId: String!) {
      deletePackageVersion(input: {packageVersionId: $packageVersionId}) {
          success
      }
  }`;

const all = await gh(getVersions, { owner, repo, package: pkg, last: 100 });
const total = all.repository.packages.edges[0].node.versions.edges.length;
seen.before = total;
const oldest = await gh(getVersions, { owner, repo, package: pkg, last: total - keep });
const doomed = oldest.repository.packages.edges[0].node.versions.edges.map((e) => e.node);
seen.deleted = [];
for (const v of doomed) {
  const r = await gh(deleteVersion, { packageVersionId: v.id });
  if (r.deletePackageVersion.success) seen.deleted.push(v.version);
}

// GitHub's orderBy inputs, oldest first, and the owner's packages by type.
const left = await gh(
  `query($owner: String!, $repo: String!, $package: String!) {
     repository(owner: $owner, name: $repo) {
       packages(first: 1, names: [$package], orderBy: {field: CREATED_AT, direction: DESC}) {
         nodes {
           name
           statistics { downloadsTotalCount }
           versions(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) {
             totalCount nodes { version }
           }
         }
       }
     }
   }`,
  { owner, repo, package: pkg },
);
const node = left.repository.packages.nodes[0];
seen.remaining = node.versions.nodes.map((v) => v.version);
seen.downloads = node.statistics.downloadsTotalCount;

// A query over GitHub's limit is refused with GitHub's error, which octokit raises.
try {
  await gh(`{ viewer { packages(first: 101) { nodes { name } } } }`);
  seen.tooMany = "allowed";
} catch (e) {
  seen.tooMany = e.errors?.[0]?.message ?? String(e);
}

console.log(JSON.stringify(seen));
