//! Operations endpoints and configuration failures.
use crate::support::{TestApp, bin};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app.get(None, "/healthz").await;
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = app.get(None, "/readyz").await.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    let before = app.sql_statements().await;
    // (anonymous: the challenge, as for every package that isn't public)
    assert_eq!(app.get(None, "/generic/nobody/pkg/1/f").await.status(), 401);
    assert!(
        app.sql_statements().await > before,
        "the lookup queried the database"
    );
    let log = app.log();
    assert!(log.contains("packyard serving"), "{log}");
    // A blob store that lost its data (an unmounted volume, an emptied bucket) is not ready.
    std::fs::remove_file(app.data_dir.path().join("blobs/config/store-marker")).expect("marker");
    assert_eq!(app.get(None, "/readyz").await.status(), 503);
}

#[test]
fn bad_configuration_fails_at_start_naming_the_setting() {
    let out = std::process::Command::new(bin())
        .arg("serve")
        .env("PACKYARD_LISTEN", "not-an-address")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PACKYARD_LISTEN"), "{stderr}");
}

#[tokio::test]
async fn the_default_log_shows_one_line_per_request() {
    // The harness starts servers with the default filter, `info,sqlx=warn,sea_orm=warn`.
    let app = TestApp::spawn().await;
    let before = app.log().matches("request done").count();
    assert_eq!(app.get(None, "/healthz").await.status(), 200);
    // The line is written when the response is; give the writer a moment.
    let mut lines = Vec::new();
    for _ in 0..50 {
        let log = app.log();
        lines = log
            .lines()
            .filter(|l| l.contains("request done") && l.contains("/healthz"))
            .map(str::to_string)
            .collect();
        if log.matches("request done").count() > before && !lines.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let line = lines.last().expect("a request line for /healthz");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
}
