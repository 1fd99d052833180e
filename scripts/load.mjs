// The load generator of scripts/load.sh: WORKERS clients for DURATION seconds, each request a
// read (generic download), a publish (a new generic version), a GraphQL page (packages) or a
// delete (a version published earlier), spread over the replicas in turn. Every SAMPLE
// seconds it samples each replica's RSS, open file descriptors and the database's
// connections. Prints per-kind counts, errors and p50/p99, and the samples' growth.
import { readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

const env = (k, d) => process.env[k] ?? d;
const urls = env("LOAD_URLS").split(",");
const pids = env("LOAD_PIDS").split(",").map(Number);
const token = env("LOAD_TOKEN");
const owner = env("LOAD_OWNER");
const duration = Number(env("LOAD_DURATION", "600")) * 1000;
const workers = Number(env("LOAD_WORKERS", "16"));
const warmup = Number(env("LOAD_WARMUP", String(Math.min(60, duration / 5000)))) * 1000;
const sampleEvery = Number(env("LOAD_SAMPLE", "5")) * 1000;
const dbName = env("LOAD_DB");
const auth = { authorization: `Bearer ${token}` };

const stats = {};
const record = (kind, ms, ok, why) => {
  const s = (stats[kind] ??= { lat: [], errors: 0, why: {} });
  s.lat.push(ms);
  if (!ok) {
    s.errors++;
    s.why[why] = (s.why[why] ?? 0) + 1;
  }
};
let turn = 0;
const next = () => urls[turn++ % urls.length];
const published = []; // versions that may be read or deleted
let serial = 0;

async function timed(kind, fn) {
  const t = performance.now();
  let ok = false, why = "";
  try {
    const r = await fn();
    ok = r.ok;
    why = String(r.status);
    await r.arrayBuffer();
  } catch (e) {
    why = e.cause?.code ?? e.message;
  }
  record(kind, performance.now() - t, ok, why);
  return ok;
}

async function publish() {
  const v = `1.${process.pid}.${serial++}`;
  const body = Buffer.alloc(4096 + (serial % 64) * 1024, serial % 251);
  const ok = await timed("publish", () =>
    fetch(`${next()}/generic/${owner}/load/${v}/f.bin`, { method: "PUT", headers: auth, body }));
  if (ok) published.push(v);
}

// Versions with reads in flight: a delete takes the oldest version nobody is reading, so a
// read never races this script's own delete (a 404 is then always the server's fault).
const reading = new Map();
async function read() {
  if (published.length === 0) return publish();
  const v = published[Math.floor(Math.random() * published.length)];
  reading.set(v, (reading.get(v) ?? 0) + 1);
  try {
    await timed("read", () => fetch(`${next()}/generic/${owner}/load/${v}/f.bin`, { headers: auth }));
  } finally {
    if (reading.get(v) === 1) reading.delete(v); else reading.set(v, reading.get(v) - 1);
  }
}

const pageQuery = `query($o: String!) { packages(owner: $o, first: 20) { pageInfo { hasNextPage } edges { node { name versions(first: 10) { totalCount } } } } }`;
async function page() {
  await timed("graphql", () =>
    fetch(`${next()}/graphql`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ query: pageQuery, variables: { o: owner } }),
    }).then(async (r) => {
      const body = await r.clone().json().catch(() => ({}));
      return body.errors ? { ok: false, status: "graphql-errors", arrayBuffer: async () => {} } : r;
    }));
}

async function remove() {
  // Oldest first, leaving a pool to read.
  if (published.length < 50) return publish();
  const i = published.findIndex((v) => !reading.has(v));
  if (i < 0) return publish();
  const [v] = published.splice(i, 1);
  await timed("delete", () =>
    fetch(`${next()}/generic/${owner}/load/${v}`, { method: "DELETE", headers: auth }));
}

// As many deletes as publishes once the pool is full: the live data set stays the same size,
// so memory that grows is growth, not more data.
const kinds = [[0.6, read], [0.125, publish], [0.15, page], [0.125, remove]];
async function worker(until) {
  while (performance.now() < until) {
    let x = Math.random();
    for (const [p, f] of kinds) {
      if ((x -= p) <= 0) { await f(); break; }
    }
  }
}

function rssKib(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return Number(m[1]);
}
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;
function dbConnections() {
  try {
    return Number(execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-tAc",
      `select count(*) from pg_stat_activity where datname='${dbName}'`]).toString().trim());
  } catch { return -1; }
}
const samples = [];
const sample = () => samples.push({
  t: performance.now(), rss: pids.map(rssKib), fds: pids.map(fds), db: dbConnections(),
});

const start = performance.now();
const until = start + duration;
sample();
const sampler = setInterval(sample, sampleEvery);
for (let i = 0; i < 20; i++) await publish(); // something to read
await Promise.all(Array.from({ length: workers }, () => worker(until)));
clearInterval(sampler);
sample();

const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];
let total = 0, errors = 0;
console.log(`load: ${urls.length} replicas, ${workers} workers, ${(duration / 1000).toFixed(0)} s`);
console.log("kind       requests  errors   p50 ms   p99 ms   max ms");
for (const [kind, s] of Object.entries(stats)) {
  s.lat.sort((a, b) => a - b);
  total += s.lat.length;
  errors += s.errors;
  console.log(`${kind.padEnd(10)} ${String(s.lat.length).padStart(8)} ${String(s.errors).padStart(7)} ${pct(s.lat, 0.5).toFixed(1).padStart(8)} ${pct(s.lat, 0.99).toFixed(1).padStart(8)} ${s.lat[s.lat.length - 1].toFixed(1).padStart(8)}`);
  if (s.errors) console.log(`           errors: ${JSON.stringify(s.why)}`);
}
const rate = (total / (duration / 1000)).toFixed(0);
console.log(`total ${total} requests (${rate}/s), error rate ${(100 * errors / Math.max(total, 1)).toFixed(3)} %`);
const warm = samples.find((s) => s.t - start >= warmup) ?? samples[0];
const last = samples[samples.length - 1];
pids.forEach((pid, i) => {
  const growth = 100 * (last.rss[i] - warm.rss[i]) / warm.rss[i];
  console.log(`replica ${i}: RSS ${(warm.rss[i] / 1024).toFixed(1)} MiB after warm-up -> ${(last.rss[i] / 1024).toFixed(1)} MiB at end (${growth.toFixed(1)} %), fds ${samples[0].fds[i]} at start, ${warm.fds[i]} after warm-up, ${last.fds[i]} at end (max ${Math.max(...samples.map((s) => s.fds[i]))})`);
});
// The RSS curve, a point per tenth of the run: a plateau is a bound being reached (caches,
// allocator arenas), a line that keeps rising is a leak.
pids.forEach((pid, i) => {
  const points = Array.from({ length: 11 }, (_, k) => {
    const at = start + (k * duration) / 10;
    const s = samples.reduce((best, x) => (Math.abs(x.t - at) < Math.abs(best.t - at) ? x : best));
    return (s.rss[i] / 1024).toFixed(1);
  });
  console.log(`replica ${i}: RSS MiB by tenth of the run: ${points.join(" ")}`);
});
// How much of the reads the kernel sent from disk (0 on S3: those are copied).
for (const [i, url] of urls.entries()) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(/^packyard_sendfile_bytes_total (\d+)/m);
  console.log(`replica ${i}: ${m ? (Number(m[1]) / 1048576).toFixed(1) : "?"} MiB sent with sendfile`);
}
const dbs = samples.map((s) => s.db);
console.log(`database connections: ${dbs[0]} at start, ${warm.db} after warm-up, ${last.db} at end, max ${Math.max(...dbs)}`);
process.exit(errors === 0 ? 0 : 1);
