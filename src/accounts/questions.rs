//! Challenge questions and the help-desk secret question. People answer in their own way on
//! different days, so answers are normalised (trimmed, case-folded, inner whitespace
//! collapsed) and then hashed with Argon2id like passwords: they are low-entropy secrets.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    config::Questions,
    crypto::password::{PasswordError, PasswordHasher},
    store,
};

/// Which answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Challenge1,
    Challenge2,
    Helpdesk,
}

impl Slot {
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Challenge1 => "challenge1",
            Slot::Challenge2 => "challenge2",
            Slot::Helpdesk => "helpdesk",
        }
    }
}

/// The form answers are compared in: "  Smith-Jones " and "smith-jones" are the same answer.
pub fn normalize(answer: &str) -> String {
    answer
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub struct Answer {
    pub question: String,
    pub answer: SecretString,
}

pub struct SecurityAnswers {
    pub challenge: [Answer; 2],
    pub helpdesk: Answer,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuestionError {
    #[error("choose your questions from the list")]
    UnknownQuestion,
    #[error("choose two different challenge questions")]
    SameQuestion,
    #[error("each answer must be 2 to 100 characters")]
    BadAnswer,
    #[error("use different answers for your challenge questions")]
    SameAnswer,
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error(transparent)]
    Invalid(#[from] QuestionError),
    #[error(transparent)]
    Hash(#[from] PasswordError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Checks the choices against the configured lists and the answers' shape.
pub fn validate(a: &SecurityAnswers, q: &Questions) -> Result<(), QuestionError> {
    let [c1, c2] = &a.challenge;
    if !q.challenge.contains(&c1.question)
        || !q.challenge.contains(&c2.question)
        || !q.helpdesk.contains(&a.helpdesk.question)
    {
        return Err(QuestionError::UnknownQuestion);
    }
    if c1.question == c2.question {
        return Err(QuestionError::SameQuestion);
    }
    let normalized: Vec<String> = [c1, c2, &a.helpdesk]
        .iter()
        .map(|x| normalize(x.answer.expose_secret()))
        .collect();
    if normalized
        .iter()
        .any(|n| !(2..=100).contains(&n.chars().count()))
    {
        return Err(QuestionError::BadAnswer);
    }
    if normalized[0] == normalized[1] {
        return Err(QuestionError::SameAnswer);
    }
    Ok(())
}

/// Stores (or replaces) all three answers, hashed.
pub async fn set(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    now: DateTime<Utc>,
    account_id: &str,
    a: &SecurityAnswers,
    q: &Questions,
) -> Result<(), SetError> {
    validate(a, q)?;
    let [c1, c2] = &a.challenge;
    for (slot, ans) in [
        (Slot::Challenge1, c1),
        (Slot::Challenge2, c2),
        (Slot::Helpdesk, &a.helpdesk),
    ] {
        let hash = hasher
            .hash(&SecretString::from(normalize(ans.answer.expose_secret())))
            .await?;
        store::answers::upsert(
            c,
            entity::security_answer::Model {
                account_id: account_id.to_owned(),
                slot: slot.as_str().to_owned(),
                question: ans.question.clone(),
                answer_hash: hash,
                set_at: now,
            },
        )
        .await?;
    }
    Ok(())
}

/// The question in a slot, if the account has set one.
pub async fn question(
    c: &impl ConnectionTrait,
    account_id: &str,
    slot: Slot,
) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(store::answers::find(c, account_id, slot.as_str())
        .await?
        .map(|m| m.question))
}

/// Whether `answer` matches the stored one (after normalisation). An account without that
/// answer still costs one hash verification, so timing does not tell.
pub async fn verify(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    account_id: &str,
    slot: Slot,
    answer: &SecretString,
) -> Result<bool, SetError> {
    let stored = store::answers::find(c, account_id, slot.as_str()).await?;
    let normalized = SecretString::from(normalize(answer.expose_secret()));
    Ok(hasher
        .verify(&normalized, stored.as_ref().map(|m| m.answer_hash.as_str()))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Questions {
        Questions {
            challenge: vec!["Q1?".into(), "Q2?".into(), "Q3?".into()],
            helpdesk: vec!["H1?".into()],
        }
    }

    fn answers(q1: &str, a1: &str, q2: &str, a2: &str, h: &str) -> SecurityAnswers {
        let a = |q: &str, x: &str| Answer {
            question: q.into(),
            answer: SecretString::from(x.to_owned()),
        };
        SecurityAnswers {
            challenge: [a(q1, a1), a(q2, a2)],
            helpdesk: a("H1?", h),
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("  Smith   Jones "), "smith jones");
        assert_eq!(normalize("ÉCOLE\tSaint-Paul"), "école saint-paul");
    }

    #[test]
    fn validation() {
        let q = cfg();
        assert_eq!(
            validate(&answers("Q1?", "Rex", "Q2?", "Paris", "Dune"), &q),
            Ok(())
        );
        assert_eq!(
            validate(&answers("Q9?", "Rex", "Q2?", "Paris", "Dune"), &q),
            Err(QuestionError::UnknownQuestion)
        );
        assert_eq!(
            validate(&answers("Q1?", "Rex", "Q1?", "Paris", "Dune"), &q),
            Err(QuestionError::SameQuestion)
        );
        assert_eq!(
            validate(&answers("Q1?", "x", "Q2?", "Paris", "Dune"), &q),
            Err(QuestionError::BadAnswer)
        );
        assert_eq!(
            validate(&answers("Q1?", "Rex", "Q2?", " REX ", "Dune"), &q),
            Err(QuestionError::SameAnswer)
        );
    }
}
