//! The authorization request: any query string, against one registered client. Besides
//! never panicking, the rule that matters most must hold for every input: an error is
//! only ever sent back to a redirect URI that is registered for the client (RFC 6749
//! §4.1.2.1, RFC 9700 §4.1.1); anything else is rendered here.
#![no_main]

use std::sync::LazyLock;

use ally_idp::{
    access::clients::{AccessPolicy, Client, GrantType},
    crypto::{
        keyring::{self, Alg, KeyRing},
        seal::Sealer,
    },
    oidc::authorize::request::{AuthorizeError, validate},
    web::params::Params,
};
use libfuzzer_sys::fuzz_target;

const REDIRECT: &str = "https://app.example/cb";

static RING: LazyLock<std::sync::Arc<KeyRing>> = LazyLock::new(|| {
    let sealer = Sealer::new([7; 32]);
    let stored: Vec<_> = [Alg::Es256, Alg::Rs256, Alg::EdDsa]
        .into_iter()
        .map(|a| keyring::generate(a, &sealer).expect("key"))
        .collect();
    KeyRing::load(&stored, &sealer, chrono::Utc::now()).expect("ring")
});

static CLIENT: LazyLock<Client> = LazyLock::new(|| Client {
    client_id: "web".into(),
    name: "Web".into(),
    secret_hash: None,
    public: false,
    third_party: false,
    redirect_uris: vec![REDIRECT.into()],
    post_logout_redirect_uris: vec![],
    grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    id_token_alg: Alg::Es256,
    access_policy: AccessPolicy::Open,
    service_scopes: vec!["ally:admin".into()],
    terms: None,
    mfa: None,
    backchannel_logout_uri: None,
    frontchannel_logout_uri: None,
});

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let client = (params.get("client_id") == Some("web")).then_some(&*CLIENT);
    match validate(&params, client, &RING, "https://id.example") {
        Ok(req) => assert_eq!(req.redirect_uri, REDIRECT),
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => {
            assert_eq!(redirect_uri, REDIRECT, "an error went to an unregistered URI")
        }
        Err(AuthorizeError::Render(_)) => {}
    }
});
