//! `sign` and `verify`.

use jose_core::jws::{JwsBuilder, Verifier};
use jose_core::{Header, KeyBackend};

use crate::cli::{SignArgs, VerifyArgs};
use crate::error::{self, CliError, Result};
use crate::io::{self, Stdin};
use crate::keys::{self, Hsm, Purpose};

/// A JSON object given on the command line (or `@FILE`), as header members.
pub(crate) fn header_argument(value: Option<&str>) -> Result<Header> {
    let Some(value) = value else {
        return Ok(Header::new());
    };
    let text = io::json_argument(value, "--header")?;
    let map = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err(CliError::usage("--header must be a JSON object")),
        Err(e) => return Err(CliError::usage(format!("--header is not valid JSON: {e}"))),
    };
    Header::from_map(map).map_err(|e| CliError::usage(format!("--header: {e}")))
}

pub(crate) fn sign(hsm: &Hsm<'_>, args: &SignArgs) -> Result<()> {
    let count = args.keys.key.len() + args.keys.jwk.len();
    if args.alg.len() != count {
        return Err(CliError::usage(format!(
            "give one --alg per key ({count} key(s), {} --alg)",
            args.alg.len()
        )));
    }
    if !args.kid.is_empty() && args.kid.len() != count {
        return Err(CliError::usage(format!(
            "give --kid once per key, or not at all ({count} key(s), {} --kid)",
            args.kid.len()
        )));
    }
    if count > 1 && !args.json {
        return Err(CliError::usage(
            "several signatures need the JSON serialization: add --json",
        ));
    }
    let header = header_argument(args.header.as_deref())?;
    // Keys first: a missing key or a wrong PIN is reported before standard input is read.
    let mut signers: Vec<Box<dyn KeyBackend>> = Vec::with_capacity(count);
    let kids = |i: usize| args.kid.get(i).map(String::as_str);
    for (i, reference) in args.keys.key.iter().enumerate() {
        signers.push(Box::new(keys::hsm_key(
            hsm,
            reference,
            kids(i),
            Purpose::Sign,
        )?));
    }
    for (i, path) in args.keys.jwk.iter().enumerate() {
        signers.push(Box::new(keys::software_key(path, Stdin::Busy, kids(i))?));
    }
    let payload = io::read_stdin("the payload")?;
    let mut builder = JwsBuilder::new(&payload);
    if args.detached {
        builder = builder.detached();
    }
    if args.b64_false {
        builder = builder.unencoded();
    }
    for (key, alg) in signers.iter().zip(&args.alg) {
        builder = builder
            .add_signature(key.as_ref(), *alg, header.clone(), None)
            .map_err(error::producing)?;
    }
    let token = if args.json {
        builder.general_json()
    } else {
        builder.compact()
    }
    .map_err(|e| {
        let unencoded = matches!(
            e,
            jose_core::Error::Malformed(jose_core::error::Malformed::Payload(_))
        );
        let error = error::producing(e);
        if unencoded {
            error.hint("add --detached, or leave out --b64-false")
        } else {
            error
        }
    })?;
    io::print_line(&token)
}

pub(crate) fn verify(hsm: &Hsm<'_>, args: &VerifyArgs) -> Result<()> {
    if args
        .payload
        .as_deref()
        .is_some_and(|p| p.as_os_str() == "-")
    {
        return Err(CliError::usage(
            "--payload cannot be `-`: standard input carries the JWS",
        ));
    }
    let consumer = args.keys.consumer(hsm, Purpose::Verify)?;
    let allowed = consumer.jws_algorithms(&args.algs.alg)?;
    let detached =
        match &args.payload {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                error::io(format!("cannot read the payload {}", path.display()), &e)
            })?),
            None => None,
        };
    let token = io::read_stdin_token("JWS")?;
    let mut verifier = Verifier::new(&allowed);
    if args.b64_false {
        verifier = verifier.allow_unencoded_payload();
    }
    if let Some(payload) = &detached {
        verifier = verifier.detached_payload(payload);
    }
    let verified = consumer
        .apply(
            |key| verifier.verify(&token, key),
            |keys| verifier.verify_with(&token, keys),
        )
        .map_err(|e| error::consuming_allowed(e, &allowed, "--alg"))?;
    io::write_stdout(verified.payload())
}
