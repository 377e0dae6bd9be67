//! `ferrite get|set|delete KEY`: scalar items through `cache_client.Scs` (cache in the `cache` header).

use clap::Args;
use momento_protos::cache_client::{DeleteRequest, ECacheResult, GetRequest, SetRequest};
use serde_json::{json, Map, Value};

use super::connection::{Client, ConnectArgs};
use super::error::CliError;
use super::output::{put_bytes, read_stdin, Output};

/// TTL of `set` when `--ttl` is not given: 24 h, the longest Momento (and the server's default
/// `grpc.max_ttl_secs`) allows. Momento items always expire; the API has no "no TTL".
pub const DEFAULT_TTL_SECS: u64 = 86_400;
/// Largest value `set --stdin` reads: Momento's item limit (the server's default
/// `grpc.max_item_bytes`); the server has the last word.
pub const MAX_STDIN_VALUE: usize = 5 * 1024 * 1024;

#[derive(Args, Debug)]
pub struct CacheOpt {
    /// The cache to use.
    #[arg(long, default_value = "default")]
    pub cache: String,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The key (UTF-8 text).
    pub key: String,
    #[command(flatten)]
    pub cache: CacheOpt,
    #[command(flatten)]
    pub conn: ConnectArgs,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    pub key: String,
    /// The value (text). Leave it out and pass --stdin for binary or large values.
    #[arg(required_unless_present = "stdin", conflicts_with = "stdin")]
    pub value: Option<String>,
    /// Read the value's bytes from standard input (up to 5 MiB).
    #[arg(long)]
    pub stdin: bool,
    /// Time to live in seconds.
    #[arg(long, default_value_t = DEFAULT_TTL_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl: u64,
    #[command(flatten)]
    pub cache: CacheOpt,
    #[command(flatten)]
    pub conn: ConnectArgs,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    pub key: String,
    #[command(flatten)]
    pub cache: CacheOpt,
    #[command(flatten)]
    pub conn: ConnectArgs,
}

/// Print the value (raw bytes and a newline; JSON: `value` or `value_base64`). A miss prints
/// nothing on stdout in human mode and fails with exit code 1.
pub async fn get(args: GetArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    let cache = args.cache.cache;
    let client = Client::connect(&args.conn).await?;
    let req = client.request(
        GetRequest {
            cache_key: args.key.clone().into_bytes(),
        },
        Some(&cache),
    )?;
    let resp = client
        .scs()
        .get(req)
        .await
        .map_err(|s| CliError::status(format!("get '{}' from cache '{cache}'", args.key), s))?
        .into_inner();
    match ECacheResult::try_from(resp.result) {
        Ok(ECacheResult::Hit) => {
            if out.json {
                let mut obj = Map::new();
                obj.insert("cache".into(), json!(cache));
                obj.insert("key".into(), json!(args.key));
                obj.insert("hit".into(), json!(true));
                put_bytes(&mut obj, "value", &resp.cache_body);
                out.emit(Value::Object(obj), String::new)
            } else {
                out.line(&resp.cache_body)
            }
        }
        Ok(ECacheResult::Miss) => {
            if out.json {
                out.emit(
                    json!({"cache": cache, "key": args.key, "hit": false}),
                    String::new,
                )?;
            }
            Err(CliError::Miss(format!(
                "(miss) key '{}' is not in cache '{cache}'",
                args.key
            )))
        }
        other => Err(CliError::Internal(format!(
            "the server answered Get with result {other:?}, neither Hit nor Miss"
        ))),
    }
}

pub async fn set(args: SetArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    let cache = args.cache.cache;
    let value = match args.value {
        Some(v) => v.into_bytes(),
        None => read_stdin(MAX_STDIN_VALUE)?,
    };
    let client = Client::connect(&args.conn).await?;
    let req = client.request(
        SetRequest {
            cache_key: args.key.clone().into_bytes(),
            cache_body: value,
            ttl_milliseconds: args.ttl.saturating_mul(1000),
        },
        Some(&cache),
    )?;
    client
        .scs()
        .set(req)
        .await
        .map_err(|s| CliError::status(format!("set '{}' in cache '{cache}'", args.key), s))?;
    out.emit(
        json!({"cache": cache, "key": args.key, "stored": true, "ttl_seconds": args.ttl}),
        || "OK".to_string(),
    )
}

/// Delete a key. Momento's Delete succeeds whether or not the key existed, so this does too.
pub async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    let cache = args.cache.cache;
    let client = Client::connect(&args.conn).await?;
    let req = client.request(
        DeleteRequest {
            cache_key: args.key.clone().into_bytes(),
        },
        Some(&cache),
    )?;
    client
        .scs()
        .delete(req)
        .await
        .map_err(|s| CliError::status(format!("delete '{}' from cache '{cache}'", args.key), s))?;
    out.emit(
        json!({"cache": cache, "key": args.key, "deleted": true}),
        || "OK".to_string(),
    )
}
