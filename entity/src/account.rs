use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub username: String,
    #[sea_orm(unique)]
    pub username_normalized: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub password_hash: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    pub org_id: Option<String>,
    /// The customer record a cardholder proved at registration (one account per record).
    pub customer_id: Option<String>,
    /// Dealer staff: business phone and role at the dealership.
    pub phone: Option<String>,
    pub job_role: Option<String>,
    /// The end of a temporary lock; `None` while locked means only staff can unlock.
    pub locked_until: Option<DateTimeUtc>,
    pub lock_count: i32,
    /// When the user ID last became usable (approval, reactivation).
    pub activated_at: Option<DateTimeUtc>,
    pub password_changed_at: Option<DateTimeUtc>,
    pub must_change_password: bool,
    pub inactivity_warned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// An account's grants, read together with the account where a token is issued.
impl Related<super::access_grant::Entity> for Entity {
    fn to() -> RelationDef {
        super::access_grant::Relation::Account.def().rev()
    }
}

impl ActiveModelBehavior for ActiveModel {}
