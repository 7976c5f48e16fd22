//! `ally-loadgen`: a closed-loop HTTP/1.1 load generator for OpenID providers on loopback.
//!
//! Each of `--connections` keep-alive connections sends one operation, waits for its
//! answer, and sends the next, for `--duration` seconds after a warm-up. It reports
//! operations per second, p50/p99 latency per operation, errors, and the server's resident
//! memory (sampled from `/proc/<pid>/status` every 50 ms when `--server-pid` is given).
//!
//! The client is deliberately tiny (hand-written HTTP/1.1 over tokio sockets, no TLS, no
//! connection pool): it shares the machine's two cores with the server, and every cycle
//! it spends is one the server does not get. It speaks just what the providers answer
//! with: `Content-Length` bodies, `Set-Cookie`, `Location`.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use clap::{Parser, ValueEnum};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Discovery,
    Jwks,
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
    PasswordSignIn,
    Userinfo,
    Introspection,
    /// Raw argon2id verifications on every core, no HTTP: the ceiling for sign-ins.
    Argon2,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Discovery => "discovery",
            Scenario::Jwks => "jwks",
            Scenario::ClientCredentials => "client_credentials",
            Scenario::RefreshToken => "refresh_token",
            Scenario::AuthorizationCode => "authorization_code+sso",
            Scenario::PasswordSignIn => "password_sign_in",
            Scenario::Userinfo => "userinfo",
            Scenario::Introspection => "introspection",
            Scenario::Argon2 => "argon2id_raw",
        }
    }
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Closed-loop load against an OpenID provider on loopback")]
struct Args {
    /// The provider's address (http only, loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    target: SocketAddr,
    /// Scenarios to run, in order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<Scenario>,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Connections for the argon2-bound password sign-in (more only queue on the hashes).
    #[arg(long, default_value_t = 8)]
    sign_in_connections: usize,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before each scenario.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// The server's process id, to sample its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value = "/.well-known/openid-configuration")]
    discovery_path: String,
    #[arg(long, default_value = "/jwks")]
    jwks_path: String,
    #[arg(long, default_value = "/token")]
    token_path: String,
    #[arg(long, default_value = "/introspect")]
    introspection_path: String,
    #[arg(long, default_value = "/userinfo")]
    userinfo_path: String,
    /// A client allowed client_credentials.
    #[arg(long, default_value = "bench-service")]
    service_client: String,
    #[arg(long, env = "BENCH_SERVICE_SECRET", default_value = "")]
    service_secret: String,
    /// A confidential client allowed authorization_code and refresh_token.
    #[arg(long, default_value = "bench-web")]
    web_client: String,
    #[arg(long, env = "BENCH_WEB_SECRET", default_value = "")]
    web_secret: String,
    #[arg(long, default_value = "http://127.0.0.1:9/cb")]
    redirect_uri: String,
    #[arg(long, default_value = "bench")]
    username: String,
    #[arg(long, env = "BENCH_PASSWORD", default_value = "")]
    password: String,
    /// Argon2id parameters for the raw-verification scenario (the provider's defaults).
    #[arg(long, default_value_t = 19456)]
    argon2_memory_kib: u32,
    #[arg(long, default_value_t = 2)]
    argon2_iterations: u32,
    #[arg(long, default_value_t = 2)]
    argon2_parallelism: u32,
    /// Print the results as JSON lines as well as the table.
    #[arg(long)]
    json: bool,
    /// Append each measured operation to this file as "scenario end_ms latency_ms" (when
    /// it ended, from the start of measuring): to see when the slow ones happen.
    #[arg(long)]
    timeline: Option<std::path::PathBuf>,
}

/// One HTTP response, as much of it as the scenarios read.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive connection with a cookie jar (one browser, or one client).
struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    cookies: HashMap<String, String>,
}

const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            cookies: HashMap::new(),
        }
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Response> {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ally-loadgen\r\n",
            self.addr
        );
        for (k, v) in headers {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = write!(head, "Cookie: {}\r\n", jar.join("; "));
        }
        if !body.is_empty() || method == "POST" {
            let _ = write!(head, "Content-Length: {}\r\n", body.len());
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        match self.exchange(&out).await {
            Ok(r) => Ok(r),
            Err(_) => {
                // The server may close an idle keep-alive connection: one fresh try.
                self.stream = None;
                self.exchange(&out).await
            }
        }
    }

    async fn exchange(&mut self, out: &[u8]) -> anyhow::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let stream = self.stream.as_mut().ok_or_else(|| anyhow!("no stream"))?;
        stream.write_all(out).await?;
        let resp = read_response(stream, &mut self.buf).await;
        if resp.is_err() {
            self.stream = None;
        }
        let resp = resp?;
        for (k, v) in &resp.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap_or("");
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() || v.to_ascii_lowercase().contains("max-age=0") {
                        self.cookies.remove(name.trim());
                    } else {
                        self.cookies
                            .insert(name.trim().to_owned(), value.trim().to_owned());
                    }
                }
            }
            if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                self.stream = None;
            }
        }
        Ok(resp)
    }

    async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Response> {
        self.request("GET", path, headers, b"").await
    }

    async fn post_form(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> anyhow::Result<Response> {
        let body = encode_form(form);
        let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        self.request("POST", path, &h, body.as_bytes()).await
    }
}

async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<Response> {
    let finder = memchr::memmem::Finder::new(b"\r\n\r\n");
    let head_end = loop {
        if let Some(i) = finder.find(buf) {
            break i;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| anyhow!("empty response"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    let mut length = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().context("content-length")?;
            }
            if k.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by this load generator");
            }
            headers.push((k, v));
        }
    }
    let total = head_end + 4 + length;
    while buf.len() < total {
        read_more(stream, buf).await?;
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Ok(Response {
        status,
        headers,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        bail!("connection closed");
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// application/x-www-form-urlencoded escaping (unreserved characters pass).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", pct(id), pct(secret)))
    )
}

/// The value of a hidden input (`name="x" value="y"`).
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let q = location.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// Signs in with the form (a fresh CSRF token each time): the session cookie lands in
/// the connection's jar.
async fn sign_in(c: &mut Conn, a: &Args) -> anyhow::Result<()> {
    let page = c.get("/login", &[]).await?;
    if page.status != 200 {
        bail!("GET /login answered {}", page.status);
    }
    let csrf = hidden(&page.text(), "csrf").ok_or_else(|| anyhow!("no csrf field"))?;
    let r = c
        .post_form(
            "/login",
            &[],
            &[
                ("csrf", &csrf),
                ("username", &a.username),
                ("password", &a.password),
            ],
        )
        .await?;
    if r.status != 303 {
        bail!("sign-in answered {}: {}", r.status, r.text());
    }
    Ok(())
}

fn authorize_path(a: &Args) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=s1&nonce=n1&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256",
        pct(&a.web_client),
        pct(&a.redirect_uri)
    )
}

/// Authorize with the session the connection holds, then exchange the code; also how long
/// the exchange (the token endpoint's part) took, in microseconds.
async fn code_flow(c: &mut Conn, a: &Args) -> anyhow::Result<(serde_json::Value, u32)> {
    let r = c.get(&authorize_path(a), &[]).await?;
    let loc = r.header("location").unwrap_or("").to_owned();
    let code = query_param(&loc, "code")
        .ok_or_else(|| anyhow!("authorize answered {} to {loc:?}", r.status))?;
    let auth = basic(&a.web_client, &a.web_secret);
    let t0 = Instant::now();
    let r = c
        .post_form(
            &a.token_path,
            &[("Authorization", &auth)],
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &a.redirect_uri),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await?;
    let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
    if r.status != 200 {
        bail!("code exchange answered {}: {}", r.status, r.text());
    }
    Ok((r.json()?, us))
}

/// What one connection holds between operations.
#[derive(Default)]
struct Held {
    refresh_token: String,
    access_token: String,
    /// The last code flow's exchange latency (µs).
    exchange_us: Option<u32>,
}

async fn setup(s: Scenario, c: &mut Conn, a: &Args) -> anyhow::Result<Held> {
    let mut held = Held::default();
    match s {
        Scenario::RefreshToken | Scenario::Userinfo | Scenario::Introspection => {
            sign_in(c, a).await?;
            let (t, _) = code_flow(c, a).await?;
            held.refresh_token = t["refresh_token"].as_str().unwrap_or("").to_owned();
            held.access_token = t["access_token"].as_str().unwrap_or("").to_owned();
            c.cookies.clear();
        }
        Scenario::AuthorizationCode => sign_in(c, a).await?,
        _ => {}
    }
    Ok(held)
}

/// One operation; Ok(false) is a wrong answer (counted as an error).
async fn op(s: Scenario, c: &mut Conn, a: &Args, held: &mut Held) -> anyhow::Result<bool> {
    Ok(match s {
        Scenario::Discovery => c.get(&a.discovery_path, &[]).await?.status == 200,
        Scenario::Jwks => c.get(&a.jwks_path, &[]).await?.status == 200,
        Scenario::ClientCredentials => {
            let auth = basic(&a.service_client, &a.service_secret);
            let r = c
                .post_form(
                    &a.token_path,
                    &[("Authorization", &auth)],
                    &[("grant_type", "client_credentials")],
                )
                .await?;
            r.status == 200
        }
        Scenario::RefreshToken => {
            let auth = basic(&a.web_client, &a.web_secret);
            let r = c
                .post_form(
                    &a.token_path,
                    &[("Authorization", &auth)],
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &held.refresh_token),
                    ],
                )
                .await?;
            if r.status != 200 {
                return Ok(false);
            }
            let t = r.json()?;
            held.refresh_token = t["refresh_token"]
                .as_str()
                .ok_or_else(|| anyhow!("no rotated refresh token"))?
                .to_owned();
            true
        }
        Scenario::AuthorizationCode => match code_flow(c, a).await {
            Ok((_, us)) => {
                held.exchange_us = Some(us);
                true
            }
            Err(_) => false,
        },
        Scenario::PasswordSignIn => {
            c.cookies.clear();
            sign_in(c, a).await.is_ok()
        }
        Scenario::Userinfo => {
            let auth = format!("Bearer {}", held.access_token);
            c.get(&a.userinfo_path, &[("Authorization", &auth)])
                .await?
                .status
                == 200
        }
        Scenario::Introspection => {
            let auth = basic(&a.web_client, &a.web_secret);
            let r = c
                .post_form(
                    &a.introspection_path,
                    &[("Authorization", &auth)],
                    &[("token", &held.access_token)],
                )
                .await?;
            r.status == 200 && memchr::memmem::find(&r.body, b"\"active\":true").is_some()
        }
        Scenario::Argon2 => false,
    })
}

struct Outcome {
    scenario: Scenario,
    connections: usize,
    ops: u64,
    errors: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// In the code flow: p50 and p99 of its token request alone.
    exchange: Option<(f64, f64)>,
    peak_rss_mib: Option<f64>,
}

/// The server's memory: (current VmRSS, VmHWM) in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

async fn run_http(s: Scenario, a: &Arc<Args>) -> anyhow::Result<Outcome> {
    let connections = if s == Scenario::PasswordSignIn {
        a.sign_in_connections
    } else {
        a.connections
    };
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut c = Conn::new(a.target);
        let held = setup(s, &mut c, a)
            .await
            .with_context(|| format!("setting up {}", s.name()))?;
        conns.push((c, held));
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // Set when measuring starts; the timeline's clock.
    let epoch = Arc::new(std::sync::OnceLock::<Instant>::new());
    let timeline = a.timeline.is_some();
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (mut c, mut held) in conns {
        let (a, measuring, stop, errors, epoch) = (
            a.clone(),
            measuring.clone(),
            stop.clone(),
            errors.clone(),
            epoch.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut ended: Vec<(u32, u32)> = Vec::new();
            let mut exchanges: Vec<u32> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let ok = matches!(op(s, &mut c, &a, &mut held).await, Ok(true));
                let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(us);
                        if let Some(x) = held.exchange_us.take() {
                            exchanges.push(x);
                        }
                        if timeline && let Some(e) = epoch.get() {
                            let at = u32::try_from(e.elapsed().as_micros()).unwrap_or(u32::MAX);
                            ended.push((at, us));
                        }
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if !ok && s == Scenario::RefreshToken {
                    // A chain that broke cannot continue; start a new one.
                    if let Ok(h) = setup(s, &mut c, &a).await {
                        held = h;
                    }
                }
            }
            (lat, ended, exchanges)
        }));
    }
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    let hwm_before = a.server_pid.and_then(rss_kib).map(|(_, h)| h);
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = a.server_pid.map(|pid| {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some((rss, _)) = rss_kib(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let started = Instant::now();
    let _ = epoch.set(started);
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(a.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut ended = Vec::new();
    let mut exchanges = Vec::new();
    for t in tasks {
        let (l, e, x) = t.await?;
        lat.extend(l);
        ended.extend(e);
        exchanges.extend(x);
    }
    exchanges.sort_unstable();
    if let Some(path) = &a.timeline {
        ended.sort_unstable();
        let mut out = String::new();
        for (at, us) in ended {
            let _ = writeln!(
                out,
                "{} {:.3} {:.3}",
                s.name(),
                f64::from(at) / 1000.0,
                f64::from(us) / 1000.0
            );
        }
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(out.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(s) = sampler {
        let _ = s.await;
    }
    lat.sort_unstable();
    // The high-water mark catches a peak between samples.
    let hwm_after = a.server_pid.and_then(rss_kib).map(|(_, h)| h);
    let peak_kib = match (hwm_before, hwm_after) {
        (Some(b), Some(h)) if h > b => h,
        _ => peak.load(Ordering::Relaxed),
    };
    Ok(Outcome {
        scenario: s,
        connections,
        ops: lat.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        secs,
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        exchange: (!exchanges.is_empty())
            .then(|| (percentile(&exchanges, 50.0), percentile(&exchanges, 99.0))),
        peak_rss_mib: a.server_pid.map(|_| peak_kib as f64 / 1024.0),
    })
}

/// argon2id verification of one password on every core, as fast as they go.
fn run_argon2(a: &Args) -> anyhow::Result<Outcome> {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
    let params = Params::new(
        a.argon2_memory_kib,
        a.argon2_iterations,
        a.argon2_parallelism,
        None,
    )
    .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let hash = argon
        .hash_password(b"correct horse battery staple")
        .map_err(|e| anyhow!("hash: {e}"))?
        .to_string();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(a.duration);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (argon, hash) = (argon.clone(), hash.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let Ok(parsed) = argon2::PasswordHash::new(&hash) else {
                    return lat;
                };
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let ok = argon
                        .verify_password(b"correct horse battery staple", &parsed)
                        .is_ok();
                    if ok {
                        lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| anyhow!("argon2 thread panicked"))?);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok(Outcome {
        scenario: Scenario::Argon2,
        connections: threads,
        ops: lat.len() as u64,
        errors: 0,
        secs,
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        exchange: None,
        peak_rss_mib: None,
    })
}

/// Every scenario, with raw Argon2id run right before and right after the password sign-in:
/// the machine's speed drifts (other guests, frequency), and the sign-in target is a share
/// of raw, so raw is measured on both sides of it rather than once, minutes away.
fn default_order() -> Vec<Scenario> {
    let mut order = Vec::new();
    for &s in Scenario::value_variants() {
        match s {
            Scenario::PasswordSignIn => {
                order.extend([Scenario::Argon2, s, Scenario::Argon2]);
            }
            Scenario::Argon2 => {}
            _ => order.push(s),
        }
    }
    order
}

/// For each password sign-in run, its rate as a share of raw Argon2id: the mean of the raw
/// runs just before and just after it (either one alone when only one exists), and that
/// mean. Sign-ins with no raw run on either side are left out.
fn sign_in_shares(rates: &[(Scenario, f64)]) -> Vec<(f64, f64)> {
    let raw_near = |range: &mut dyn Iterator<Item = &(Scenario, f64)>| {
        range
            .take_while(|(s, _)| *s != Scenario::PasswordSignIn)
            .find(|(s, _)| *s == Scenario::Argon2)
            .map(|&(_, r)| r)
    };
    rates
        .iter()
        .enumerate()
        .filter(|(_, (s, _))| *s == Scenario::PasswordSignIn)
        .filter_map(|(i, &(_, rate))| {
            let before = raw_near(&mut rates[..i].iter().rev());
            let after = raw_near(&mut rates[i + 1..].iter());
            let raw = match (before, after) {
                (Some(a), Some(b)) => (a + b) / 2.0,
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return None,
            };
            (raw > 0.0).then(|| (rate / raw, raw))
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let scenarios = if args.scenario.is_empty() {
        default_order()
    } else {
        args.scenario.clone()
    };
    let idle = args.server_pid.and_then(rss_kib);
    if let Some((rss, _)) = idle {
        println!("server idle RSS: {:.1} MiB", rss as f64 / 1024.0);
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "idle_rss_mib": rss as f64 / 1024.0 })
            );
        }
    }
    println!(
        "{:<24} {:>5} {:>11} {:>9} {:>9} {:>7} {:>9}",
        "scenario", "conns", "ops/s", "p50 ms", "p99 ms", "errors", "peak MiB"
    );
    let mut rates = Vec::new();
    for s in scenarios {
        let o = if s == Scenario::Argon2 {
            run_argon2(&args)?
        } else {
            match run_http(s, &args).await {
                Ok(o) => o,
                Err(e) => {
                    println!("{:<24} skipped: {e:#}", s.name());
                    continue;
                }
            }
        };
        let rate = o.ops as f64 / o.secs;
        rates.push((s, rate));
        println!(
            "{:<24} {:>5} {:>11.0} {:>9.2} {:>9.2} {:>7} {:>9}",
            o.scenario.name(),
            o.connections,
            rate,
            o.p50_ms,
            o.p99_ms,
            o.errors,
            o.peak_rss_mib
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.1}"))
        );
        if let Some((p50, p99)) = o.exchange {
            println!(
                "{:<24} {:>5} {:>11} {:>9.2} {:>9.2}",
                "  its token request", "", "", p50, p99
            );
        }
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "scenario": o.scenario.name(), "connections": o.connections,
                    "ops_per_sec": rate, "p50_ms": o.p50_ms, "p99_ms": o.p99_ms,
                    "exchange_p50_ms": o.exchange.map(|e| e.0),
                    "exchange_p99_ms": o.exchange.map(|e| e.1),
                    "errors": o.errors, "peak_rss_mib": o.peak_rss_mib,
                })
            );
        }
    }
    for (share, raw) in sign_in_shares(&rates) {
        println!(
            "password sign-in: {:.1}% of raw Argon2id ({raw:.0}/s, the raw runs next to it)",
            share * 100.0
        );
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "sign_in_share_of_raw": share, "raw_around_sign_in": raw })
            );
        }
    }
    if let Some(pid) = args.server_pid
        && let Some((_, hwm)) = rss_kib(pid)
    {
        println!(
            "server peak RSS over the run (VmHWM): {:.1} MiB",
            hwm as f64 / 1024.0
        );
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "peak_rss_mib_total": hwm as f64 / 1024.0 })
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Scenario::*, *};

    #[test]
    fn the_default_order_brackets_the_sign_in_with_raw_runs() {
        let order = default_order();
        let i = order.iter().position(|&s| s == PasswordSignIn).unwrap();
        assert_eq!((order[i - 1], order[i + 1]), (Argon2, Argon2));
        assert_eq!(order.iter().filter(|&&s| s == Argon2).count(), 2);
        assert_eq!(order.len(), Scenario::value_variants().len() + 1);
    }

    #[test]
    fn a_sign_in_is_compared_with_the_raw_runs_next_to_it() {
        let rates = [
            (Argon2, 10.0),
            (Jwks, 5.0),
            (Argon2, 100.0),
            (PasswordSignIn, 90.0),
            (Userinfo, 1.0),
            (Argon2, 80.0),
            (PasswordSignIn, 40.0),
            (Argon2, 120.0),
        ];
        assert_eq!(sign_in_shares(&rates), vec![(1.0, 90.0), (0.4, 100.0)]);
        assert_eq!(sign_in_shares(&[(PasswordSignIn, 5.0)]), vec![]);
        assert_eq!(
            sign_in_shares(&[(PasswordSignIn, 5.0), (Argon2, 10.0)]),
            vec![(0.5, 10.0)]
        );
    }
}
