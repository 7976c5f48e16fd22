//! The command-line contract, run as the real binary against a real database.

use crate::helpers::TestDb;
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

struct Cli {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(dir.path());
        Self { db, dir }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ally-idp"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.db.url)
            .env("ALLY_IDP_PASSWORD_HASHING__MEMORY_KIB", "64")
            .env("ALLY_IDP_PASSWORD_HASHING__ITERATIONS", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure: non-zero exit and a one-line `error: ...` reason.
fn assert_fails(o: &Output, reason: &str) {
    assert!(!o.status.success(), "expected failure: {}", stdout(o));
    let err = stderr(o);
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: ") && last.contains(reason),
        "stderr: {err}"
    );
}

#[test]
fn client_add_prints_the_secret_once_and_rejects_bad_input() {
    let cli = Cli::new();
    let o = cli.run(
        &[
            "client",
            "add",
            "--client-id",
            "web",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--id-token-alg",
            "RS256",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let secret = stdout(&o).trim().to_owned();
    assert_eq!(secret.len(), 43, "256-bit secret, base64url");

    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "web",
                "--name",
                "Again",
                "--redirect-uri",
                "https://app.example/cb",
            ],
            None,
        ),
        "already exists",
    );
    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "bad",
                "--name",
                "Bad",
                "--redirect-uri",
                "not a uri",
            ],
            None,
        ),
        "not an absolute URI",
    );
    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "bad",
                "--name",
                "Bad",
                "--redirect-uri",
                "http://app.example/cb",
            ],
            None,
        ),
        "https",
    );
    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "bad",
                "--name",
                "Bad",
                "--public",
                "--grant-type",
                "client_credentials",
            ],
            None,
        ),
        "public client",
    );
    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "bad",
                "--name",
                "Bad",
                "--redirect-uri",
                "https://a.example/cb",
                "--secret-stdin",
            ],
            Some("short\n"),
        ),
        "at least 32",
    );
    assert!(
        !cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "bad",
                "--name",
                "Bad",
                "--grant-type",
                "password"
            ],
            None
        )
        .status
        .success()
    );

    let o = cli.run(
        &[
            "client",
            "add",
            "--client-id",
            "mine",
            "--name",
            "Mine",
            "--redirect-uri",
            "https://m.example/cb",
            "--secret-stdin",
        ],
        Some("a-very-long-operator-chosen-secret-0123456789\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "a supplied secret is not echoed");
    let o = cli.run(
        &[
            "client",
            "add",
            "--client-id",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://localhost:3000/cb",
        ],
        None,
    );
    assert!(o.status.success());

    assert_fails(
        &cli.run(
            &[
                "client",
                "add",
                "--client-id",
                "t",
                "--name",
                "T",
                "--redirect-uri",
                "https://t.example/cb",
                "--terms-file",
                "/no/such/terms.txt",
            ],
            None,
        ),
        "cannot read",
    );
    let list = stdout(&cli.run(&["client", "list"], None));
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.contains("web")
            && list.contains("confidential")
            && list.contains("spa")
            && list.contains("public")
    );
    assert!(!list.contains("bad"));
}

#[test]
fn user_add_reads_the_password_from_stdin_and_enforces_the_policy() {
    let cli = Cli::new();
    assert_fails(
        &cli.run(
            &[
                "user",
                "add",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            Some("short\n"),
        ),
        "at least 12",
    );
    assert_fails(
        &cli.run(
            &[
                "user",
                "add",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            Some("\n"),
        ),
        "no password",
    );
    assert_fails(
        &cli.run(
            &[
                "user",
                "add",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            Some("Qwerty123456\n"),
        ),
        "most common",
    );
    assert_fails(
        &cli.run(
            &[
                "user",
                "add",
                "--username",
                "bob",
                "--email",
                "not-an-email",
                "--password-stdin",
            ],
            Some("correct horse battery\n"),
        ),
        "e-mail",
    );
    let o = cli.run(
        &[
            "user",
            "add",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--given-name",
            "Bob",
            "--password-stdin",
        ],
        Some("correct horse battery\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), 36, "prints the account id");
    assert_fails(
        &cli.run(
            &[
                "user",
                "add",
                "--username",
                "BOB",
                "--email",
                "b2@example.com",
                "--password-stdin",
            ],
            Some("correct horse battery\n"),
        ),
        "already taken",
    );
    let list = stdout(&cli.run(&["user", "list"], None));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("bob") && list.contains("active"));
}

#[test]
fn bad_configuration_is_one_clear_line() {
    let cli = Cli::new();
    let o = Command::new(env!("CARGO_BIN_EXE_ally-idp"))
        .args(["client", "list"])
        .current_dir(cli.dir.path())
        .env("ALLY_IDP_TOKENS__NO_SUCH_SETTING", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).starts_with("error: configuration"),
        "{}",
        stderr(&o)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `ally-idp serve` on 127.0.0.1:`port` against the test database (cheap Argon2),
/// with standard output and error piped; killed when dropped.
fn serve(cli: &Cli, port: u16, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ally-idp"));
    cmd.args(["serve", "--listen", &listen])
        .args(args)
        .current_dir(cli.dir.path())
        .env("DATABASE_URL", &cli.db.url)
        .env("ALLY_IDP_PASSWORD_HASHING__MEMORY_KIB", "64")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn().unwrap()
}

#[tokio::test]
async fn serve_demo_seeds_clients_and_a_user_who_can_sign_in() {
    let cli = Cli::new();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = serve(&cli, port, &["--demo", "--issuer", &issuer], &[]);
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    while let Ok(Some(l)) = lines.next_line().await {
        let done = l.starts_with("Demo user:");
        out.push(l);
        if done {
            break;
        }
    }
    let text = out.join("\n");
    for id in ["card-portal", "smartauction", "smartcash", "intellirater"] {
        assert!(text.contains(id), "{text}");
    }
    let password = text
        .lines()
        .last()
        .unwrap()
        .rsplit(" / ")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        cli.dir.path().join("data/master.key").exists(),
        "master key generated into ./data"
    );
    // The demo relying parties' settings: the same secrets, readable by the owner only.
    let apps_file = cli.dir.path().join("data/demo-apps.json");
    let apps: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&apps_file).unwrap()).unwrap();
    assert_eq!(apps["issuer"], format!("http://127.0.0.1:{port}"));
    assert_eq!(apps["apps"].as_array().unwrap().len(), 4);
    for a in apps["apps"].as_array().unwrap() {
        let secret = a["client_secret"].as_str().unwrap();
        assert!(text.contains(secret), "printed secret matches the file");
    }
    #[cfg(unix)]
    {
        let mode = crate::helpers::file_mode(&apps_file);
        assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
    }

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ok = false;
    for _ in 0..50 {
        if http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "server came up");
    let r = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::hidden(&r, "csrf").unwrap();
    let r = http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "demo"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(crate::helpers::location(&r), "/", "demo user signs in");
    child.kill().await.ok();
    // The card portal is open; the dealer applications need a grant.
    let list = stdout(&cli.run(&["client", "list"], None));
    for line in list.lines().skip(1) {
        let expected = if line.starts_with("card-portal") {
            "open"
        } else {
            "grant_required"
        };
        assert!(line.split_whitespace().nth(2) == Some(expected), "{line}");
    }
}

#[test]
fn grants_staff_dealerships_and_audit_export() {
    let cli = Cli::new();
    let ok = |o: Output| {
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    ok(cli.run(
        &[
            "client",
            "add",
            "--client-id",
            "smartauction",
            "--name",
            "SmartAuction",
            "--redirect-uri",
            "https://sa.example/cb",
            "--access",
            "grant_required",
        ],
        None,
    ));
    ok(cli.run(
        &[
            "user",
            "add",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        Some("correct horse battery\n"),
    ));
    assert!(stdout(&cli.run(&["client", "list"], None)).contains("smartauction"));

    ok(cli.run(
        &[
            "grant",
            "add",
            "--username",
            "carol",
            "--client-id",
            "smartauction",
            "--role",
            "buyer",
            "--role",
            "seller",
            "--expires",
            "2099-01-01T00:00:00Z",
        ],
        None,
    ));
    let list = stdout(&ok(cli.run(&["grant", "list", "--username", "carol"], None)));
    assert!(
        list.contains("smartauction")
            && list.contains("active")
            && list.contains("buyer,seller")
            && list.contains("2099"),
        "{list}"
    );
    assert_fails(
        &cli.run(
            &[
                "grant",
                "add",
                "--username",
                "nobody",
                "--client-id",
                "smartauction",
            ],
            None,
        ),
        "no account",
    );
    assert_fails(
        &cli.run(
            &[
                "grant",
                "add",
                "--username",
                "carol",
                "--client-id",
                "ghost",
            ],
            None,
        ),
        "no such application",
    );
    assert_fails(
        &cli.run(
            &[
                "grant",
                "add",
                "--username",
                "carol",
                "--client-id",
                "smartauction",
                "--expires",
                "tomorrow",
            ],
            None,
        ),
        "RFC 3339",
    );
    assert_fails(
        &cli.run(
            &[
                "grant",
                "add",
                "--username",
                "carol",
                "--client-id",
                "smartauction",
                "--expires",
                "2000-01-01T00:00:00Z",
            ],
            None,
        ),
        "future",
    );
    ok(cli.run(
        &[
            "grant",
            "revoke",
            "--username",
            "carol",
            "--client-id",
            "smartauction",
        ],
        None,
    ));
    assert!(
        stdout(&cli.run(&["grant", "list", "--client-id", "smartauction"], None))
            .contains("revoked")
    );
    assert_fails(
        &cli.run(
            &[
                "grant",
                "revoke",
                "--username",
                "carol",
                "--client-id",
                "smartauction",
            ],
            None,
        ),
        "no active grant",
    );

    ok(cli.run(
        &[
            "org",
            "add",
            "--pdn",
            "12345",
            "--name",
            "Main Street Motors",
        ],
        None,
    ));
    assert_fails(
        &cli.run(&["org", "add", "--pdn", "1234", "--name", "Short"], None),
        "5 digits",
    );
    assert_fails(
        &cli.run(&["org", "add", "--pdn", "12345", "--name", "Again"], None),
        "already exists",
    );
    assert!(stdout(&cli.run(&["org", "list"], None)).contains("Main Street Motors"));
    ok(cli.run(
        &["admin", "add", "--username", "carol", "--role", "admin"],
        None,
    ));
    assert_fails(
        &cli.run(
            &[
                "admin",
                "add",
                "--username",
                "carol",
                "--role",
                "dealer_admin",
            ],
            None,
        ),
        "--pdn",
    );
    assert_fails(
        &cli.run(
            &[
                "admin",
                "add",
                "--username",
                "carol",
                "--role",
                "dealer_admin",
                "--pdn",
                "99999",
            ],
            None,
        ),
        "no dealership",
    );
    ok(cli.run(
        &[
            "admin",
            "add",
            "--username",
            "carol",
            "--role",
            "dealer_admin",
            "--pdn",
            "12345",
        ],
        None,
    ));
    assert_fails(
        &cli.run(
            &["admin", "add", "--username", "ghost", "--role", "admin"],
            None,
        ),
        "no account",
    );

    let jsonl = stdout(&ok(cli.run(
        &["audit", "export", "--since", "2000-01-01T00:00:00Z"],
        None,
    )));
    let events: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in [
        "client.created",
        "account.created",
        "grant.added",
        "grant.revoked",
        "organization.created",
        "staff.role_added",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == "cli" || e["event"] == "signing_key.created")
    );
    let csv = stdout(&ok(cli.run(
        &[
            "audit",
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--format",
            "csv",
        ],
        None,
    )));
    assert!(csv.starts_with("id,at,event,actor,target,client_ip,request_id,detail\n"));
    assert_eq!(csv.lines().count(), events.len() + 1);
    assert_eq!(
        stdout(&ok(cli.run(
            &["audit", "export", "--since", "2999-01-01T00:00:00Z"],
            None
        ))),
        ""
    );
    assert_fails(
        &cli.run(&["audit", "export", "--since", "yesterday"], None),
        "RFC 3339",
    );
}

#[test]
fn customers_import_stores_only_keyed_hashes_and_is_all_or_nothing() {
    let cli = Cli::new();
    let good = cli.dir.path().join("good.csv");
    std::fs::write(
        &good,
        "card_number,account_number,ssn_last4,given_name,family_name,email\n\
         4111 1111 1111 1111,,1234,Ann,Lee,ann@example.com\n\
         ,9876543210,5678,Ben,Ortiz,ben@example.com\n",
    )
    .unwrap();
    let o = cli.run(&["customers", "import", good.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 created, 0 updated"),
        "{}",
        stdout(&o)
    );
    // Re-import updates in place.
    std::fs::write(&good, "card_number,ssn_last4,given_name,family_name,email\n4111111111111111,1234,Ann,Lee-Smith,ann@example.com\n").unwrap();
    let o = cli.run(&["customers", "import", good.to_str().unwrap()], None);
    assert!(
        stdout(&o).contains("0 created, 1 updated"),
        "{}",
        stdout(&o)
    );

    let bad = cli.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "card_number,account_number,ssn_last4,given_name,family_name,email\n\
         5500000000000004,,4321,Cy,Ng,cy@example.com\n\
         4111111111111112,,1234,Bad,Luhn,x@example.com\n\
         ,12,1234,Short,Account,y@example.com\n",
    )
    .unwrap();
    let o = cli.run(&["customers", "import", bad.to_str().unwrap()], None);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("line 3: card_number") && err.contains("line 4: account_number"),
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("error: 2 invalid row(s)"),
        "{err}"
    );
    assert_fails(
        &cli.run(&["customers", "import", "/no/such/file.csv"], None),
        "cannot read",
    );

    // Only two records exist (the good row of the bad file was not imported), and no stored
    // value contains a number.
    let rows = sqlite_or_pg_dump(&cli);
    assert_eq!(
        rows.iter().filter(|r| r.contains("@example.com")).count(),
        2,
        "{rows:?}"
    );
    for r in &rows {
        for secret in [
            "4111111111111111",
            "9876543210",
            "1234",
            "5678",
            "5500000000000004",
        ] {
            assert!(!r.contains(secret), "{secret} stored in the clear: {r}");
        }
    }
}

/// Every customer row as text, from whichever database the CLI used.
fn sqlite_or_pg_dump(cli: &Cli) -> Vec<String> {
    let url = cli.db.url.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sea_orm::{ConnectionTrait, Statement};
            let db = sea_orm::Database::connect(&url).await.unwrap();
            let rows = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT id, card_hash, account_hash, ssn_last4_hash, given_name, family_name, email FROM customer"))
                .await
                .unwrap();
            rows.iter()
                .map(|r| {
                    (0..7).map(|i| r.try_get_by_index::<Option<String>>(i).unwrap().unwrap_or_default()).collect::<Vec<_>>().join("|")
                })
                .collect()
        })
    })
    .join()
    .unwrap()
}

/// `client add` of a code-flow client at https://app.example/cb, with `extra` arguments.
fn client_add(cli: &Cli, id: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "client",
        "add",
        "--client-id",
        id,
        "--name",
        id,
        "--redirect-uri",
        "https://app.example/cb",
    ];
    args.extend_from_slice(extra);
    cli.run(&args, None)
}

#[test]
fn client_add_sets_the_mfa_policy_and_list_shows_it() {
    let cli = Cli::new();
    let add = |id: &str, mfa: Option<&str>| match mfa {
        Some(m) => client_add(&cli, id, &["--mfa", m]),
        None => client_add(&cli, id, &[]),
    };
    assert!(add("strict", Some("required")).status.success());
    assert!(add("plain", None).status.success());
    let bad = add("odd", Some("sometimes"));
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid value 'sometimes'"),
        "{}",
        stderr(&bad)
    );
    let list = stdout(&cli.run(&["client", "list"], None));
    let row = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} in {list}"))
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_owned()
    };
    assert_eq!(row("strict"), "required");
    assert_eq!(row("plain"), "optional", "the configured default");
    assert!(!list.contains("odd"));
}

#[test]
fn client_add_registers_logout_uris_and_refuses_bad_ones() {
    let cli = Cli::new();
    let add = |id: &str, extra: &[&str]| client_add(&cli, id, extra);
    let ok = add(
        "both",
        &[
            "--backchannel-logout-uri",
            "https://app.example/backchannel-logout",
            "--frontchannel-logout-uri",
            "https://app.example/frontchannel-logout",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        add(
            "back",
            &["--backchannel-logout-uri", "https://app.example/bcl"]
        )
        .status
        .success()
    );
    // Plain http off loopback, and a front-channel page on another site: refused.
    let bad = add(
        "plain",
        &["--backchannel-logout-uri", "http://app.example/bcl"],
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("back-channel logout URI"),
        "{}",
        stderr(&bad)
    );
    let bad = add(
        "elsewhere",
        &["--frontchannel-logout-uri", "https://other.example/fcl"],
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("scheme, host and port of a redirect URI"),
        "{}",
        stderr(&bad)
    );
    let list = stdout(&cli.run(&["client", "list"], None));
    let logout = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} in {list}"))
            .split_whitespace()
            .nth(5)
            .unwrap()
            .to_owned()
    };
    assert_eq!(logout("both"), "back+front");
    assert_eq!(logout("back "), "back-channel");
    assert!(!list.contains("plain") && !list.contains("elsewhere"));
}

#[test]
fn reports_list_locked_and_soon_inactive_user_ids() {
    let cli = Cli::new();
    let add = cli.run(
        &[
            "user",
            "add",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some("correct horse battery staple\n"),
    );
    assert!(add.status.success(), "{}", stderr(&add));
    // Nothing is locked or due yet.
    let locked = cli.run(&["report", "locked", "--format", "csv"], None);
    assert!(locked.status.success(), "{}", stderr(&locked));
    assert_eq!(
        stdout(&locked).trim(),
        "username,kind,status,last_sign_in,idle_since,deactivation_due,locked_until"
    );
    let inactive = cli.run(&["report", "inactive"], None);
    assert!(!stdout(&inactive).contains("bob"));
    // With a warning period longer than the limit, a new user ID is already "due soon".
    let soon = Command::new(env!("CARGO_BIN_EXE_ally-idp"))
        .args(["report", "inactive", "--format", "csv"])
        .current_dir(cli.dir.path())
        .env("DATABASE_URL", &cli.db.url)
        .env("ALLY_IDP_INACTIVITY__WARN_DAYS_BEFORE", "90")
        .output()
        .unwrap();
    assert!(soon.status.success(), "{}", stderr(&soon));
    let out = stdout(&soon);
    let row = out.lines().nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(row.starts_with("bob,other,active,,"), "{row}");
    let bad = cli.run(&["report", "everything"], None);
    assert!(!bad.status.success());
}

#[tokio::test]
async fn serve_writes_json_logs_when_asked() {
    let cli = Cli::new();
    let port = free_port();
    let mut child = serve(&cli, port, &[], &[("ALLY_IDP_LOG_FORMAT", "json")]);
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let listening = loop {
        let Ok(Ok(Some(l))) =
            tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await
        else {
            panic!("no 'listening' line in {seen:?}");
        };
        if l.starts_with("No administrator") || l.starts_with("  ") {
            continue; // the plain guidance for the operator, not a log line
        }
        let v: serde_json::Value =
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        seen.push(v.clone());
        if v["message"] == "ally-idp listening" {
            break v;
        }
    };
    assert_eq!(listening["level"], "INFO");
    assert_eq!(listening["addr"], format!("127.0.0.1:{port}"));
    child.kill().await.ok();
}

#[test]
fn keys_rotate_publishes_a_next_key_and_list_shows_the_states() {
    let cli = Cli::new();
    // On a fresh database the first keys (one per algorithm) are made, then ES256 rotated.
    let out = cli.run(&["keys", "rotate", "--alg", "ES256"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(line.starts_with("ES256"), "{line}");
    assert!(line.contains("signs from"), "{line}");
    let list = stdout(&cli.run(&["keys", "list"], None));
    let signing = list.lines().filter(|l| l.contains(" signing ")).count();
    assert_eq!(signing, 3, "{list}");
    let es: Vec<_> = list.lines().filter(|l| l.contains(" ES256 ")).collect();
    assert_eq!(es.len(), 2, "{list}");
    assert!(
        es[0].contains(" signing "),
        "the old key signs until the new one's time: {list}"
    );
    assert!(es[1].contains(" next "), "{list}");
    let bad = cli.run(&["keys", "rotate", "--alg", "HS256"], None);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid value 'HS256'"),
        "{}",
        stderr(&bad)
    );
}

/// Reads `serve`'s JSON log lines until one satisfies `want`; panics after 30 s.
async fn log_line_where(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut seen = Vec::new();
    loop {
        let Ok(Ok(Some(l))) =
            tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await
        else {
            panic!("no such log line in {seen:?}");
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) else {
            continue; // the plain guidance for the operator, not a log line
        };
        if want(&v) {
            return v;
        }
        seen.push(v);
    }
}

/// Waits until `serve` answers HTTP (the port is bound before migrations run, and until the
/// server runs, SIGTERM still has its default effect).
async fn wait_until_up(port: u16) {
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("serve did not start on {port}");
}

#[tokio::test]
async fn log_lines_of_a_request_carry_its_request_id() {
    let cli = Cli::new();
    let port = free_port();
    let mut child = serve(
        &cli,
        port,
        &[],
        &[
            ("ALLY_IDP_LOG_FORMAT", "json"),
            ("ALLY_IDP_LOG", "info,ally_idp=debug"),
        ],
    );
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    log_line_where(&mut lines, |v| v["message"] == "ally-idp listening").await;
    let r = reqwest::get(format!("http://127.0.0.1:{port}/no/such/page"))
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        r.text().await.unwrap().contains(&id),
        "the error page quotes it"
    );
    let line = log_line_where(&mut lines, |v| v["message"] == "request finished").await;
    assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
    assert_eq!(line["status"], 404);
    child.kill().await.ok();
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cli = Cli::new();
    let port = free_port();
    let mut child = serve(&cli, port, &[], &[]);
    wait_until_up(port).await;
    // A token request whose body is still on its way when the signal comes.
    let body = "grant_type=client_credentials&client_id=nobody";
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Still there, waiting for the request to finish; new connections are refused.
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "no new connections once shutting down"
    );
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("invalid_client"), "{response}");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("exits after the last request")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// With the default settings the data directory holds the database, the generated master key
/// and the mail outbox: only the service's user may read them, whatever the umask
/// (`private_files`).
#[cfg(unix)]
#[test]
fn the_data_directory_is_readable_by_its_owner_only() {
    use crate::helpers::file_mode as mode;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_ally-idp"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("ALLY_IDP_DATABASE_URL")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run(&["migrate"]);
    run(&[
        "client",
        "add",
        "--client-id",
        "svc",
        "--name",
        "Service",
        "--grant-type",
        "client_credentials",
    ]);
    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    let mut files = 0;
    for f in std::fs::read_dir(&data).unwrap().flatten() {
        assert_eq!(mode(&f.path()), 0o600, "{}", f.path().display());
        files += 1;
    }
    assert!(data.join("ally-idp.db").exists() && data.join("master.key").exists());
    assert!(files >= 2, "the database and the key at least");
}
