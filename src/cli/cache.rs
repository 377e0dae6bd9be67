//! `ferrite cache create|delete|list|flush`: the control plane (`control_client.ScsControl`).

use clap::{Args, Subcommand};
use momento_protos::control_client::{
    CreateCacheRequest, DeleteCacheRequest, FlushCacheRequest, ListCachesRequest,
};
use serde_json::json;

use super::connection::{Client, ConnectArgs};
use super::error::CliError;
use super::output::Output;

/// Pages ListCaches may return before the CLI stops: bounds memory and time against a server
/// whose `next_token` never ends.
const MAX_LIST_PAGES: usize = 10_000;

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Create a cache (exit code 4 if it exists).
    Create { name: String },
    /// Delete a cache with its items and topics (exit code 3 if it does not exist).
    Delete { name: String },
    /// List the caches, one name per line.
    List,
    /// Remove every item of a cache; its topics and subscribers stay.
    Flush { name: String },
}

pub async fn run(args: CacheArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    let client = Client::connect(&args.conn).await?;
    let mut control = client.control();
    match args.action {
        CacheAction::Create { name } => {
            let req = client.request(
                CreateCacheRequest {
                    cache_name: name.clone(),
                },
                None,
            )?;
            control
                .create_cache(req)
                .await
                .map_err(|s| CliError::status(format!("create cache '{name}'"), s))?;
            out.emit(json!({"cache": name, "created": true}), || {
                format!("created cache '{name}'")
            })
        }
        CacheAction::Delete { name } => {
            let req = client.request(
                DeleteCacheRequest {
                    cache_name: name.clone(),
                },
                None,
            )?;
            control
                .delete_cache(req)
                .await
                .map_err(|s| CliError::status(format!("delete cache '{name}'"), s))?;
            out.emit(json!({"cache": name, "deleted": true}), || {
                format!("deleted cache '{name}'")
            })
        }
        CacheAction::Flush { name } => {
            let req = client.request(
                FlushCacheRequest {
                    cache_name: name.clone(),
                },
                None,
            )?;
            control
                .flush_cache(req)
                .await
                .map_err(|s| CliError::status(format!("flush cache '{name}'"), s))?;
            out.emit(json!({"cache": name, "flushed": true}), || {
                format!("flushed cache '{name}'")
            })
        }
        CacheAction::List => {
            let mut caches = Vec::new();
            let mut token = String::new();
            for _ in 0..MAX_LIST_PAGES {
                let req = client.request(
                    ListCachesRequest {
                        next_token: token.clone(),
                    },
                    None,
                )?;
                let page = control
                    .list_caches(req)
                    .await
                    .map_err(|s| CliError::status("list caches", s))?
                    .into_inner();
                caches.extend(page.cache);
                if page.next_token.is_empty() || page.next_token == token {
                    break;
                }
                token = page.next_token;
            }
            if out.json {
                let list: Vec<_> = caches
                    .iter()
                    .map(|c| {
                        let limits = c.cache_limits.unwrap_or_default();
                        json!({
                            "name": c.cache_name,
                            "max_item_size_kb": limits.max_item_size_kb,
                            "max_ttl_seconds": limits.max_ttl_seconds,
                        })
                    })
                    .collect();
                out.emit(json!({ "caches": list }), String::new)
            } else {
                for c in &caches {
                    out.line(c.cache_name.as_bytes())?;
                }
                Ok(())
            }
        }
    }
}
