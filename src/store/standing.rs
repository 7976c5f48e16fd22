//! What `/authorize` asks about a signed-in account and an application on every request: the
//! scope it consented to, whether it chose a second factor, and whether it accepted the
//! application's current terms. One statement instead of three, and at `/authorize` the same
//! statement also finds the session behind the cookie: on SQLite each statement is a
//! hand-off to the connection's thread and back, which under load cost more than the queries
//! themselves (the code flow went from about 3,650 to 4,200 flows/s with the first merge).

use entity::{consent, sso_session, terms_acceptance};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    QueryTrait,
    sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder, SelectStatement},
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

/// The questions about one application.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub client_id: &'a str,
    /// False leaves the second factor unasked (only one MFA policy depends on it).
    pub ask_factor: bool,
    /// The version of the application's current terms, if it has any
    /// (`Client::terms_version`).
    pub terms_version: Option<String>,
}

/// The account's standing with `ask.client_id`.
pub async fn read(
    c: &impl ConnectionTrait,
    account_id: &str,
    ask: &Ask<'_>,
) -> Result<Standing, DbErr> {
    let mut q = Query::select();
    add_answers(&mut q, Expr::val(account_id), ask);
    let row = c
        .query_one(&q)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a SELECT without FROM returned no row".into()))?;
    answers(&row)
}

/// The session whose token has the keyed hash `token_hash` (whatever its state: the caller
/// checks that it is live), with its account's standing with `ask.client_id`.
pub async fn read_with_session(
    c: &impl ConnectionTrait,
    token_hash: &str,
    ask: &Ask<'_>,
) -> Result<Option<(sso_session::Model, Standing)>, DbErr> {
    let mut q = sso_session::Entity::find()
        .filter(sso_session::Column::TokenHash.eq(token_hash))
        .into_query();
    // The subqueries name the outer row's account (the table is qualified in each).
    let account = Expr::col((sso_session::Entity, sso_session::Column::AccountId));
    add_answers(&mut q, account, ask);
    let Some(row) = c.query_one(&q).await? else {
        return Ok(None);
    };
    Ok(Some((
        sso_session::Model::from_query_result(&row, "")?,
        answers(&row)?,
    )))
}

/// Adds the three answers to `q` as columns, about the account `account` (a value, or a
/// column of `q`'s own table).
fn add_answers(q: &mut SelectStatement, account: Expr, ask: &Ask<'_>) {
    let consented = Query::select()
        .column(consent::Column::Scope)
        .from(consent::Entity)
        .and_where(Expr::col((consent::Entity, consent::Column::AccountId)).eq(account.clone()))
        .and_where(consent::Column::ClientId.eq(ask.client_id))
        .to_owned();
    let factor = if ask.ask_factor {
        super::mfa::chosen_factor(account.clone())
    } else {
        Expr::val(false)
    };
    let terms = match ask.terms_version.as_deref() {
        None => Expr::val(true),
        Some(v) => Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(terms_acceptance::Entity)
                .and_where(
                    Expr::col((
                        terms_acceptance::Entity,
                        terms_acceptance::Column::AccountId,
                    ))
                    .eq(account),
                )
                .and_where(terms_acceptance::Column::ClientId.eq(ask.client_id))
                .and_where(terms_acceptance::Column::Version.eq(v))
                .to_owned(),
        ),
    };
    q.expr_as(
        Expr::from(consented.into_sub_query_statement()),
        "consented_scope",
    )
    .expr_as(factor, "chosen_factor")
    .expr_as(terms, "accepted_terms");
}

fn answers(row: &QueryResult) -> Result<Standing, DbErr> {
    Ok(Standing {
        consented_scope: row.try_get("", "consented_scope")?,
        chosen_factor: row.try_get("", "chosen_factor")?,
        accepted_terms: row.try_get("", "accepted_terms")?,
    })
}
