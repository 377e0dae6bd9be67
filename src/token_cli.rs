//! `ferrite token create|revoke`: operators mint and revoke tokens offline, with the server's key
//! file (docs/auth.md).
//!
//! ```text
//! ferrite token create --token-key FILE --expires 1h --super-user
//! ferrite token create --token-key FILE --expires 30m \
//!     --cache app --role read-write --key-prefix user:42: \
//!     --topic-cache app --topic-role subscribe --topic-prefix user:42:
//! ferrite token revoke --token-key FILE <token-id>
//! ```
//! Scope flags are read in command-line order: `--cache`/`--all-caches` (or `--topic-cache`)
//! starts a grant, and the `--role`/`--key-prefix`/`--key` (or `--topic-role`/`--topic-prefix`/
//! `--topic`) after it complete that grant. `*` as a cache name means every cache.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Subcommand};
use ferrite_auth::{
    Authenticator, CacheGrant, CacheRole, Permissions, Selector, TopicGrant, TopicRole,
};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Mint a token and print it (the Momento v1 form every SDK and `AUTH` accept) on stdout.
    Create(CreateArgs),
    /// Revoke a token id: running servers using the same key file refuse it within a second.
    Revoke(RevokeArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The server's token key file (created if missing).
    #[arg(long, value_name = "FILE")]
    pub token_key: PathBuf,
    /// Lifetime: seconds or a duration like 90s, 30m, 1h, 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires: u64,
    /// Everything, including the control plane and minting tokens.
    #[arg(long)]
    pub super_user: bool,
    /// Token id (revocation, publisher id); random when omitted.
    #[arg(long, value_name = "ID")]
    pub token_id: Option<String>,
    /// Host put in the token's `endpoint` (the SDKs derive cache.HOST, control.HOST from it).
    #[arg(long, value_name = "HOST", default_value = "localhost")]
    pub endpoint: String,
    /// Print the bare signed JWT instead of the v1 wrapper.
    #[arg(long)]
    pub jwt: bool,
    #[command(flatten)]
    pub scopes: ScopeArgs,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The server's token key file; the id is appended to FILE.revoked.
    #[arg(long, value_name = "FILE")]
    pub token_key: PathBuf,
    /// The token id to revoke.
    pub token_id: String,
}

/// The repeatable scope flags, kept in command-line order (derive cannot see the order).
#[derive(Debug, Clone, Default)]
pub struct ScopeArgs {
    pub items: Vec<(&'static str, String)>,
}

const SCOPE_FLAGS: &[(&str, &str, &str)] = &[
    (
        "cache",
        "NAME",
        "Start a cache grant on cache NAME (* = all caches)",
    ),
    ("all-caches", "", "Start a cache grant on all caches"),
    (
        "role",
        "ROLE",
        "Role of the cache grant: read-write, read-only or write-only",
    ),
    (
        "key-prefix",
        "P",
        "Limit the cache grant to keys starting with P",
    ),
    ("key", "K", "Limit the cache grant to the key K"),
    (
        "topic-cache",
        "NAME",
        "Start a topic grant on cache NAME (* = all caches)",
    ),
    (
        "topic-role",
        "ROLE",
        "Role of the topic grant: publish-subscribe, subscribe or publish",
    ),
    (
        "topic-prefix",
        "P",
        "Limit the topic grant to topics starting with P",
    ),
    ("topic", "T", "Limit the topic grant to the topic T"),
];

impl FromArgMatches for ScopeArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut v: Vec<(usize, &'static str, String)> = Vec::new();
        for (id, _, _) in SCOPE_FLAGS {
            let Some(idx) = m.indices_of(id) else {
                continue;
            };
            if let Some(vals) = m.get_many::<String>(id) {
                v.extend(idx.zip(vals).map(|(i, val)| (i, *id, val.clone())));
            }
        }
        v.sort_by_key(|x| x.0);
        Ok(ScopeArgs {
            items: v.into_iter().map(|(_, id, val)| (id, val)).collect(),
        })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for ScopeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        SCOPE_FLAGS.iter().fold(cmd, |c, (id, value_name, help)| {
            let arg = Arg::new(*id).long(*id).help(*help);
            c.arg(if value_name.is_empty() {
                // A flag without value: store "*" (all caches) so it keeps its place in the order.
                arg.num_args(0)
                    .default_missing_value("*")
                    .action(ArgAction::Append)
            } else {
                arg.value_name(*value_name).action(ArgAction::Append)
            })
        })
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// `90`, `90s`, `30m`, `1h`, `7d` → seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 30m, 1h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: unknown unit (use s, m, h or d)")),
    };
    let secs = n.checked_mul(mult).ok_or("duration too large")?;
    if secs == 0 {
        return Err("tokens must expire: the duration must be at least 1 second".into());
    }
    Ok(secs)
}

enum Pending {
    Cache(Option<String>, Option<CacheRole>, Selector),
    Topic(Option<String>, Option<TopicRole>, Selector),
}

/// The scope flags → permissions.
pub fn permissions_from_scopes(
    super_user: bool,
    scopes: &ScopeArgs,
) -> Result<Permissions, String> {
    if super_user {
        if !scopes.items.is_empty() {
            return Err("--super-user cannot be combined with scopes".into());
        }
        return Ok(Permissions::SuperUser);
    }
    if scopes.items.is_empty() {
        return Err("give --super-user or at least one --cache / --topic-cache scope".into());
    }
    let mut caches = Vec::new();
    let mut topics = Vec::new();
    let mut cur: Option<Pending> = None;
    let finish = |p: Option<Pending>,
                  caches: &mut Vec<CacheGrant>,
                  topics: &mut Vec<TopicGrant>|
     -> Result<(), String> {
        match p {
            None => {}
            Some(Pending::Cache(cache, role, items)) => caches.push(CacheGrant {
                role: role.ok_or("each --cache needs a --role")?,
                cache,
                items,
            }),
            Some(Pending::Topic(cache, role, sel)) => topics.push(TopicGrant {
                role: role.ok_or("each --topic-cache needs a --topic-role")?,
                cache,
                topics: sel,
            }),
        }
        Ok(())
    };
    let all = |name: &str| (name != "*").then(|| name.to_string());
    for (flag, value) in &scopes.items {
        match (*flag, &mut cur) {
            ("cache" | "all-caches", _) => {
                finish(cur.take(), &mut caches, &mut topics)?;
                cur = Some(Pending::Cache(all(value), None, Selector::All));
            }
            ("topic-cache", _) => {
                finish(cur.take(), &mut caches, &mut topics)?;
                cur = Some(Pending::Topic(all(value), None, Selector::All));
            }
            ("role", Some(Pending::Cache(_, role, _))) => {
                *role = Some(CacheRole::parse(value).ok_or_else(|| {
                    format!("unknown --role {value:?} (read-write, read-only or write-only)")
                })?);
            }
            ("key-prefix", Some(Pending::Cache(_, _, sel))) => {
                *sel = Selector::Prefix(value.clone())
            }
            ("key", Some(Pending::Cache(_, _, sel))) => *sel = Selector::Exact(value.clone()),
            ("topic-role", Some(Pending::Topic(_, role, _))) => {
                *role = Some(TopicRole::parse(value).ok_or_else(|| {
                    format!(
                        "unknown --topic-role {value:?} (publish-subscribe, subscribe or publish)"
                    )
                })?);
            }
            ("topic-prefix", Some(Pending::Topic(_, _, sel))) => {
                *sel = Selector::Prefix(value.clone())
            }
            ("topic", Some(Pending::Topic(_, _, sel))) => *sel = Selector::Exact(value.clone()),
            (flag, _) => {
                let starts = if flag.starts_with("topic") {
                    "--topic-cache"
                } else {
                    "--cache"
                };
                return Err(format!("--{flag} must follow the {starts} it applies to"));
            }
        }
    }
    finish(cur.take(), &mut caches, &mut topics)?;
    let p = Permissions::Explicit { caches, topics };
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

/// Run a `ferrite token ...` command; returns what to print on stdout.
pub fn run(cmd: TokenCommand) -> anyhow::Result<String> {
    match cmd {
        TokenCommand::Create(a) => {
            let perms =
                permissions_from_scopes(a.super_user, &a.scopes).map_err(anyhow::Error::msg)?;
            let auth = Authenticator::from_key_file(&a.token_key)?;
            let (jwt, claims) = auth
                .issue(perms, a.expires, a.token_id, ferrite_auth::now_secs())
                .map_err(anyhow::Error::msg)?;
            eprintln!(
                "token id {} expires at {} (unix seconds)",
                claims.jti, claims.exp
            );
            if a.jwt {
                Ok(jwt)
            } else {
                ferrite_auth::token::wrap_v1(&a.endpoint, &jwt).map_err(anyhow::Error::msg)
            }
        }
        TokenCommand::Revoke(a) => {
            let auth = Authenticator::from_key_file(&a.token_key)?;
            let new = auth.revoke(&a.token_id)?;
            Ok(if new {
                format!("revoked {}", a.token_id)
            } else {
                format!("{} was already revoked", a.token_id)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(items: &[(&'static str, &str)]) -> ScopeArgs {
        ScopeArgs {
            items: items.iter().map(|(f, v)| (*f, v.to_string())).collect(),
        }
    }

    #[test]
    fn scope_flags_keep_their_order() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: TokenCommand,
        }
        let cli = Cli::try_parse_from([
            "ferrite",
            "create",
            "--token-key",
            "k",
            "--expires",
            "1h",
            "--all-caches",
            "--role",
            "read-only",
            "--cache",
            "app",
            "--role",
            "write-only",
            "--key",
            "log",
        ])
        .unwrap();
        let TokenCommand::Create(a) = cli.cmd else {
            panic!()
        };
        let got: Vec<(&str, &str)> = a
            .scopes
            .items
            .iter()
            .map(|(f, v)| (*f, v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("all-caches", "*"),
                ("role", "read-only"),
                ("cache", "app"),
                ("role", "write-only"),
                ("key", "log")
            ]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("2d").unwrap(), 172800);
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1y").is_err());
    }

    #[test]
    fn scope_sequences() {
        let p = permissions_from_scopes(
            false,
            &scopes(&[
                ("cache", "app"),
                ("role", "read-only"),
                ("all-caches", "*"),
                ("role", "write-only"),
                ("key-prefix", "log:"),
                ("topic-cache", "*"),
                ("topic-role", "subscribe"),
                ("topic", "news"),
            ]),
        )
        .unwrap();
        let Permissions::Explicit { caches, topics } = p else {
            panic!()
        };
        assert_eq!(caches[0].cache.as_deref(), Some("app"));
        assert_eq!(caches[1].cache, None);
        assert_eq!(caches[1].items, Selector::Prefix("log:".into()));
        assert_eq!(topics[0].topics, Selector::Exact("news".into()));
        assert!(permissions_from_scopes(false, &scopes(&[("role", "read-only")])).is_err());
        assert!(permissions_from_scopes(false, &scopes(&[("cache", "a")])).is_err());
        assert!(permissions_from_scopes(true, &scopes(&[("cache", "a")])).is_err());
        assert!(permissions_from_scopes(false, &scopes(&[])).is_err());
    }
}
