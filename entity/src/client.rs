use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "client")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub public: bool,
    pub third_party: bool,
    pub redirect_uris: Json,
    pub post_logout_redirect_uris: Json,
    pub grant_types: Json,
    pub id_token_alg: String,
    pub access_policy: String,
    pub service_scopes: String,
    pub terms: Option<String>,
    pub mfa_policy: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub frontchannel_logout_uri: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
