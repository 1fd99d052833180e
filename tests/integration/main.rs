//! The one integration test binary: every test starts the real `packyard` server (the built
//! binary) on a free port with a temp data dir, on SQLite, or on a fresh PostgreSQL database
//! when `PACKYARD_TEST_BACKEND=postgres` (scripts/test.sh runs the suite both ways).

mod audit;
mod cluster;
mod existence;
mod fault_proxy;
mod faults;
mod generic;
mod github_shapes;
mod graphql;
mod http;
mod maven;
mod npm;
mod npm_documents;
mod nuget;
mod oci;
mod octokit;
mod ops;
mod package_index;
mod permissions;
mod quota;
mod replicas;
mod rest;
mod retention;
mod robustness;
mod rubygems;
mod schema;
mod sendfile;
mod subscriptions;
mod support;
mod usage;
mod web;
mod web_usage;
mod webhooks;
