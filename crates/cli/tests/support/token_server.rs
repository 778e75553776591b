//! The bearer-token server of the Docker registry token flow (what Docker
//! Hub's auth.docker.io does), for tests against a real `docker-registry`
//! configured with `auth.token` (see `registry::RegistryAuth::Token`).
//!
//! `GET /token?service=S&scope=repository:NAME:pull,push[&scope=..]` with
//! optional Basic credentials answers
//! `{"token", "access_token", "expires_in", "issued_at"}`. The JWT is ES256,
//! signed by a leaf certificate whose CA is the registry's
//! `rootcertbundle`; the leaf travels in the `x5c` header. distribution
//! 2.8.2 (`registry/auth/token/token.go`) accepts such a token when:
//! - `iss` equals the configured `issuer` and `aud` equals the configured
//!   `service`, compared exactly; `aud` must be a JSON string: an array
//!   (legal in RFC 7519) fails to parse and the token is "malformed";
//! - `exp` + 60 s leeway is in the future (so `exp` is mandatory) and
//!   `nbf` − 60 s in the past (`nbf`/`iat` may be absent);
//! - `x5c[0]` (standard padded base64 DER, not base64url) chains to a root
//!   in the bundle (Go x509 verify, any key usage, no host name check);
//!   without `x5c` (or a `jwk`/`kid` it trusts) the token is refused;
//! - `alg` matches the key (ES256 for P-256) and the signature is raw
//!   `r‖s` (64 bytes), not DER; the three parts are unpadded base64url
//!   (padded ones are refused);
//! - `access` holds `{type: "repository", name, actions}` naming the
//!   repository exactly (`["*"]` grants every action), covering the
//!   request (pull for GET/HEAD, pull+push for uploads).
//!
//! Why a token was refused is logged at info level only.
//!
//! Policy is the test's: `grant(user, repository, requested)` returns the
//! actions to put in the token. Requests without credentials are anonymous
//! (`user` None); wrong credentials get 401, as Docker Hub answers them.
#![allow(dead_code)]

use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use super::mini_http::{self, Request, Server};

/// The policy hook: (authenticated user or None, repository, requested
/// actions) → granted actions. The answer goes into the token as is.
pub type Grant = Arc<dyn Fn(Option<&str>, &str, &[String]) -> Vec<String> + Send + Sync>;

/// Everyone (anonymous too) gets whatever they ask for.
pub fn grant_all() -> Grant {
    Arc::new(|_, _, requested| requested.to_vec())
}

/// Anonymous may pull repositories under `public_prefix`; any
/// authenticated user may do anything anywhere.
pub fn grant_public_pull(public_prefix: &str) -> Grant {
    let prefix = public_prefix.to_string();
    Arc::new(move |user, repo, requested| match user {
        Some(_) => requested.to_vec(),
        None if repo.starts_with(&prefix) => requested
            .iter()
            .filter(|a| a.as_str() == "pull")
            .cloned()
            .collect(),
        None => Vec::new(),
    })
}

pub struct TokenServerOptions {
    /// The registry's `auth.token.service`: the token's audience.
    pub service: String,
    /// The registry's `auth.token.issuer`.
    pub issuer: String,
    /// Accepted Basic credentials (user, password); empty means everyone is
    /// anonymous (and any credentials sent are rejected with 401).
    pub users: Vec<(String, String)>,
    pub grant: Grant,
    /// `expires_in` and the token's lifetime (`exp` − `iat`), seconds.
    pub expires_in: u64,
}

impl Default for TokenServerOptions {
    fn default() -> Self {
        TokenServerOptions {
            service: "berth-test-registry".into(),
            issuer: "berth-test-token-issuer".into(),
            users: Vec::new(),
            grant: grant_all(),
            expires_in: 300,
        }
    }
}

/// What `RegistryAuth::Token` needs to configure the registry.
#[derive(Clone, Debug)]
pub struct TokenServerConfig {
    /// `http://127.0.0.1:PORT/token`
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// PEM of the CA that signed the token-signing certificate.
    pub rootcertbundle_pem: String,
}

/// One `access` entry of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// `repository` (or whatever type the scope named).
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// One request the token server saw, for assertions.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub service: Option<String>,
    /// Every `scope` value, decoded, in order.
    pub scopes: Vec<String>,
    /// The `account` query parameter, if sent.
    pub account: Option<String>,
    /// Whether an `Authorization: Basic` header came.
    pub basic: bool,
    /// The user whose credentials were valid.
    pub user: Option<String>,
    pub status: u16,
    /// What the issued token grants (empty when none was issued).
    pub granted: Vec<Access>,
}

pub struct TokenServer {
    inner: Arc<Inner>,
    server: Server,
}

struct Inner {
    options: TokenServerOptions,
    signer: Signer,
    requests: Mutex<Vec<TokenRequest>>,
}

impl TokenServer {
    pub fn start(options: TokenServerOptions) -> TokenServer {
        let inner = Arc::new(Inner {
            options,
            signer: Signer::new(),
            requests: Mutex::new(Vec::new()),
        });
        let inner2 = inner.clone();
        let server = Server::start(move |conn, stop| inner2.serve(conn, stop));
        TokenServer { inner, server }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.host())
    }

    pub fn config(&self) -> TokenServerConfig {
        TokenServerConfig {
            realm: self.realm(),
            service: self.inner.options.service.clone(),
            issuer: self.inner.options.issuer.clone(),
            rootcertbundle_pem: self.inner.signer.ca_pem.clone(),
        }
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.inner.requests.lock().expect("token requests").clone()
    }

    /// Mints a token directly, bypassing HTTP and policy (for tests that
    /// need a valid token in hand).
    pub fn issue(&self, user: Option<&str>, access: &[Access]) -> String {
        self.inner.token(user, access)
    }

    /// Signs arbitrary header and claims JSON with the server's key (ES256
    /// raw r‖s), for tests that need a malformed or expired token.
    pub fn sign_jwt(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        self.inner.signer.jwt(header, claims)
    }

    /// The `x5c` header value the server puts in its tokens.
    pub fn x5c(&self) -> Vec<String> {
        vec![STANDARD.encode(&self.inner.signer.leaf_der)]
    }
}

impl Inner {
    fn serve(&self, mut conn: TcpStream, _stop: &AtomicBool) {
        let json = || vec![("Content-Type", "application/json".to_string())];
        let req = match mini_http::read_request(&conn) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let _ = mini_http::respond(&mut conn, 400, &json(), b"{}", false);
                return;
            }
        };
        let (status, body, extra) = self.answer(&req);
        let mut headers = json();
        headers.extend(extra);
        let _ = mini_http::respond(
            &mut conn,
            status,
            &headers,
            body.as_bytes(),
            req.method == "HEAD",
        );
    }

    /// Decides the response and records the request.
    fn answer(&self, req: &Request) -> (u16, String, Vec<(&'static str, String)>) {
        let pairs = req.query_pairs();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let scopes: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            // OAuth2 joins scopes with spaces; Docker repeats the parameter.
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        let mut record = TokenRequest {
            method: req.method.clone(),
            target: req.target.clone(),
            service: get("service"),
            scopes: scopes.clone(),
            account: get("account"),
            basic: false,
            user: None,
            status: 0,
            granted: Vec::new(),
        };
        let outcome = self.decide(req, &scopes, &mut record);
        record.status = outcome.0;
        self.requests.lock().expect("token requests").push(record);
        outcome
    }

    fn decide(
        &self,
        req: &Request,
        scopes: &[String],
        record: &mut TokenRequest,
    ) -> (u16, String, Vec<(&'static str, String)>) {
        let error = |status: u16, details: &str| {
            (
                status,
                serde_json::json!({ "details": details }).to_string(),
                Vec::new(),
            )
        };
        if req.path != "/token" || !(req.method == "GET" || req.method == "HEAD") {
            // POST (the OAuth2 form flow) is deliberately not served: Docker's
            // client falls back to GET on 404.
            return error(404, "not found");
        }
        if let Some(s) = &record.service
            && *s != self.options.service
        {
            return error(400, "unknown service");
        }
        if let Some(auth) = req.header("authorization") {
            let Some(encoded) = auth
                .strip_prefix("Basic ")
                .or_else(|| auth.strip_prefix("basic "))
            else {
                return error(401, "unsupported authorization scheme");
            };
            record.basic = true;
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let valid =
                decoded
                    .as_deref()
                    .and_then(|d| d.split_once(':'))
                    .and_then(|(user, password)| {
                        self.options
                            .users
                            .iter()
                            .find(|(u, p)| u == user && p == password)
                            .map(|(u, _)| u.clone())
                    });
            match valid {
                Some(user) => record.user = Some(user),
                None => {
                    let (s, b, _) = error(401, "incorrect username or password");
                    let www = vec![("WWW-Authenticate", "Basic realm=\"berth-test\"".into())];
                    return (s, b, www);
                }
            }
        }
        let user = record.user.clone();
        let mut granted: Vec<Access> = Vec::new();
        for scope in scopes {
            // type:name:actions; a name could hold ':' so split both ends.
            let Some((kind, rest)) = scope.split_once(':') else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let requested: Vec<String> = actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            let i = match granted
                .iter()
                .position(|a| a.kind == kind && a.name == name)
            {
                Some(i) => i,
                None => {
                    granted.push(Access {
                        kind: kind.to_string(),
                        name: name.to_string(),
                        actions: Vec::new(),
                    });
                    granted.len() - 1
                }
            };
            // Only repositories go to the policy; other resource types
            // (registry:catalog:*) are never granted.
            let allowed = if kind == "repository" {
                (self.options.grant)(user.as_deref(), name, &requested)
            } else {
                Vec::new()
            };
            for a in allowed {
                if !granted[i].actions.contains(&a) {
                    granted[i].actions.push(a);
                }
            }
        }
        let token = self.token(user.as_deref(), &granted);
        record.granted = granted;
        let issued_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": self.options.expires_in,
            "issued_at": issued_at,
        });
        (200, body.to_string(), Vec::new())
    }

    fn token(&self, user: Option<&str>, access: &[Access]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let access: Vec<_> = access
            .iter()
            .map(|a| serde_json::json!({"type": a.kind, "name": a.name, "actions": a.actions}))
            .collect();
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [STANDARD.encode(&self.signer.leaf_der)],
        });
        let claims = serde_json::json!({
            "iss": self.options.issuer,
            "sub": user.unwrap_or(""),
            "aud": self.options.service,
            "exp": now + self.options.expires_in,
            "nbf": now,
            "iat": now,
            "jti": self.signer.jti(),
            "access": access,
        });
        self.signer.jwt(&header, &claims)
    }
}

/// The token-signing key: a P-256 leaf certified by a private CA that the
/// registry trusts through `rootcertbundle`.
struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    leaf_der: Vec<u8>,
    ca_pem: String,
}

impl Signer {
    fn new() -> Signer {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "berth test token CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA cert");

        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("signer key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("signer params");
        params
            .distinguished_name
            .push(DnType::CommonName, "berth test token signer");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf = params.signed_by(&leaf_key, &ca).expect("signer cert");

        let rng = SystemRandom::new();
        // FIXED (r‖s) signatures: JWS ES256 and libtrust want 64 raw bytes.
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &leaf_key.serialize_der(),
            &rng,
        )
        .expect("ring key from rcgen PKCS#8");
        Signer {
            key,
            rng,
            leaf_der: leaf.der().to_vec(),
            ca_pem: ca.pem(),
        }
    }

    fn jwt(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key
            .sign(&self.rng, msg)
            .expect("ECDSA sign")
            .as_ref()
            .to_vec()
    }

    fn jti(&self) -> String {
        let mut b = [0u8; 16];
        let _ = self.rng.fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
