//! End to end in a real browser: headless Chromium, driven through
//! chromedriver, fills in the support form and replies on the private page.
//! Needs the Debian packages `chromium` and `chromium-driver`; without them
//! the test says so loudly and passes (CI installs them).
//!

use crate::common::*;
use fantoccini::Locator;
use serde_json::json;
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

/// Opens a browser session through chromedriver with fantoccini.
async fn open_browser(driver: &Driver) -> fantoccini::Client {
    // reqwest and hyper-rustls each bring a rustls crypto provider; with two
    // enabled, rustls needs to be told which one is the default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = json!({
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
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), options);
    fantoccini::ClientBuilder::rustls()
        .expect("TLS set-up for the WebDriver client")
        .capabilities(capabilities)
        .connect(&driver.url())
        .await
        .expect("a browser session from chromedriver")
}

#[actix_web::test]
async fn customer_uses_the_support_form_in_a_real_browser() {
    let chromedriver = find_program("chromedriver");
    let (Some(chromedriver), true) = (chromedriver, Path::new(CHROMIUM).is_file()) else {
        skip_without(
            "chromium and chromium-driver (apt-get install chromium chromium-driver)",
            "the browser test",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let driver = Driver::start(&chromedriver);
    let browser = open_browser(&driver).await;

    // The form, filled in and sent as a person would.
    browser.goto(&app.url("/support")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Contact support · Support");
    for (id, value) in [
        ("name", "Marta Lind"),
        ("email", "Marta.Lind@Example.org"),
        ("subject", "Wrong size delivered"),
        ("description", "I ordered size 38 and got 40.\nOrder B-77."),
    ] {
        let field = browser.find(Locator::Id(id)).await.unwrap();
        field.send_keys(value).await.unwrap();
    }
    let submit = browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap();
    submit.click().await.unwrap();

    let number_element = browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("ticket-number"))
        .await
        .unwrap();
    let number_text = number_element.text().await.unwrap();
    let number: i64 = number_text
        .strip_prefix('#')
        .expect("a #number")
        .parse()
        .unwrap();
    let link = browser
        .find(Locator::Id("ticket-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the private link");
    assert!(link.starts_with(&format!("{}/t/rly_", app.base)), "{link}");

    let stored = app.read(&format!("/api/v1/tickets/{number}")).await;
    assert_eq!(stored["channel"], "web");
    assert_eq!(stored["subject"], "Wrong size delivered");
    assert_eq!(stored["customer"]["email"], "marta.lind@example.org");
    assert_eq!(stored["customer"]["name"], "Marta Lind");

    // The private page: reply, and land back on it with the reply shown.
    browser.goto(&link).await.unwrap();
    let reply = browser.find(Locator::Id("body")).await.unwrap();
    reply
        .send_keys("Photo of the label follows by email.")
        .await
        .unwrap();
    let submit = browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap();
    submit.click().await.unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//div[@class='body'][contains(., 'Photo of the label follows by email.')]",
        ))
        .await
        .unwrap();
    assert_eq!(browser.current_url().await.unwrap().as_str(), link);
    let messages = app
        .read(&format!("/api/v1/tickets/{number}/messages"))
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 2);
    assert_eq!(messages[1]["body"], "Photo of the label follows by email.");
    assert_eq!(messages[1]["channel"], "web");

    browser.close().await.unwrap();
    drop(driver);
}
