//! Any JSON as tool arguments: the engine decides without panicking.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_policy::{Engine, Source};
use warden_types::{Action, Principal, Request, Resource, SessionFacts, ToolFacts};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Engine::load(
            &Source::new("schema", warden_policy::STARTER_SCHEMA),
            &[Source::new("policies", warden_policy::STARTER_POLICIES)],
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(arguments) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let request = Request {
        principal: Principal { id: "fuzz".into(), attributes: Default::default() },
        action: Action::CallTool,
        resource: Resource::Tool { server: "demo".into(), name: "refund".into(), facts: ToolFacts::default() },
        arguments,
        session: SessionFacts::default(),
        time_unix: 0,
    };
    let _ = engine().evaluate(&request);
    let _ = engine().may_list(&request);
});
