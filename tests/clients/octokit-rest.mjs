// The GitHub REST story with the real @octokit/rest, as scripts written for GitHub run it.
// Driven by tests/integration/octokit.rs: OCTOKIT_DIR (its node_modules), BASE_URL
// (http://HOST/api/v3), TOKEN, ORG (an organization with PACKAGES generic packages named
// pkg-1.., the first with two versions), USER (the token's user). Prints one JSON line of
// what it saw; any failure exits non-zero with the error.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.OCTOKIT_DIR, "node_modules", "x.js"));
const { Octokit } = await import(require.resolve("@octokit/rest"));

const org = process.env.ORG;
const octokit = new Octokit({ auth: process.env.TOKEN, baseUrl: process.env.BASE_URL });
const anonymous = new Octokit({ baseUrl: process.env.BASE_URL });
const seen = {};

const pkg = { org, package_type: "generic", package_name: "pkg-1" };

const first = await octokit.rest.packages.listPackagesForOrganization({
  org, package_type: "generic", per_page: 2,
});
seen.firstPage = first.data.map((p) => p.name);
seen.link = first.headers.link;

// octokit.paginate follows rel="next" until the last page.
const all = await octokit.paginate(octokit.rest.packages.listPackagesForOrganization, {
  org, package_type: "generic", per_page: 2,
});
seen.paginated = all.map((p) => p.name).sort();

const got = await octokit.rest.packages.getPackageForOrganization(pkg);
seen.package = { name: got.data.name, type: got.data.package_type, versions: got.data.version_count, owner: got.data.owner.login };

const versions = await octokit.rest.packages.getAllPackageVersionsForPackageOwnedByOrg(pkg);
seen.versions = versions.data.map((v) => v.name);
const [newest, oldest] = versions.data;

const one = await octokit.rest.packages.getPackageVersionForOrganization({ ...pkg, package_version_id: newest.id });
seen.version = { name: one.data.name, type: one.data.metadata.package_type };

await octokit.rest.packages.deletePackageVersionForOrg({ ...pkg, package_version_id: newest.id });
const deleted = await octokit.rest.packages.getAllPackageVersionsForPackageOwnedByOrg({ ...pkg, state: "deleted" });
seen.deletedVersions = deleted.data.map((v) => v.name);
try {
  await octokit.rest.packages.deletePackageVersionForOrg({ ...pkg, package_version_id: oldest.id });
  seen.lastVersionDelete = "allowed";
} catch (e) {
  seen.lastVersionDelete = { status: e.status, message: e.response?.data?.message };
}
await octokit.rest.packages.restorePackageVersionForOrg({ ...pkg, package_version_id: newest.id });
const restored = await octokit.rest.packages.getAllPackageVersionsForPackageOwnedByOrg(pkg);
seen.restoredVersions = restored.data.map((v) => v.name);

await octokit.rest.packages.deletePackageForOrg(pkg);
try {
  await octokit.rest.packages.getPackageForOrganization(pkg);
  seen.afterDelete = "found";
} catch (e) {
  seen.afterDelete = { status: e.status, message: e.response?.data?.message, docs: e.response?.data?.documentation_url };
}
await octokit.rest.packages.restorePackageForOrg(pkg);
seen.afterRestore = (await octokit.rest.packages.getPackageForOrganization(pkg)).data.version_count;

// The authenticated user's namespace and a user's, as the delete-package-versions
// action lists them.
const mine = await octokit.rest.packages.listPackagesForAuthenticatedUser({ package_type: "generic" });
seen.mine = mine.data.map((p) => p.name);
const theirs = await octokit.rest.packages.getAllPackageVersionsForPackageOwnedByUser({
  username: process.env.USER_LOGIN, package_type: "generic", package_name: "dotfiles", per_page: 1, page: 1,
});
seen.userVersions = theirs.data.map((v) => v.name);

seen.conflicts = (await octokit.rest.packages.listDockerMigrationConflictingPackagesForOrganization({ org })).data;

try {
  await anonymous.rest.packages.listPackagesForAuthenticatedUser({ package_type: "generic" });
  seen.anonymous = "allowed";
} catch (e) {
  seen.anonymous = { status: e.status, message: e.response?.data?.message };
}
try {
  await octokit.rest.packages.listPackagesForOrganization({ org, package_type: "pypi" });
  seen.badType = "allowed";
} catch (e) {
  seen.badType = { status: e.status };
}

console.log(JSON.stringify(seen));
