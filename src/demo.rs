//! `serve --demo`: the four applications of the walkthrough and one demo user, created once
//! and printed once. The applications' settings (issuer, client ids, secrets) are also
//! written to `<data_dir>/demo-apps.json` (owner-only) for `cargo run --example demo_apps`.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::{
    access::{
        clients::{self, AccessPolicy, GrantType, LogoutUris, NewClient},
        grants::{self, NewGrant},
    },
    accounts::users::{self, AccountStatus, NewUser},
    audit::Actor,
    audit::RequestContext,
    crypto::{keyring::Alg, opaque},
    state::AppState,
    store,
};

/// (client_id, name, port) of the demo relying parties.
pub const APPS: [(&str, &str, u16); 4] = [
    ("card-portal", "Ally Credit Card", 9001),
    ("smartauction", "SmartAuction", 9002),
    ("smartcash", "SmartCash", 9003),
    ("intellirater", "IntelliRater", 9004),
];

pub const DEMO_USERNAME: &str = "demo";

/// The demo user's grants: SmartAuction and SmartCash, not IntelliRater (so the walkthrough
/// shows both SSO and a refused application).
const DEMO_GRANTS: [(&str, &[&str]); 2] = [
    ("smartauction", &["buyer", "seller"]),
    ("smartcash", &["viewer"]),
];

/// Where the demo relying parties find their settings.
pub const APPS_FILE: &str = "demo-apps.json";

/// Demo terms for SmartAuction, accepted once on first use.
pub const SMARTAUCTION_TERMS: &str = "SmartAuction Terms of Use (demo)\n\n\
1. Bids placed in SmartAuction are binding offers made on behalf of your dealership.\n\
2. Vehicle condition reports are provided as-is; inspect before you bid where possible.\n\
3. Keep your user ID and password to yourself: you are responsible for activity under them.";

pub async fn seed(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<()> {
    if store::clients::find(&state.db, APPS[0].0).await?.is_some() {
        eprintln!("demo data already present (its secrets were printed when it was created)");
        return Ok(());
    }
    let ctx = RequestContext::default();
    let txn = state.begin_write().await?;
    let mut lines = Vec::new();
    let mut apps = Vec::new();
    for (id, name, port) in APPS {
        let secret = clients::register(
            &txn,
            &state.tokens,
            now,
            &ctx,
            Actor::System,
            NewClient {
                client_id: id.to_owned(),
                name: name.to_owned(),
                redirect_uris: vec![format!("http://127.0.0.1:{port}/callback")],
                logout: LogoutUris {
                    backchannel: Some(format!("http://127.0.0.1:{port}/backchannel-logout")),
                    frontchannel: None,
                },
                post_logout_redirect_uris: vec![format!("http://127.0.0.1:{port}/")],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                id_token_alg: Alg::Es256,
                public: false,
                third_party: false,
                // The card portal is open to cardholders; dealer tools need a grant.
                access_policy: if id == "card-portal" {
                    AccessPolicy::Open
                } else {
                    AccessPolicy::GrantRequired
                },
                service_scopes: vec![],
                terms: (id == "smartauction").then(|| SMARTAUCTION_TERMS.to_owned()),
                mfa: None,
                secret: None,
            },
        )
        .await?
        .unwrap_or_default();
        apps.push(serde_json::json!({
            "client_id": id, "name": name, "port": port, "client_secret": secret,
        }));
        lines.push(format!(
            "  {id:<14} secret {secret}   redirect http://127.0.0.1:{port}/callback"
        ));
    }
    let password = format!("Ally-{}", &opaque::generate()[..16]);
    let account_id = users::create(
        &txn,
        &state.passwords,
        now,
        &ctx,
        Actor::System,
        NewUser {
            username: DEMO_USERNAME.to_owned(),
            email: "demo@example.com".to_owned(),
            given_name: Some("Dana".to_owned()),
            family_name: Some("Demo".to_owned()),
            password: SecretString::from(password.clone()),
            org_id: None,
            password_min_length: state.config.accounts.password_min_length,
            status: AccountStatus::Active,
            customer_id: None,
            phone: None,
            job_role: None,
        },
    )
    .await?;
    for (client_id, roles) in DEMO_GRANTS {
        grants::add(
            &txn,
            now,
            &ctx,
            Actor::System,
            NewGrant {
                account_id: account_id.clone(),
                client_id: client_id.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                expires_at: None,
            },
        )
        .await?;
    }
    txn.commit().await?;
    let file = state.config.data_dir.join(APPS_FILE);
    let settings = serde_json::json!({ "issuer": state.issuer(), "apps": apps });
    // It holds client secrets: only the owner may read it.
    crate::private_files::write_creating_dirs(&file, &serde_json::to_vec_pretty(&settings)?)?;
    println!(
        "Demo applications (client secrets are shown only now; also in {}):",
        file.display()
    );
    for l in lines {
        println!("{l}");
    }
    println!(
        "The demo user may use the card portal, SmartAuction and SmartCash (not IntelliRater)."
    );
    println!("Demo user: {DEMO_USERNAME} / {password}");
    Ok(())
}
