//! The four demo relying parties of the README walkthrough: the card portal, SmartAuction,
//! SmartCash and IntelliRater on 127.0.0.1:9001-9004, each a separate application with its
//! own session cookie, signing in through ally-idp with the openidconnect crate.
//!
//! ```sh
//! cargo run --release -- serve --demo            # writes ./data/demo-apps.json
//! cargo run --release --example demo_apps        # or: ... -- --apps path/to/demo-apps.json
//! ```

mod rp;

use std::net::SocketAddr;

#[derive(serde::Deserialize)]
struct Settings {
    issuer: String,
    apps: Vec<App>,
}

#[derive(serde::Deserialize)]
struct App {
    client_id: String,
    name: String,
    port: u16,
    client_secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = String::from("./data/demo-apps.json");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--apps" => {
                path = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--apps needs a file"))?
            }
            "-h" | "--help" => {
                println!(
                    "demo_apps [--apps FILE]   (FILE is written by `ally-idp serve --demo`; default ./data/demo-apps.json)"
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!("cannot read {path} ({e}): start the provider with `serve --demo` first")
    })?;
    let settings: Settings = serde_json::from_str(&text)?;
    let base = |port: u16| format!("http://127.0.0.1:{port}");
    let mut servers = tokio::task::JoinSet::new();
    for app in &settings.apps {
        let cfg = rp::RpConfig {
            issuer: settings.issuer.clone(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            name: app.name.clone(),
            base_url: base(app.port),
            others: settings
                .apps
                .iter()
                .filter(|o| o.client_id != app.client_id)
                .map(|o| (o.name.clone(), base(o.port)))
                .collect(),
        };
        let router = rp::app(cfg).await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], app.port));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("{:<16} {}", app.name, base(app.port));
        servers.spawn(async move { axum::serve(listener, router).await });
    }
    tokio::select! {
        r = servers.join_next() => {
            if let Some(Ok(Err(e))) = r { return Err(e.into()); }
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
