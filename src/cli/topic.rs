//! `ferrite topic publish|subscribe`: `cache_client.pubsub.Pubsub`.

use std::time::Duration;

use clap::{Args, Subcommand};
use momento_protos::cache_client::pubsub::subscription_item::Kind;
use momento_protos::cache_client::pubsub::{
    topic_value, PublishRequest, SubscriptionItem, SubscriptionRequest, TopicItem, TopicValue,
};
use serde_json::{json, Map, Value};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tonic::Streaming;

use super::connection::{optional_cache_header, Client, ConnectArgs};
use super::error::CliError;
use super::output::{put_bytes, read_stdin, show_bytes, Output};

#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    #[command(subcommand)]
    pub action: TopicAction,
}

#[derive(Subcommand, Debug)]
pub enum TopicAction {
    /// Publish a message (text; --stdin sends its bytes, as binary unless they are UTF-8).
    Publish(PublishArgs),
    /// Print each message with its sequence number until Ctrl-C (or --count messages).
    Subscribe(SubscribeArgs),
}

/// Largest message `topic publish --stdin` reads; the server's own limit (`grpc.max_publish_bytes`,
/// 4 KiB by default) is usually lower and answers with its own error.
pub const MAX_STDIN_MESSAGE: usize = 1024 * 1024;

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The cache the topic lives in.
    pub cache: String,
    pub topic: String,
    /// The message (text). Leave it out and pass --stdin for binary messages.
    #[arg(required_unless_present = "stdin", conflicts_with = "stdin")]
    pub message: Option<String>,
    /// Read the message from standard input (up to 1 MiB).
    #[arg(long)]
    pub stdin: bool,
    /// Send as Momento `binary` even when the bytes are UTF-8 text.
    #[arg(long)]
    pub binary: bool,
}

#[derive(Args, Debug)]
pub struct SubscribeArgs {
    /// The cache the topic lives in.
    pub cache: String,
    pub topic: String,
    /// Resume at this sequence number (inclusive) if the server still has it; otherwise a
    /// discontinuity is reported and delivery continues with what the server still holds.
    /// Without it, the subscription begins with the newest message(s) the server holds
    /// (`topics.subscribe_backlog`), then goes on live.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub from: Option<u64>,
    /// The sequence page --from refers to (printed with --json or -v). Without it, --from
    /// applies to the topic's current page.
    #[arg(long, requires = "from")]
    pub page: Option<u64>,
    /// Exit after this many messages (heartbeats and discontinuities do not count).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Also print heartbeats, discontinuities and each message's page (always in --json).
    #[arg(long, short)]
    pub verbose: bool,
    /// When the connection is lost or the server shuts down, subscribe again (after the last
    /// message received) instead of exiting, retrying with backoff until Ctrl-C.
    #[arg(long)]
    pub reconnect: bool,
}

/// Backoff between resubscription attempts with --reconnect.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

pub async fn run(args: TopicArgs) -> Result<(), CliError> {
    let out = Output {
        json: args.conn.json,
    };
    let client = Client::connect(&args.conn).await?;
    match args.action {
        TopicAction::Publish(p) => {
            let (cache, topic) = (p.cache, p.topic);
            let bytes = match p.message {
                Some(m) => m.into_bytes(),
                None => read_stdin(MAX_STDIN_MESSAGE)?,
            };
            let kind = match String::from_utf8(bytes) {
                Ok(text) if !p.binary => topic_value::Kind::Text(text),
                Ok(text) => topic_value::Kind::Binary(text.into_bytes()),
                Err(e) => topic_value::Kind::Binary(e.into_bytes()),
            };
            let req = client.request(
                PublishRequest {
                    cache_name: cache.clone(),
                    topic: topic.clone(),
                    value: Some(TopicValue { kind: Some(kind) }),
                },
                optional_cache_header(&cache),
            )?;
            client.pubsub().publish(req).await.map_err(|s| {
                CliError::status(format!("publish to topic '{topic}' in cache '{cache}'"), s)
            })?;
            out.emit(
                json!({"cache": cache, "topic": topic, "published": true}),
                || "OK".to_string(),
            )
        }
        TopicAction::Subscribe(sub) => subscribe(&client, out, sub).await,
    }
}

async fn open(
    client: &Client,
    args: &SubscribeArgs,
    resume: u64,
    page: u64,
) -> Result<Streaming<SubscriptionItem>, CliError> {
    let req = client.stream_request(
        SubscriptionRequest {
            cache_name: args.cache.clone(),
            topic: args.topic.clone(),
            resume_at_topic_sequence_number: resume,
            sequence_page: page,
        },
        optional_cache_header(&args.cache),
    )?;
    Ok(client
        .pubsub()
        .subscribe(req)
        .await
        .map_err(|s| context_err(args, s))?
        .into_inner())
}

fn context_err(args: &SubscribeArgs, s: tonic::Status) -> CliError {
    CliError::status(
        format!(
            "subscribe to topic '{}' in cache '{}'",
            args.topic, args.cache
        ),
        s,
    )
}

/// The next item, or None when the user pressed Ctrl-C.
async fn next(
    stream: &mut Streaming<SubscriptionItem>,
    args: &SubscribeArgs,
    sigint: &mut Signal,
) -> Result<Option<Kind>, CliError> {
    loop {
        let msg = tokio::select! {
            m = stream.message() => m,
            _ = sigint.recv() => return Ok(None),
        };
        match msg {
            Ok(Some(SubscriptionItem { kind: Some(k) })) => return Ok(Some(k)),
            // An item without a kind carries nothing to show.
            Ok(Some(SubscriptionItem { kind: None })) => continue,
            Ok(None) => {
                return Err(CliError::Connect(format!(
                    "the server ended the subscription to topic '{}' in cache '{}'",
                    args.topic, args.cache
                )))
            }
            Err(s) => return Err(context_err(args, s)),
        }
    }
}

async fn subscribe(client: &Client, out: Output, args: SubscribeArgs) -> Result<(), CliError> {
    // Listen for Ctrl-C before subscribing: a listener created later would miss a signal sent
    // as soon as the first output appears (it would also not replace the default "kill" action
    // until first polled).
    let mut sigint = signal(SignalKind::interrupt())?;
    let resume = args.from.unwrap_or(0);
    let mut stream = open(client, &args, resume, args.page.unwrap_or(0)).await?;
    // A sequence number means something only on its page (one incarnation of the topic). With
    // --from but no --page, learn the current page: the server answers an unknown page with a
    // discontinuity that carries it, after the opening heartbeat. Then ask again on that page.
    let mut first = None;
    // Where --reconnect resubscribes: (next sequence wanted, its page); 0 = live.
    let mut next_pos = (resume, args.page.unwrap_or(0));
    if args.from.is_some() && args.page.is_none() {
        loop {
            match next(&mut stream, &args, &mut sigint).await? {
                None => return Ok(()),
                Some(Kind::Heartbeat(_)) => continue,
                Some(Kind::Discontinuity(d)) => {
                    drop(stream);
                    stream = open(client, &args, resume, d.new_sequence_page).await?;
                    next_pos = (resume, d.new_sequence_page);
                    break;
                }
                Some(other) => {
                    first = Some(other);
                    break;
                }
            }
        }
    }
    let mut received = 0u64;
    loop {
        let kind = match first.take() {
            Some(k) => k,
            None => match next(&mut stream, &args, &mut sigint).await {
                Ok(Some(k)) => k,
                Ok(None) => return Ok(()),
                Err(e) if args.reconnect && is_transient(&e) => {
                    match resubscribe(client, out, &args, e, next_pos, &mut sigint).await? {
                        Some(s) => stream = s,
                        None => return Ok(()),
                    }
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        match kind {
            Kind::Item(item) => {
                print_item(out, args.verbose, &item)?;
                next_pos = (item.topic_sequence_number + 1, item.sequence_page);
                received += 1;
                if args.count.is_some_and(|c| received >= c) {
                    return Ok(());
                }
            }
            Kind::Discontinuity(d) => {
                next_pos = (d.new_topic_sequence, d.new_sequence_page);
                if out.json || args.verbose {
                    out.emit(
                        json!({
                            "type": "discontinuity",
                            "last_seq": d.last_topic_sequence,
                            "new_seq": d.new_topic_sequence,
                            "page": d.new_sequence_page,
                        }),
                        || {
                            format!(
                                "[discontinuity] last={} new={} page={}",
                                d.last_topic_sequence, d.new_topic_sequence, d.new_sequence_page
                            )
                        },
                    )?;
                }
            }
            Kind::Heartbeat(_) => {
                if out.json || args.verbose {
                    out.emit(json!({"type": "heartbeat"}), || "[heartbeat]".to_string())?;
                }
            }
        }
    }
}

/// Errors after which the same subscription may work again: the connection dropped, or the
/// server shut down (UNAVAILABLE) or ended the stream. Not: the cache is gone, bad arguments.
fn is_transient(e: &CliError) -> bool {
    match e {
        CliError::Connect(_) => true,
        CliError::Status { status, .. } => matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        _ => false,
    }
}

/// Subscribe again at `resume` (sequence, page), retrying with backoff until it works (Some) or
/// the user presses Ctrl-C (None). Each failure is reported: on stdout as a `reconnect` event
/// with --json or -v, otherwise on stderr. A server that restarted has a new page for the topic,
/// so the first event is then a discontinuity.
async fn resubscribe(
    client: &Client,
    out: Output,
    args: &SubscribeArgs,
    mut error: CliError,
    resume: (u64, u64),
    sigint: &mut Signal,
) -> Result<Option<Streaming<SubscriptionItem>>, CliError> {
    let mut delay = RECONNECT_FIRST;
    loop {
        if out.json || args.verbose {
            out.emit(
                json!({"type": "reconnect", "error": error.to_string(), "retry_ms": delay.as_millis() as u64}),
                || format!("[reconnect] {error}; retrying in {} ms", delay.as_millis()),
            )?;
        } else {
            eprintln!("subscription lost ({error}); reconnecting");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = sigint.recv() => return Ok(None),
        }
        delay = (delay * 2).min(RECONNECT_MAX);
        let attempt = tokio::select! {
            r = open(client, args, resume.0, resume.1) => r,
            _ = sigint.recv() => return Ok(None),
        };
        match attempt {
            Ok(stream) => return Ok(Some(stream)),
            Err(e) if is_transient(&e) => error = e,
            Err(e) => return Err(e),
        }
    }
}

fn print_item(out: Output, verbose: bool, item: &TopicItem) -> Result<(), CliError> {
    let (kind, bytes): (&str, &[u8]) = match item.value.as_ref().and_then(|v| v.kind.as_ref()) {
        Some(topic_value::Kind::Text(t)) => ("text", t.as_bytes()),
        Some(topic_value::Kind::Binary(b)) => ("binary", b),
        None => ("binary", &[]),
    };
    let mut obj = Map::new();
    obj.insert("type".into(), json!("item"));
    obj.insert("seq".into(), json!(item.topic_sequence_number));
    obj.insert("page".into(), json!(item.sequence_page));
    obj.insert("kind".into(), json!(kind));
    put_bytes(&mut obj, "value", bytes);
    if !item.publisher_id.is_empty() {
        obj.insert("publisher_id".into(), json!(item.publisher_id));
    }
    out.emit(Value::Object(obj), || {
        if verbose {
            format!(
                "[{} page={}] {}",
                item.topic_sequence_number,
                item.sequence_page,
                show_bytes(bytes)
            )
        } else {
            format!("[{}] {}", item.topic_sequence_number, show_bytes(bytes))
        }
    })
}
