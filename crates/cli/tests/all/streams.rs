//! What `warden serve` streams to an agent that takes SSE: a call's progress events, then its
//! answer.

use serde_json::{Value, json};

use crate::gateway::{setup, text};
use crate::support::gateway::{rt, token};

#[test]
fn progress_reaches_the_agent_as_events_before_the_answer() {
    let (dir, gw) = setup();
    let bob = token(dir.path(), "bob", "10m", &[]);
    rt().block_on(async {
        let session = gw.initialize(&bob).await;
        let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "demo__echo", "arguments": {"text": "hi", "progress": 3},
            "_meta": {"progressToken": "p-1"}}});
        let (status, headers, stream) = gw.post_text(Some(&bob), Some(&session), &call, &[]).await;
        assert_eq!(status, 200);
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let events: Vec<Value> = stream
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| !d.is_empty())
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let steps: Vec<_> = events
            .iter()
            .take_while(|e| e["method"] == "notifications/progress")
            .map(|e| {
                (
                    e["params"]["progressToken"].clone(),
                    e["params"]["progress"].clone(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                (json!("p-1"), json!(1)),
                (json!("p-1"), json!(2)),
                (json!("p-1"), json!(3))
            ],
            "{stream}"
        );
        let answer = events.last().unwrap();
        assert_eq!(answer["id"], 9, "{stream}");
        assert_eq!(text(answer), "hi", "{stream}");
        assert_eq!(events.len(), 4, "{stream}");
    });
}
