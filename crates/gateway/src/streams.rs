//! Server-sent event streams of one session: every event gets an id (`<stream>-<seq>`), is
//! kept until the session ends (bounded), and goes to the live connection if there is one.
//! A client that lost a stream reconnects with `GET` and `Last-Event-ID` and receives what it
//! missed, then the rest live (2025-11-25 resumability; a disconnect is not a cancellation).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

/// Events kept per stream for resumption.
const KEEP_EVENTS: usize = 512;
/// Finished streams kept for resumption.
const KEEP_DONE: usize = 64;

/// One event for a live connection.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// `<stream>-<seq>`.
    pub id: String,
    /// The JSON-RPC message.
    pub data: Arc<str>,
    /// The last event of the stream (the response).
    pub last: bool,
}

#[derive(Debug, Default)]
struct Log {
    events: VecDeque<(u64, Arc<str>, bool)>,
    next_seq: u64,
    live: Option<mpsc::UnboundedSender<Event>>,
    done: bool,
}

/// The streams of a session.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    next: u64,
    logs: HashMap<u64, Log>,
    done_order: VecDeque<u64>,
    /// The standalone (`GET`) stream, if opened.
    pub standalone: Option<u64>,
    /// Progress tokens (as JSON text) of requests in flight, to their stream.
    pub progress: HashMap<String, u64>,
}

impl Streams {
    /// Opens a stream with a live receiver.
    pub fn open(&mut self) -> (u64, mpsc::UnboundedReceiver<Event>) {
        self.next += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.logs.insert(
            self.next,
            Log {
                live: Some(tx),
                next_seq: 1,
                ..Log::default()
            },
        );
        (self.next, rx)
    }

    /// Appends an event; sends it to the live connection if any.
    pub fn emit(&mut self, stream: u64, msg: &Value, last: bool) {
        let Some(log) = self.logs.get_mut(&stream) else {
            return;
        };
        if log.done {
            return;
        }
        let seq = log.next_seq;
        log.next_seq += 1;
        let data: Arc<str> = Arc::from(msg.to_string());
        log.events.push_back((seq, data.clone(), last));
        if log.events.len() > KEEP_EVENTS {
            log.events.pop_front();
        }
        if let Some(live) = &log.live
            && live
                .send(Event {
                    id: format!("{stream}-{seq}"),
                    data,
                    last,
                })
                .is_err()
        {
            log.live = None;
        }
        if last {
            log.done = true;
            log.live = None;
            self.progress.retain(|_, s| *s != stream);
            self.done_order.push_back(stream);
            while self.done_order.len() > KEEP_DONE {
                if let Some(old) = self.done_order.pop_front() {
                    self.logs.remove(&old);
                }
            }
        }
    }

    /// Forgets a stream whose only event went out as a plain JSON answer.
    pub fn discard(&mut self, stream: u64) {
        self.logs.remove(&stream);
        self.done_order.retain(|s| *s != stream);
        self.progress.retain(|_, s| *s != stream);
    }

    /// Whether a stream has a live connection.
    pub fn is_live(&self, stream: u64) -> bool {
        self.logs
            .get(&stream)
            .is_some_and(|l| l.live.as_ref().is_some_and(|t| !t.is_closed()))
    }

    /// Reattaches a connection after `last_event_id`: replays what followed, then continues
    /// live unless the stream is finished. `None` when the id is unknown.
    pub fn resume(
        &mut self,
        last_event_id: &str,
    ) -> Option<(u64, Vec<Event>, Option<mpsc::UnboundedReceiver<Event>>)> {
        let (stream, seq) = last_event_id.split_once('-')?;
        let stream: u64 = stream.parse().ok()?;
        let seq: u64 = seq.parse().ok()?;
        let log = self.logs.get_mut(&stream)?;
        let missed: Vec<Event> = log
            .events
            .iter()
            .filter(|(s, _, _)| *s > seq)
            .map(|(s, data, last)| Event {
                id: format!("{stream}-{s}"),
                data: data.clone(),
                last: *last,
            })
            .collect();
        let rx = if log.done {
            None
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            log.live = Some(tx);
            Some(rx)
        };
        Some((stream, missed, rx))
    }
}
