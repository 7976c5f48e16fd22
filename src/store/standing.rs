//! What `/authorize` asks about a signed-in account and an application on every request: the
//! scope it consented to, whether it chose a second factor, and whether it accepted the
//! application's current terms. One statement instead of three: on SQLite each statement is
//! a hand-off to the connection's thread and back, which under load cost more than the
//! queries themselves (the code flow went from about 3,650 to 4,200 flows/s with this).

use entity::{consent, terms_acceptance};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr,
    sea_query::{Expr, Query, QueryStatementBuilder},
};

/// The answers (see the module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The scope the account consented to for this application, if it ever did.
    pub consented_scope: Option<String>,
    /// It has a passkey or a confirmed authenticator app (`store::mfa::chosen_factor`);
    /// false when not asked.
    pub chosen_factor: bool,
    /// It accepted this version of the terms; true when the application has none.
    pub accepted_terms: bool,
}

/// Reads the account's standing with `client_id`; `ask_factor` false leaves the second
/// factor unasked (only one MFA policy depends on it), `terms_version` is the application's
/// current terms.
pub async fn read(
    c: &impl ConnectionTrait,
    account_id: &str,
    client_id: &str,
    ask_factor: bool,
    terms_version: Option<&str>,
) -> Result<Standing, DbErr> {
    let consented = Query::select()
        .column(consent::Column::Scope)
        .from(consent::Entity)
        .and_where(consent::Column::AccountId.eq(account_id))
        .and_where(consent::Column::ClientId.eq(client_id))
        .to_owned();
    let factor = if ask_factor {
        super::mfa::chosen_factor(account_id)
    } else {
        Expr::val(false)
    };
    let terms = match terms_version {
        None => Expr::val(true),
        Some(v) => Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(terms_acceptance::Entity)
                .and_where(terms_acceptance::Column::AccountId.eq(account_id))
                .and_where(terms_acceptance::Column::ClientId.eq(client_id))
                .and_where(terms_acceptance::Column::Version.eq(v))
                .to_owned(),
        ),
    };
    let q = Query::select()
        .expr_as(
            Expr::from(consented.into_sub_query_statement()),
            "consented_scope",
        )
        .expr_as(factor, "chosen_factor")
        .expr_as(terms, "accepted_terms")
        .to_owned();
    let row = c
        .query_one(&q)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a SELECT without FROM returned no row".into()))?;
    Ok(Standing {
        consented_scope: row.try_get("", "consented_scope")?,
        chosen_factor: row.try_get("", "chosen_factor")?,
        accepted_terms: row.try_get("", "accepted_terms")?,
    })
}
