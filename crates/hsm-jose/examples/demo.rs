//! The whole hsm-jose flow on keys held in a PKCS#11 token.
//!
//! Run it with `cargo xtask demo`, which provisions a SoftHSM token and sets the environment;
//! or against your own token:
//!
//! ```sh
//! HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so HSM_TOKEN=my-token HSM_PIN=... \
//!     cargo run -p hsm-jose --example demo
//! ```
//!
//! It expects an EC P-256 key labelled `ec-p256` (signing) and an RSA key labelled `rsa-2048`
//! (decryption), as `cargo xtask demo` provisions them.

use std::time::{SystemTime, UNIX_EPOCH};

use hsm_jose::jose_core::jwt::{self, Claims, Validation};
use hsm_jose::jose_core::{
    ContentEncryption, JwkSet, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, KeySet,
    SoftwareKey, jwe,
};
use hsm_jose::{HsmJwk, HsmJwkSet, SessionPool};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn section(title: &str) {
    println!("\n== {title}");
}

fn pretty(json: &str) -> Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::from_str::<
        serde_json::Value,
    >(json)?)?)
}

fn main() -> Result {
    // 1. One pool of logged-in sessions on the token (HSM_MODULE, HSM_TOKEN, HSM_PIN).
    let pool = SessionPool::from_env()?;
    section(&format!(
        "Token `{}` ({} mechanisms)",
        pool.token_label(),
        pool.mechanisms().len()
    ));
    {
        let session = pool.session()?;
        for key in hsm_jose::hsm_core::list_keys(&session)? {
            let p = key.protection;
            println!(
                "  {:<18} {:<28} sensitive={} extractable={}",
                key.label,
                format!("{:?}", key.kind),
                p.sensitive,
                p.extractable
            );
        }
    }

    // 2. HSM keys as JOSE keys: an ES256 signing key and an RSA-OAEP decryption key.
    let mut keys = HsmJwkSet::new();
    keys.add_key(
        HsmJwk::from_label(&pool, "ec-p256")?
            .with_kid("demo-sig-1")
            .with_use("sig"),
    )?;
    keys.add_key(
        HsmJwk::from_label(&pool, "rsa-2048")?
            .with_kid("demo-enc-1")
            .with_use("enc"),
    )?;
    let signer = keys.get_key("demo-sig-1").ok_or("no signing key")?;
    let decrypter = keys.get_key("demo-enc-1").ok_or("no decryption key")?;

    section("Public JWK Set (serve it at /.well-known/jwks.json)");
    let jwks = keys.jwks_json();
    println!("{}", pretty(&jwks)?);
    match decrypter.private_json() {
        Ok(_) => return Err("the private key was exported".into()),
        Err(e) => println!("private export: refused ({e})"),
    }

    // 3. A JWT signed in the HSM.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let claims = Claims::new()
        .issuer("https://issuer.example")
        .subject("alice")
        .audience("https://api.example")
        .issued_at(now)
        .expires_at(now + 300)
        .with("scope", "read:reports");
    let token = jwt::sign(&claims, signer, JwsAlgorithm::ES256, None)?;
    section("JWT signed in the HSM (ES256)");
    println!("{token}");

    // 4. Verified by someone who has only the published JWKS: pure software, no PKCS#11.
    let verifier_keys = KeySet::from_jwk_set(&JwkSet::from_json(&jwks)?)?;
    let validation = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .jwe_algorithms(
            &[KeyManagementAlgorithm::RsaOaep],
            &[ContentEncryption::A256Gcm],
        )
        .issuer("https://issuer.example")
        .audience("https://api.example");
    let verified = validation.verify_with(&token, &verifier_keys)?;
    section("Verified with the JWKS alone; claims");
    println!("{}", pretty(&verified.claims().to_json())?);

    // 5. A JWE made with the public JWK (anywhere), decrypted in the HSM.
    let public_jwk = decrypter.public_json()?;
    let recipient = SoftwareKey::from_json(&public_jwk)?;
    let secret = "the launch code is 0000";
    let encrypted = jwe::encrypt_compact(
        &recipient,
        KeyManagementAlgorithm::RsaOaep,
        ContentEncryption::A256Gcm,
        secret.as_bytes(),
        None,
    )?;
    section("JWE made with the public JWK only (RSA-OAEP + A256GCM)");
    println!("{encrypted}");
    let decrypted = jwe::decrypt_compact(
        &encrypted,
        decrypter,
        &[KeyManagementAlgorithm::RsaOaep],
        &[ContentEncryption::A256Gcm],
    )?;
    section("Decrypted in the HSM");
    println!("{}", String::from_utf8_lossy(decrypted.plaintext()));

    // 6. ECDH-ES with the key agreement in the HSM, and a nested JWT.
    let ecdh = HsmJwk::from_label(&pool, "ec-p384")?.with_kid("demo-ecdh-1");
    let to_ecdh = jwe::encrypt_compact(
        &SoftwareKey::from_json(&ecdh.public_json()?)?,
        KeyManagementAlgorithm::EcdhEsA256KW,
        ContentEncryption::A128CbcHs256,
        b"agreed in the token",
        None,
    )?;
    let d = jwe::decrypt_compact(
        &to_ecdh,
        &ecdh,
        &[KeyManagementAlgorithm::EcdhEsA256KW],
        &[ContentEncryption::A128CbcHs256],
    )?;
    section("ECDH-ES+A256KW, key agreement in the HSM (C_DeriveKey)");
    println!("{}", String::from_utf8_lossy(d.plaintext()));

    let nested = jwt::sign_then_encrypt(
        &claims,
        signer,
        JwsAlgorithm::ES256,
        &recipient,
        KeyManagementAlgorithm::RsaOaep,
        ContentEncryption::A256Gcm,
    )?;
    let inner = validation.decrypt_and_verify(&nested, decrypter, signer)?;
    section("Nested JWT (signed, then encrypted): decrypted and verified in the HSM");
    println!("subject: {}", inner.claims().sub().unwrap_or("?"));
    println!(
        "kid of the decryption key: {}",
        decrypter.kid().unwrap_or("?")
    );
    println!("\nDone: every private-key operation ran inside the token.");
    Ok(())
}
