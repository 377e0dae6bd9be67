//! A connection's principal as a Redis ACL user (`ACL WHOAMI`, `USERS`, `LIST`, `GETUSER`): the
//! token's grants on the caches the connection uses, written as Redis 7.0's rules.
//!
//! - Auth mode `none`: Redis's `default` user, `on nopass ~* &* +@all`, byte for byte.
//! - A super-user token: the token id, `on ~* &* +@all` (no `nopass`: a token is needed; no
//!   password hashes: Ferrite keeps no secret per user, the token is the credential).
//! - A scoped token: the token id, `on`, then
//!   - keys: each cache grant on the connection's (selected database's) cache: `~pattern` for
//!     read-write, `%R~pattern` read-only, `%W~pattern` write-only; a key prefix is `prefix*`,
//!     one key the key itself (glob characters escaped); read-write on every key is `~*` alone;
//!   - channels: each topic grant on database 0's cache (where pub/sub lives): `&pattern`, `&*`
//!     for every topic, else after `resetchannels` as Redis writes it;
//!   - commands: `+@all`, `-@write` when every key grant on the cache is read-only, `-@read` when
//!     every one is write-only, `-@admin`, then the commands (and subcommands) Ferrite decides
//!     otherwise than those categories say: `-info -flushall ...` (super-user only), `+lastsave
//!     +role ...` (Redis's @admin, allowed to any token), `-keys -scan ...` without all-keys
//!     access, `-psubscribe -pubsub|...` without all-topics access, `-publish` for a token that
//!     may only subscribe and `-subscribe ...` for one that may only publish.
//!
//!   Grants on other caches have no Redis form and are not shown; nor are a token's expiry, the
//!   conditional writes a write-only grant refuses (SET NX: a Redis `%W~` key allows them), or
//!   topic roles that differ between patterns.

use ferrite_auth::{
    CacheAccess, CacheRole, Permissions, Principal, Selector, TopicAccess, TopicRole,
};

use crate::resp::acl::categories::{self, ADMIN, READ, WRITE};
use crate::resp::authz::needs_super_user;
use crate::resp::dispatch::{flags, table, CommandSpec};

/// Redis's name for the user of auth mode `none`.
pub const DEFAULT_USER: &str = "default";

/// A principal as a Redis user.
pub struct User {
    pub name: String,
    pub flags: Vec<&'static str>,
    /// Key patterns, each with its `~`/`%R~`/`%W~` prefix.
    pub keys: Vec<String>,
    /// `&*`, or the channel patterns (each with its `&`).
    pub channels: Vec<String>,
    pub all_channels: bool,
    /// The command rules, in order.
    pub commands: Vec<String>,
}

impl User {
    /// The user of a connection: `enforcing` = auth mode `token`; keys are described for
    /// `key_cache` (the selected database's), channels for `topic_cache` (database 0's).
    pub fn of(p: &Principal, enforcing: bool, key_cache: &str, topic_cache: &str) -> User {
        if !enforcing {
            return User {
                name: DEFAULT_USER.into(),
                flags: vec!["on", "nopass"],
                keys: vec!["~*".into()],
                channels: vec!["&*".into()],
                all_channels: true,
                commands: vec!["+@all".into()],
            };
        }
        let name = p.token_id().to_string();
        let (caches, topics) = match p.permissions() {
            Permissions::SuperUser => {
                return User {
                    name,
                    flags: vec!["on"],
                    keys: vec!["~*".into()],
                    channels: vec!["&*".into()],
                    all_channels: true,
                    commands: vec!["+@all".into()],
                }
            }
            Permissions::Explicit { caches, topics } => (caches, topics),
        };
        let on_cache = |c: &Option<String>, name: &str| c.as_deref().is_none_or(|c| c == name);
        let grants: Vec<_> = caches
            .iter()
            .filter(|g| on_cache(&g.cache, key_cache))
            .collect();
        let keys = if grants
            .iter()
            .any(|g| g.role == CacheRole::ReadWrite && g.items == Selector::All)
        {
            vec!["~*".to_string()]
        } else {
            let mut v: Vec<String> = Vec::new();
            for g in &grants {
                let role = match g.role {
                    CacheRole::ReadWrite => "~",
                    CacheRole::ReadOnly => "%R~",
                    CacheRole::WriteOnly => "%W~",
                };
                let k = format!("{role}{}", pattern(&g.items));
                if !v.contains(&k) {
                    v.push(k);
                }
            }
            v
        };
        let tgrants: Vec<_> = topics
            .iter()
            .filter(|g| on_cache(&g.cache, topic_cache))
            .collect();
        let all_channels = tgrants.iter().any(|g| g.topics == Selector::All);
        let channels = if all_channels {
            vec!["&*".to_string()]
        } else {
            let mut v: Vec<String> = Vec::new();
            for g in &tgrants {
                let c = format!("&{}", pattern(&g.topics));
                if !v.contains(&c) {
                    v.push(c);
                }
            }
            v
        };
        let mut commands = vec!["+@all".to_string()];
        let mut removed = ADMIN;
        if !grants.is_empty() && grants.iter().all(|g| g.role == CacheRole::ReadOnly) {
            commands.push("-@write".into());
            removed |= WRITE;
        }
        if !grants.is_empty() && grants.iter().all(|g| g.role == CacheRole::WriteOnly) {
            commands.push("-@read".into());
            removed |= READ;
        }
        commands.push("-@admin".into());
        let subscribe_only =
            !tgrants.is_empty() && tgrants.iter().all(|g| g.role == TopicRole::SubscribeOnly);
        let publish_only =
            !tgrants.is_empty() && tgrants.iter().all(|g| g.role == TopicRole::PublishOnly);
        let allows = |spec: &CommandSpec, sub: Option<&str>| -> bool {
            if needs_super_user(spec, sub.map(str::as_bytes)) {
                return false;
            }
            if spec.has(flags::KEYSPACE) {
                let a = if spec.has(flags::WRITE) {
                    CacheAccess::Write
                } else {
                    CacheAccess::Read
                };
                return p.can_cache_all_keys(key_cache, a);
            }
            match spec.name {
                // With no topic grant at all the channel rules already refuse these.
                "psubscribe" | "pubsub" if !tgrants.is_empty() || spec.name == "pubsub" => {
                    p.can_topic_all(topic_cache, TopicAccess::Subscribe)
                }
                "publish" | "spublish" => !subscribe_only,
                "subscribe" | "ssubscribe" | "tsubscribe" => !publish_only,
                _ => true,
            }
        };
        let mut specs: Vec<&'static CommandSpec> = table().values().copied().collect();
        specs.sort_by_key(|s| s.name);
        for spec in specs {
            let subs = categories::subcommands(spec.name);
            let mut check = |name: String, cats: u32, ferrite_allows: bool| {
                let rules_allow = cats & removed == 0;
                // Re-allow only what `-@admin` removed: `-@write`/`-@read` stand for what the
                // keys refuse, which no command rule can give back.
                if ferrite_allows && !rules_allow && cats & removed & !ADMIN == 0 {
                    commands.push(format!("+{name}"));
                } else if !ferrite_allows && rules_allow {
                    commands.push(format!("-{name}"));
                }
            };
            if subs.is_empty() {
                check(
                    spec.name.to_string(),
                    categories::of_spec(spec),
                    allows(spec, None),
                );
            } else {
                for sub in subs {
                    check(
                        format!("{}|{sub}", spec.name),
                        categories::of_subcommand(spec, sub),
                        allows(spec, Some(sub)),
                    );
                }
            }
        }
        User {
            name,
            flags: vec!["on"],
            keys,
            channels,
            all_channels,
            commands,
        }
    }

    /// `ACL GETUSER`'s `keys` field.
    pub fn keys_field(&self) -> String {
        self.keys.join(" ")
    }

    /// `ACL GETUSER`'s `channels` field.
    pub fn channels_field(&self) -> String {
        self.channels.join(" ")
    }

    /// `ACL GETUSER`'s `commands` field.
    pub fn commands_field(&self) -> String {
        self.commands.join(" ")
    }

    /// The `ACL LIST` line.
    pub fn line(&self) -> String {
        let mut parts = vec!["user".to_string(), self.name.clone()];
        parts.extend(self.flags.iter().map(|f| f.to_string()));
        parts.extend(self.keys.iter().cloned());
        if !self.all_channels {
            parts.push("resetchannels".into());
        }
        parts.extend(self.channels.iter().cloned());
        parts.extend(self.commands.iter().cloned());
        parts.join(" ")
    }
}

/// A selector as a Redis glob: every key, a prefix (`p*`) or one name, glob characters escaped.
fn pattern(s: &Selector) -> String {
    fn escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
    match s {
        Selector::All => "*".into(),
        Selector::Prefix(p) => format!("{}*", escape(p)),
        Selector::Exact(k) => escape(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_auth::{CacheGrant, TopicGrant};

    fn scoped(caches: Vec<CacheGrant>, topics: Vec<TopicGrant>) -> Principal {
        Principal::new(
            "user-42",
            u64::MAX,
            Permissions::Explicit { caches, topics },
        )
    }

    fn grant(role: CacheRole, cache: Option<&str>, items: Selector) -> CacheGrant {
        CacheGrant {
            role,
            cache: cache.map(String::from),
            items,
        }
    }

    #[test]
    fn mode_none_is_redis_default_user() {
        let u = User::of(&Principal::unrestricted(""), false, "default", "default");
        assert_eq!(u.line(), "user default on nopass ~* &* +@all");
    }

    #[test]
    fn super_user_token() {
        let p = Principal::new("admin", u64::MAX, Permissions::SuperUser);
        assert_eq!(
            User::of(&p, true, "default", "default").line(),
            "user admin on ~* &* +@all"
        );
    }

    #[test]
    fn scoped_token_rules() {
        let p = scoped(
            vec![
                grant(
                    CacheRole::ReadWrite,
                    Some("app"),
                    Selector::Prefix("user:1:".into()),
                ),
                grant(CacheRole::ReadOnly, None, Selector::Exact("a*b".into())),
                grant(CacheRole::WriteOnly, Some("other"), Selector::All),
            ],
            vec![TopicGrant {
                role: TopicRole::SubscribeOnly,
                cache: Some("app".into()),
                topics: Selector::Prefix("news.".into()),
            }],
        );
        let u = User::of(&p, true, "app", "app");
        assert_eq!(u.keys_field(), r"~user:1:* %R~a\*b");
        assert_eq!(u.channels_field(), "&news.*");
        let cmds = u.commands_field();
        assert!(cmds.starts_with("+@all -@admin "), "{cmds}");
        for rule in [
            "-info",
            "-flushall",
            "+lastsave",
            "+role",
            "-keys",
            "-scan",
            "-flushdb",
            "-psubscribe",
            "-publish",
            "+client|no-evict",
            "+acl|getuser",
            "-function|flush",
            "-pubsub|channels",
        ] {
            assert!(cmds.split(' ').any(|r| r == rule), "{rule} in {cmds}");
        }
        assert!(!cmds.contains("-subscribe"), "{cmds}");
        // Already refused by -@admin: not repeated.
        assert!(
            !cmds.contains("acl|log") && !cmds.contains("client|kill"),
            "{cmds}"
        );
        assert!(u
            .line()
            .starts_with(r"user user-42 on ~user:1:* %R~a\*b resetchannels &news.* +@all"));
        // The other cache: only the all-caches grant applies.
        let u = User::of(&p, true, "zzz", "zzz");
        assert_eq!(u.keys_field(), r"%R~a\*b");
        assert!(u.commands_field().starts_with("+@all -@write -@admin"));
        assert_eq!(u.channels_field(), "");
        assert!(u.line().contains(" resetchannels +@all"));
    }

    #[test]
    fn read_write_everywhere_is_all_keys() {
        let p = scoped(
            vec![
                grant(CacheRole::ReadOnly, None, Selector::Prefix("x".into())),
                grant(CacheRole::ReadWrite, None, Selector::All),
            ],
            vec![],
        );
        let u = User::of(&p, true, "default", "default");
        assert_eq!(u.keys_field(), "~*");
        // Every key: KEYS, SCAN and FLUSHDB are allowed.
        assert!(!u.commands_field().contains("-keys"));
        assert!(!u.commands_field().contains("-flushdb"));
    }
}
