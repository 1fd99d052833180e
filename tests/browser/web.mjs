// The web UI in a real browser: Debian's Chromium driven by playwright-core, with axe-core
// checking accessibility. Run by tests/integration/web.rs, which starts the server and
// publishes the packages first; every input comes from the environment:
//   PACKYARD_URL, WEB_LOGIN, WEB_PASSWORD, WEB_ORG, WEB_NPM (package name within the org),
//   WEB_IMAGE (image name within the org), WEB_TEAM, SCREENSHOT_DIR, BROWSER_MODULES
//   (the node_modules holding playwright-core and axe-core), CHROMIUM (the executable).
// Prints one JSON line per finding it hands back ({"token": ...}) and "web story: ok" at
// the end; any failed check throws, and the process exits non-zero.
import { createRequire } from "node:module";
import path from "node:path";
import fs from "node:fs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env("PACKYARD_URL");
const modules = env("BROWSER_MODULES");
const shots = env("SCREENSHOT_DIR");
const org = env("WEB_ORG");
const npmName = env("WEB_NPM");
const image = env("WEB_IMAGE");
const team = env("WEB_TEAM");
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");
const axePath = path.join(modules, "axe-core", "axe.min.js");
fs.mkdirSync(shots, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", async (d) => { failures.push(`a dialog opened: ${d.message()}`); await d.dismiss(); });
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  // Anything requested from outside the server is a failure: the UI must work air-gapped.
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) failures.push(`external request: ${r.url()}`);
  });
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  // Axe runs in a second context that bypasses the CSP (axe is injected as an inline
  // script) and shares the first one's cookies.
  async function axe(url, name) {
    const axeContext = await browser.newContext({ bypassCSP: true, storageState: await context.storageState() });
    const p = await axeContext.newPage();
    await p.goto(base + url);
    await p.addScriptTag({ path: axePath });
    // A README is the publisher's content (a hostile one on purpose here): axe judges the
    // UI around it.
    const result = await p.evaluate(async () => await window.axe.run({ exclude: [[".readme"]] }, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    for (const v of bad) failures.push(`axe on ${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    // With the CSP bypassed, only the sanitizer stands between a README and the origin.
    const pwned = await p.evaluate(() => window.__pwned);
    check(pwned === undefined, `${name}: a README script ran with the CSP bypassed`);
    await axeContext.close();
  }

  // Read pages work with JavaScript off (anonymous: the public-by-default parts).
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noScript.newPage();
  await plain.goto(base + "/");
  check((await plain.textContent("h1")).includes("Explore packages"), "explore renders without JavaScript");
  check(await plain.locator("a:has-text('Sign in')").count() === 1, "sign-in link without JavaScript");
  await noScript.close();

  // Sign in.
  await page.goto(base + "/-/signin");
  await shot("signin");
  await axe("/-/signin", "sign-in");
  await page.fill("#login", env("WEB_LOGIN"));
  await page.fill("#password", env("WEB_PASSWORD"));
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  check((await page.textContent("h1")).includes(`Welcome, ${env("WEB_LOGIN")}`), "signed in and welcomed");
  check(await page.locator(`main a[href="/-/owner/${org}"]`).count() === 1, "the home page lists the organization");
  await shot("home");
  await axe("/", "home");

  // Find the npm package by search.
  await page.fill("#site-search", npmName);
  await Promise.all([page.waitForNavigation(), page.press("#site-search", "Enter")]);
  await Promise.all([page.waitForNavigation(), page.click(`a:has-text("${org}/${npmName}")`)]);
  const npmUrl = new URL(page.url()).pathname;
  check(npmUrl === `/-/package/${org}/npm/${npmName}`, `npm package page URL ${npmUrl}`);
  // README rendered, hostile parts inert.
  check(await page.locator(".readme h1").count() === 1, "README heading rendered");
  check(await page.locator(".readme script").count() === 0, "no script element in the README");
  check(await page.locator(".readme [onerror], .readme [onclick], .readme [style]").count() === 0, "no event handler or style attributes");
  check(await page.locator('.readme a[href^="javascript:" i]').count() === 0, "no javascript: link");
  check(await page.evaluate(() => window.__pwned) === undefined, "no README script ran");
  const install = await page.textContent("#install-1");
  check(install.includes(`npm install @${org}/${npmName}@`), `npm install command: ${install}`);
  check((await page.textContent("#install-0")).includes(`@${org}:registry=${base}/npm/`), ".npmrc line");
  check(await page.locator("svg.chart").count() === 1, "downloads chart");
  check(await page.locator("table.versions tbody tr").count() >= 2, "versions listed");
  await shot("package-npm");
  await axe(npmUrl, "npm package");

  // Find the container image by type filter.
  await page.goto(base + `/?type=container&owner=${org}`);
  await Promise.all([page.waitForNavigation(), page.click(`a:has-text("${org}/${image}")`)]);
  const dockerLine = await page.textContent("#install-0");
  check(dockerLine.includes(`docker pull ${new URL(base).host}/${org}/${image}`), `docker pull line: ${dockerLine}`);
  check(await page.locator("h3:has-text('layers'), h3:has-text('Platforms')").count() === 1, "image layers or platforms shown");
  await shot("package-container");
  await axe(new URL(page.url()).pathname, "container package");

  // Settings: visibility to public.
  await page.goto(base + npmUrl);
  await Promise.all([page.waitForNavigation(), page.click("a:has-text('Package settings')")]);
  const settingsUrl = new URL(page.url()).pathname;
  await shot("settings");
  await axe(settingsUrl, "package settings");
  await page.selectOption("#visibility", "PUBLIC");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Change visibility')")]);
  check((await page.textContent("h1")).includes("public"), "package is public now");
  check(await page.locator("text=Public packages can't be made private again").count() === 1, "public-is-permanent notice");

  // Grant a team write access.
  await page.selectOption("#grant-kind", "team");
  await page.fill("#grant-who", team);
  await page.selectOption("#grant-role", "WRITE");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Grant access')")]);
  const grantees = await page.locator("table.grants tbody tr td:first-child").allTextContents();
  check(grantees.includes(`team ${team}`), `team grant listed: ${grantees}`);

  // Delete and restore a version.
  await Promise.all([page.waitForNavigation(), page.click("button[aria-label='Delete version 1.0.0']")]);
  check(await page.locator("table.deleted-versions td:has-text('1.0.0')").count() === 1, "1.0.0 among deleted versions");
  await shot("settings-deleted-version");
  await Promise.all([page.waitForNavigation(), page.click("button[aria-label='Restore version 1.0.0']")]);
  check(await page.locator("table.deleted-versions").count() === 0, "no deleted versions left");
  check(await page.locator("table.versions td:has-text('1.0.0')").count() === 1, "1.0.0 is back");

  // Create a token (shown once) and revoke it.
  await page.goto(base + "/-/account");
  await axe("/-/account", "account");
  await page.fill("#token-name", "browser-token");
  await page.check("input[name=scopes][value='write:packages']");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Create token')")]);
  const token = (await page.textContent("#new-token")).trim();
  check(token.startsWith("pky_"), "the new token is shown");
  console.log(JSON.stringify({ token }));
  await shot("account-new-token");
  await page.goto(base + "/-/account");
  check(!(await page.content()).includes(token), "the token is shown only once");
  await Promise.all([page.waitForNavigation(), page.click("button[aria-label='Revoke token browser-token']")]);
  check(await page.locator("table.tokens tr:has-text('browser-token') .badge:has-text('revoked')").count() === 1, "token revoked");

  // Webhooks: create one through the form and see it listed; the audit log has the entry.
  await page.goto(base + `/-/owner/${org}`);
  await Promise.all([page.waitForNavigation(), page.click("nav a:has-text('Webhooks')")]);
  await page.fill("#hook-url", "http://127.0.0.1:9/browser-hook");
  await page.fill("#hook-secret", "browser-secret");
  await page.check("input[name=events][value=PUBLISHED]");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Add webhook')")]);
  check(await page.locator("table.deliveries td:has-text('ping')").count() === 1, "the new hook's ping delivery is listed");
  const hookUrl = new URL(page.url()).pathname;
  await axe(hookUrl, "webhook");
  await page.goto(base + `/-/owner/${org}/webhooks`);
  check(await page.locator("table.webhooks a:has-text('http://127.0.0.1:9/browser-hook')").count() === 1, "the hook is listed");
  await shot("webhooks");
  await axe(`/-/owner/${org}/webhooks`, "webhooks");
  await page.goto(base + `/-/owner/${org}`);
  await Promise.all([page.waitForNavigation(), page.click("nav a:has-text('Audit log')")]);
  check(await page.locator("table.audit code:has-text('webhook.create')").count() === 1, "the audit log lists the hook's creation");
  await page.fill("#f-action", "webhook.create");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Filter')")]);
  const rows = await page.locator("table.audit tbody tr").count();
  check(rows === 1, `filtered to the one webhook.create entry: ${rows} rows`);
  await shot("audit");
  await axe(`/-/owner/${org}/audit`, "audit log");

  // The organization page and sign-out.
  await page.goto(base + `/-/owner/${org}`);
  check(await page.locator(`text=${team}`).count() >= 1, "the team is on the organization page");
  await shot("organization");
  await axe(`/-/owner/${org}`, "organization");
  // GraphiQL works offline under its CSP: it renders and runs a query (anonymously).
  await page.goto(base + "/graphql");
  await page.waitForSelector(".graphiql-container", { timeout: 15000 });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(() => document.querySelector(".result-window")?.textContent.includes("totalCount"), null, { timeout: 15000 });
  await shot("graphiql");
  await page.goto(base + `/-/owner/${org}`);
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Sign out')")]);
  check(await page.locator("a:has-text('Sign in')").count() === 1, "signed out");
  await page.goto(base + "/-/account");
  check(new URL(page.url()).pathname === "/-/signin", "the account page wants a sign-in again");

  // Without JavaScript, the now-public package page still has its README and install
  // command (the copy buttons, which need script, stay hidden).
  const noScript2 = await browser.newContext({ javaScriptEnabled: false });
  const plain2 = await noScript2.newPage();
  await plain2.goto(base + npmUrl);
  check(await plain2.locator(".readme h1").count() === 1, "README without JavaScript");
  check((await plain2.textContent("#install-1")).includes("npm install"), "install command without JavaScript");
  check(!(await plain2.locator("button[data-copy]").first().isVisible()), "copy buttons hidden without JavaScript");
  await noScript2.close();

  // An outsider (anonymous now) gets the 404 page for a private package, with a body.
  const response = await page.goto(base + `/-/package/${org}/container/${image}`);
  check(response.status() === 404, `private image page for an outsider: ${response.status()}`);
  check((await page.textContent("h1")).includes("404"), "the 404 page has a body");
  await context.close();
} finally {
  await browser.close();
}
if (failures.length) {
  for (const f of failures) console.error(f);
  process.exit(1);
}
console.log("web story: ok");
