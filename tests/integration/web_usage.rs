//! The web UI's Usage and Retention pages over HTTP: they render for the owner (storage,
//! transfer, policies, a dry-run preview), answer 404 to outsiders and anonymous callers,
//! and their forms create and delete a policy (each a GraphQL mutation).
use reqwest::header;
use serde_json::json;

use crate::{support::TestApp, usage::bytes};

const PASSWORD: &str = "correct horse battery";

/// A cookie-holding client that doesn't follow redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

fn cookie_value(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|c| {
            let first = c.to_str().ok()?.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = html.find(marker).expect("a csrf field");
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.url.clone(),
            session: None,
        }
    }

    fn cookie(&self) -> String {
        self.session
            .as_ref()
            .map(|s| format!("packyard_session={s}"))
            .unwrap_or_default()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie())
            .send()
            .await
            .expect("GET");
        (r.status().as_u16(), r.text().await.expect("html"))
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        extra_cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut cookie = self.cookie();
        if let Some(c) = extra_cookie {
            cookie = format!("{cookie}; {c}");
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    async fn sign_in(&mut self, login: &str) {
        let form = self
            .http
            .get(format!("{}/-/signin", self.base))
            .send()
            .await
            .expect("GET");
        let csrf_cookie = cookie_value(&form, "packyard_signin_csrf").expect("csrf cookie");
        let csrf = csrf_of(&form.text().await.expect("html"));
        let r = self
            .post(
                "/-/signin",
                &[
                    ("csrf", &csrf),
                    ("login", login),
                    ("password", PASSWORD),
                    ("next", "/-/account"),
                ],
                Some(&format!("packyard_signin_csrf={csrf_cookie}")),
            )
            .await;
        self.session = Some(cookie_value(&r, "packyard_session").expect("signed in"));
    }
}

#[tokio::test]
async fn web_usage_and_retention_pages_for_owners_404_for_outsiders_and_forms_manage_policies() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("olive", PASSWORD);
    app.create_user_with_password("nosy", PASSWORD);
    let token = app.token(
        "olive",
        "read:packages,write:packages,delete:packages,admin:org,user",
    );
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
        let r = app
            .put_generic(
                Some(&token),
                &format!("olive/tool/{v}/t.bin"),
                bytes(700, 80 + i as u8),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = app
        .get(Some(&token), "/generic/olive/tool/1.0.0/t.bin")
        .await;
    assert_eq!(r.status(), 200);
    r.bytes().await.expect("body");

    let mut olive = Browser::new(&app);
    olive.sign_in("olive").await;
    let (status, html) = olive.get("/-/owner/olive/usage").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Usage: olive"), "{html}");
    // 2100 bytes stored, 700 sent, no quota.
    assert!(html.contains("2.1 KiB"), "{html}");
    assert!(html.contains("700 B"), "{html}");
    assert!(
        html.contains("700 bytes sent in the last 30 days"),
        "{html}"
    );
    assert!(html.contains("href=\"/-/owner/olive/retention\""), "{html}");
    let (status, owner_page) = olive.get("/-/owner/olive").await;
    assert_eq!(status, 200);
    assert!(
        owner_page.contains("href=\"/-/owner/olive/usage\""),
        "the owner page links it"
    );

    // Outsiders and anonymous callers: the same 404 as a missing owner.
    let mut nosy = Browser::new(&app);
    nosy.sign_in("nosy").await;
    let anonymous = Browser::new(&app);
    for path in [
        "/-/owner/olive/usage",
        "/-/owner/olive/retention",
        "/-/owner/ghost/usage",
    ] {
        assert_eq!(nosy.get(path).await.0, 404, "{path}");
        assert_eq!(anonymous.get(path).await.0, 404, "{path}");
    }

    let (status, html) = olive.get("/-/owner/olive/retention").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("No retention policies."), "{html}");
    let csrf = csrf_of(&html);
    // A form without the CSRF token changes nothing.
    let refused = olive
        .post(
            "/-/owner/olive/retention",
            &[
                ("action", "retention.set"),
                ("package_type", "generic"),
                ("package_name", "tool"),
                ("keep_newest", "1"),
            ],
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
    let created = olive
        .post(
            "/-/owner/olive/retention",
            &[
                ("csrf", &csrf),
                ("action", "retention.set"),
                ("package_type", "generic"),
                ("package_name", "tool"),
                ("keep_newest", "1"),
            ],
            None,
        )
        .await;
    assert_eq!(
        created.status(),
        303,
        "{}",
        created.text().await.unwrap_or_default()
    );
    let policies = app
        .gql_ok(
            Some(&token),
            "{ user(login: \"olive\") { retentionPolicies { id packageName keepNewest } } }",
            json!({}),
        )
        .await["user"]["retentionPolicies"]
        .clone();
    assert_eq!(policies[0]["packageName"], "tool");
    assert_eq!(policies[0]["keepNewest"], 1);
    let id = policies[0]["id"].as_str().expect("id").to_string();

    // The preview lists what the policy would delete now.
    let preview = format!(
        "/-/owner/olive/retention?preview={}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    let (status, html) = olive.get(&preview).await;
    assert_eq!(status, 200);
    assert!(html.contains("keep the 1 newest"), "{html}");
    let dry = &html[html.find("id=\"dry-run\"").expect("a dry run")..];
    assert!(dry.contains("1.0.0") && dry.contains("1.1.0"), "{dry}");
    assert!(!dry.contains("1.2.0"), "{dry}");
    // An outsider's form post is refused like the page.
    let (_, nosy_html) = nosy.get("/-/account").await;
    let nosy_csrf = csrf_of(&nosy_html);
    let r = nosy
        .post(
            "/-/owner/olive/retention",
            &[
                ("csrf", &nosy_csrf),
                ("action", "retention.delete"),
                ("policy_id", &id),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), 404);

    let deleted = olive
        .post(
            "/-/owner/olive/retention",
            &[
                ("csrf", &csrf),
                ("action", "retention.delete"),
                ("policy_id", &id),
            ],
            None,
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let (_, html) = olive.get("/-/owner/olive/retention").await;
    assert!(html.contains("No retention policies."), "{html}");
}
