// Starts GraphiQL from the assets in the binary (no CDN). Authenticate by putting a
// token in the Headers tab: {"Authorization": "Bearer pky_..."}
(function () {
  const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
      defaultQuery:
        "# Packyard GraphQL. You are anonymous until you put\n" +
        "# a token in the Headers tab below:\n" +
        '#   {"Authorization": "Bearer pky_..."}\n' +
        "# (make one on /-/account or with\n#  `packyard admin create-token`)\n\n" +
        "{\n  packages(first: 10) {\n    totalCount\n    nodes { name packageType visibility }\n  }\n}\n",
    }),
  );
})();
