//! Challenge and help-desk questions against the real database.

use ally_idp::accounts::questions::{self, Answer, SecurityAnswers, Slot};
use secrecy::SecretString;

use crate::helpers::TestApp;

fn answer(q: &str, a: &str) -> Answer {
    Answer {
        question: q.into(),
        answer: SecretString::from(a.to_owned()),
    }
}

#[tokio::test]
async fn answers_are_hashed_normalised_and_verified() {
    let app = TestApp::spawn().await;
    let id = app.add_user("alice").await;
    let q = &app.state.config.questions;
    let set = SecurityAnswers {
        challenge: [
            answer(&q.challenge[0], "  Smith-Jones "),
            answer(&q.challenge[1], "Rex"),
        ],
        helpdesk: answer(&q.helpdesk[0], "Dune"),
    };
    questions::set(
        &app.state.db,
        &app.state.passwords,
        app.state.clock.now(),
        &id,
        &set,
        q,
    )
    .await
    .unwrap();
    let ok = |slot, a: &str| {
        let app = &app;
        let id = id.clone();
        let a = SecretString::from(a.to_owned());
        async move {
            questions::verify(&app.state.db, &app.state.passwords, &id, slot, &a)
                .await
                .unwrap()
        }
    };
    assert!(ok(Slot::Challenge1, "smith-jones").await);
    assert!(ok(Slot::Challenge1, "SMITH-JONES").await);
    assert!(ok(Slot::Challenge2, " rex").await);
    assert!(ok(Slot::Helpdesk, "dune").await);
    assert!(
        !ok(Slot::Challenge1, "smith jones").await,
        "the hyphen matters"
    );
    assert!(!ok(Slot::Helpdesk, "Rex").await);
    let nobody = questions::verify(
        &app.state.db,
        &app.state.passwords,
        "no-such-account",
        Slot::Helpdesk,
        &SecretString::from("dune"),
    )
    .await
    .unwrap();
    assert!(!nobody);
    assert_eq!(
        questions::question(&app.state.db, &id, Slot::Challenge2)
            .await
            .unwrap()
            .as_deref(),
        Some(q.challenge[1].as_str())
    );

    // Nothing readable is stored.
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT answer_hash FROM security_answer",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        let h: String = r.try_get_by_index(0).unwrap();
        assert!(
            h.starts_with("$argon2id$")
                && !h.to_lowercase().contains("smith")
                && !h.contains("dune"),
            "{h}"
        );
    }

    // A question not on the configured list is refused and nothing changes.
    let bad = SecurityAnswers {
        challenge: [
            answer("What is your PIN?", "1234"),
            answer(&q.challenge[1], "Rex"),
        ],
        helpdesk: answer(&q.helpdesk[0], "Dune"),
    };
    assert!(
        questions::set(
            &app.state.db,
            &app.state.passwords,
            app.state.clock.now(),
            &id,
            &bad,
            q
        )
        .await
        .is_err()
    );
    assert!(ok(Slot::Challenge1, "smith-jones").await);
}
