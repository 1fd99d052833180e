// A `packageEvents` subscriber with the real graphql-ws client (graphql-transport-ws, on
// the `ws` package for Node 20). Driven by tests/integration/subscriptions.rs:
// GRAPHQL_WS_DIR, URL (ws://HOST/graphql), OWNER, optional PACKAGE_TYPE, optional TOKEN
// and AUTH (`init`: the connection_init payload, the default; `header`: the upgrade
// request's Authorization header), optional QUERY (another subscription document).
// Prints one JSON line per thing that happens (`{"connected":true}`, `{"event":{...}}`,
// `{"error":...}`, `{"closed":{code,reason}}`) and runs until the server ends the
// subscription or the test kills it.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.GRAPHQL_WS_DIR, "node_modules", "x.js"));
const { createClient } = await import(require.resolve("graphql-ws"));
const { default: WebSocket } = await import(require.resolve("ws"));

const { URL: url, OWNER: owner, PACKAGE_TYPE: packageType, TOKEN: token } = process.env;
const auth = process.env.AUTH ?? "init";
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

// `ws` takes headers as a constructor option; graphql-ws constructs with (url, protocols).
class HeaderWebSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers: { Authorization: `Bearer ${token}` } });
  }
}

const client = createClient({
  url,
  webSocketImpl: token && auth === "header" ? HeaderWebSocket : WebSocket,
  // Send the key in lower case: the server accepts it in any case.
  connectionParams: token && auth === "init" ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  lazy: false,
  onNonLazyError: () => {}, // `closed` reports it
  on: {
    connected: () => say({ connected: true }),
    closed: (e) => say({ closed: { code: e.code, reason: e.reason } }),
  },
});

const query = process.env.QUERY || `subscription($owner: String!, $type: PackageType) {
  packageEvents(owner: $owner, packageType: $type) {
    id action version actorLogin occurredAt
    package { name packageType visibility owner { ... on User { login } ... on Organization { login } } }
    packageVersion { version files(first: 5) { totalCount nodes { name } } }
  }
}`;

client.subscribe(
  { query, variables: { owner, type: packageType || null } },
  {
    next: (result) =>
      result.errors ? say({ error: result.errors }) : say({ event: result.data.packageEvents }),
    error: (err) => {
      // A CloseEvent, a list of GraphQL errors, or anything else thrown.
      if (Array.isArray(err)) say({ error: err });
      else if (err && err.code !== undefined) say({ error: { code: err.code, reason: err.reason } });
      else say({ error: String(err) });
      process.exit(0);
    },
    complete: () => {
      say({ complete: true });
      process.exit(0);
    },
  },
);
