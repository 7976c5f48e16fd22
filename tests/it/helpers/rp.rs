//! openidconnect as the relying party, configured from our discovery document.

use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IntrospectionUrl, IssuerUrl, ProviderMetadata, RedirectUrl, RevocationUrl,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
        CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

use super::{TestApp, redirect_uri};

/// The discovery fields CoreProviderMetadata does not model.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExtraMetadata {
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub end_session_endpoint: String,
    pub code_challenge_methods_supported: Vec<String>,
    pub authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub async fn discover(app: &TestApp) -> Metadata {
    Metadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).expect("issuer"),
        &app.http,
    )
    .await
    .expect("discovery")
}

/// A relying party for `client_id`, set up purely from discovery.
pub async fn client(app: &TestApp, client_id: &str, secret: Option<&str>) -> Rp {
    let meta = discover(app).await;
    let extra = meta.additional_metadata().clone();
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri(client_id)).expect("redirect"))
    .set_revocation_url(RevocationUrl::new(extra.revocation_endpoint).expect("revocation"))
    .set_introspection_url(
        IntrospectionUrl::new(extra.introspection_endpoint).expect("introspection"),
    )
}
