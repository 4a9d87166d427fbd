//! End to end in a real browser: headless Chromium, driven through
//! chromedriver, fills in the support form and replies on the private page.
//! Needs the Debian packages `chromium` and `chromium-driver`; without them
//! the test says so loudly and passes (CI installs them).
//!
//! The browser is driven with the W3C WebDriver protocol over plain HTTP
//! (reqwest). fantoccini cannot be used as the crate's dependencies stand:
//! its rustls client panics because two rustls crypto providers (ring via
//! reqwest, aws-lc-rs via hyper-rustls' defaults) are enabled and none is
//! installed as the process default.

use crate::common::*;
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// chromedriver (and the browser it starts) for one test: killed when
/// dropped, also when the test fails.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
    profile_dir: PathBuf,
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let profile = tempfile::tempdir().expect("temp dir for the browser profile");
        let mut command = Command::new(chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Its own process group, so that the browser it launches is ended with it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start chromedriver");
        let driver = Driver {
            child,
            port,
            profile_dir: profile.path().to_path_buf(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The whole group we created: chromedriver and the browser processes.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The little of the W3C WebDriver protocol this test needs.
struct Browser {
    http: reqwest::Client,
    session: String,
}

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn start(driver: &Driver, capabilities: Value) -> Browser {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let answer: Value = http
            .post(format!("{}/session", driver.url()))
            .json(&json!({"capabilities": {"alwaysMatch": capabilities}}))
            .send()
            .await
            .expect("reach chromedriver")
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_string();
        Browser {
            http,
            session: format!("{}/session/{session}", driver.url()),
        }
    }

    /// One command; WebDriver errors fail the test with their message.
    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let resp = request.send().await.expect("reach chromedriver");
        let ok = resp.status().is_success();
        let answer: Value = resp.json().await.unwrap();
        assert!(ok, "WebDriver {method} {path} failed: {answer}");
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, Value::Null).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap().to_string()
    }

    async fn current_url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Waits for an element: after a click the next page takes a moment.
    async fn wait_for(&self, using: &str, value: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let resp = self
                .http
                .post(format!("{}/element", self.session))
                .json(&json!({"using": using, "value": value}))
                .send()
                .await
                .expect("reach chromedriver");
            if resp.status().is_success() {
                let found: Value = resp.json().await.unwrap();
                return found["value"][ELEMENT].as_str().unwrap().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no element {value}; the page is {}",
                self.get("/source").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{element}/value"), json!({"text": text}))
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    async fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await;
        self.get(&format!("/element/{element}/attribute/{name}"))
            .await
            .as_str()
            .map(str::to_string)
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

#[actix_web::test]
async fn customer_uses_the_support_form_in_a_real_browser() {
    let chromedriver = find_program("chromedriver");
    let (Some(chromedriver), true) = (chromedriver, Path::new(CHROMIUM).is_file()) else {
        eprintln!();
        eprintln!("**************************************************************************");
        eprintln!("SKIPPED: browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver)");
        eprintln!("**************************************************************************");
        return;
    };
    let app = TestApp::spawn().await;
    let driver = Driver::start(&chromedriver);
    let browser = Browser::start(
        &driver,
        json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", driver.profile_dir.display()),
                ]
            }
        }),
    )
    .await;

    // The form, filled in and sent as a person would.
    browser.goto(&app.url("/support")).await;
    assert_eq!(browser.title().await, "Contact support · Support");
    for (id, value) in [
        ("name", "Marta Lind"),
        ("email", "Marta.Lind@Example.org"),
        ("subject", "Wrong size delivered"),
        ("description", "I ordered size 38 and got 40.\nOrder B-77."),
    ] {
        browser.type_into(&format!("#{id}"), value).await;
    }
    browser.click("button[type=submit]").await;

    let number_element = browser.wait_for("css selector", "#ticket-number").await;
    let number_text = browser.text(&number_element).await;
    let number: i64 = number_text
        .strip_prefix('#')
        .expect("a #number")
        .parse()
        .unwrap();
    let link = browser
        .attribute("#ticket-link", "href")
        .await
        .expect("the private link");
    assert!(link.starts_with(&format!("{}/t/rly_", app.base)), "{link}");

    let stored = expect_json(
        app.get(&format!("/api/v1/tickets/{number}"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(stored["channel"], "web");
    assert_eq!(stored["subject"], "Wrong size delivered");
    assert_eq!(stored["customer"]["email"], "marta.lind@example.org");
    assert_eq!(stored["customer"]["name"], "Marta Lind");

    // The private page: reply, and land back on it with the reply shown.
    browser.goto(&link).await;
    browser
        .type_into("#body", "Photo of the label follows by email.")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for(
            "xpath",
            "//div[@class='body'][contains(., 'Photo of the label follows by email.')]",
        )
        .await;
    assert_eq!(browser.current_url().await, link);
    let messages = expect_json(
        app.get(&format!("/api/v1/tickets/{number}/messages"), &app.admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(messages.as_array().unwrap().len(), 2);
    assert_eq!(messages[1]["body"], "Photo of the label follows by email.");
    assert_eq!(messages[1]["channel"], "web");

    browser.quit().await;
    drop(driver);
}
