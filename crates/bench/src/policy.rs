//! Policy decision time with 100 policies, against a one-policy set in the same run.

use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use warden_policy::{Engine, Source};
use warden_types::{Action, Principal, Request, Resource, SessionFacts, ToolFacts};

use crate::stats::Samples;

const ITERATIONS: usize = 100_000;

/// 100 policies in the shapes users write: per-tool permits with argument conditions, label
/// rules, forbids with reasons, approval thresholds.
/// `starter` is how many policies the starter set holds; the generated ones make up the rest.
/// `paths` is the shape of the 24 path forbids.
fn hundred(starter: usize, paths: Paths) -> String {
    let mut out = String::from(warden_policy::STARTER_POLICIES);
    let mut n = starter;
    let mut i = 0;
    while n < 100 {
        let text = match i % 4 {
            0 => format!(
                "@id(\"p{i}\")\npermit(principal, action == Action::\"call_tool\", resource == Tool::\"svc{i}/op\")\nwhen {{ context.args has amount && context.args.amount <= {i} }};\n"
            ),
            1 => format!(
                "@id(\"p{i}\")\npermit(principal, action == Action::\"call_tool\", resource in Server::\"svc{i}\")\nwhen {{ resource.labels.contains(\"team{i}\") && principal has team && principal.team == \"t{i}\" }};\n"
            ),
            2 => {
                let test = match paths {
                    Paths::Like => format!("context.args.path like \"/secret{i}/*\""),
                    Paths::EitherLike => format!(
                        "(context.args.path like \"/secret{i}/*\" || context.args.path like \"/private{i}/*\")"
                    ),
                    Paths::OrOffHours => format!(
                        "(context.args.path like \"/secret{i}/*\" || context.time.hour < 6)"
                    ),
                    Paths::OrLabel => format!(
                        "(context.args.path like \"/secret{i}/*\" || resource.labels.contains(\"restricted{i}\"))"
                    ),
                    Paths::OrSum => format!(
                        "(context.args.path like \"/secret{i}/*\" || context.session.calls + {i} > 1000)"
                    ),
                };
                format!(
                    "@id(\"p{i}\")\n@reason(\"blocked path {i}\")\nforbid(principal, action == Action::\"call_tool\", resource)\nwhen {{ context.args has path && {test} }};\n"
                )
            }
            _ => format!(
                "@id(\"p{i}\")\n@approval(\"ops\")\npermit(principal, action == Action::\"call_tool\", resource == Tool::\"svc{i}/deploy\")\nwhen {{ context.time.hour >= 0 }};\n"
            ),
        };
        out.push_str(&text);
        n += 1;
        i += 1;
    }
    out
}

/// How the path forbids test a call's `path`.
#[derive(Debug, Clone, Copy)]
enum Paths {
    /// `has path && path like "/secret3/*"`: guards the engine prunes on.
    Like,
    /// `has path && (path like "/secret3/*" || path like "/private3/*")`: an `||` of guards,
    /// pruned too.
    EitherLike,
    /// `has path && (path like "/secret3/*" || context.time.hour < 6)`: the clock is a guard
    /// too, pruned outside the night hours.
    OrOffHours,
    /// `has path && (path like "/secret3/*" || resource.labels.contains("restricted3"))`: the
    /// tool's labels are a guard too.
    OrLabel,
    /// `has path && (path like "/secret3/*" || context.session.calls + 3 > 1000)`: arithmetic
    /// is no guard, so every one is evaluated for a call with a `path`: the set's worst case.
    OrSum,
}

fn measure(engine: &Engine, request: &Request) -> Samples {
    for _ in 0..1000 {
        std::hint::black_box(engine.evaluate(request));
    }
    let mut v = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let t = Instant::now();
        std::hint::black_box(engine.evaluate(std::hint::black_box(request)));
        v.push(t.elapsed());
    }
    Samples::new(v)
}

/// `ITERATIONS` timed stretches of arithmetic, each about `micros` long.
fn busy(micros: f64) -> Samples {
    let spin = |rounds: u64| {
        let mut x = 0u64;
        for i in 0..rounds {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        x
    };
    let calibration = 1_000_000;
    let t = Instant::now();
    std::hint::black_box(spin(calibration));
    let per_micro = calibration as f64 / (t.elapsed().as_secs_f64() * 1e6);
    let rounds = (per_micro * micros) as u64;
    let mut v = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let t = Instant::now();
        std::hint::black_box(spin(rounds));
        v.push(t.elapsed());
    }
    Samples::new(v)
}

pub fn run() -> Result<()> {
    let schema = Source::new("schema", warden_policy::STARTER_SCHEMA);
    let starter = Engine::load(
        &schema,
        &[Source::new(
            "starter.cedar",
            warden_policy::STARTER_POLICIES,
        )],
    )?
    .policies()
    .count();
    let load = |paths| {
        Engine::load(
            &schema,
            &[Source::new("hundred.cedar", hundred(starter, paths))],
        )
    };
    let (big, either, off_hours, labels, unpruned) = (
        load(Paths::Like)?,
        load(Paths::EitherLike)?,
        load(Paths::OrOffHours)?,
        load(Paths::OrLabel)?,
        load(Paths::OrSum)?,
    );
    for set in [&big, &either, &off_hours, &labels, &unpruned] {
        anyhow::ensure!(
            set.policies().count() == 100,
            "expected 100 policies, got {}",
            set.policies().count()
        );
    }
    let one = Engine::load(
        &schema,
        &[Source::new(
            "one.cedar",
            "permit(principal, action, resource);",
        )],
    )?;
    let request = Request {
        principal: Principal {
            id: "support-bot".into(),
            attributes: [("team".to_owned(), json!("support"))]
                .into_iter()
                .collect(),
        },
        action: Action::CallTool,
        resource: Resource::Tool {
            server: "demo".into(),
            name: "refund".into(),
            facts: ToolFacts {
                labels: vec!["payments".into()],
                ..ToolFacts::default()
            },
        },
        arguments: json!({"order_id": "A-1001", "amount": 30, "reason": "customer asked twice"}),
        session: SessionFacts {
            id: "s".into(),
            era: "legacy".into(),
            calls: 3,
            delegation: Vec::new(),
            limits: Default::default(),
            labels: Vec::new(),
            carries: Vec::new(),
        },
        time_unix: 1_790_000_000,
    };
    // A `path` argument brings in the 24 unscoped `path` forbids: pruned by their guards when
    // no pattern matches, one of them left (and denying) when one does; in the last set no
    // guard rules them out, so all 24 are evaluated: the set's worst case.
    let with_path = |path: &str| {
        let mut r = request.clone();
        if let Some(args) = r.arguments.as_object_mut() {
            args.insert("path".into(), json!(path));
        }
        r
    };
    let (no_match, one_match) = (with_path("/orders/A-1001"), with_path("/secret2/key"));
    let mut text_amount = request.clone();
    if let Some(args) = text_amount.arguments.as_object_mut() {
        args.insert("amount".into(), json!("30"));
    }
    let cases = [
        ("1 policy (baseline)", &one, &request),
        (
            "100 policies, refund `{order_id, amount, reason}`",
            &big,
            &request,
        ),
        (
            "100 policies, refund with a `path` no rule matches",
            &big,
            &no_match,
        ),
        (
            "100 policies, refund with a `path` one rule denies",
            &big,
            &one_match,
        ),
        (
            "100 policies whose path rules test two patterns with `\\|\\|`, refund with a `path`",
            &either,
            &no_match,
        ),
        (
            "100 policies whose path rules test the clock (`like … \\|\\| context.time.hour < 6`), refund with a `path` at 14:00",
            &off_hours,
            &no_match,
        ),
        (
            "100 policies whose path rules test the tool's labels (`like … \\|\\| resource.labels.contains(…)`), refund with a `path`",
            &labels,
            &no_match,
        ),
        (
            "100 policies, refund whose `amount` is a text (the guard errs: Cedar decides every time)",
            &big,
            &text_amount,
        ),
        (
            "100 policies whose path rules no guard prunes (`like … \\|\\| context.session.calls + 3 > 1000`), refund with a `path` (worst case)",
            &unpruned,
            &no_match,
        ),
    ];
    println!("## Policy decision time (one `evaluate` of a refund call)\n");
    // Settled: the decision depends on nothing the slice does not fix, so the first one is
    // reused (see `policy/src/slice.rs`); the others are evaluated by Cedar every time.
    println!("| policy set and call | policies evaluated | settled | p50 | p99 | decisions |");
    println!("|---|---|---|---|---|---|");
    let mut samples = Vec::new();
    for (name, engine, req) in cases {
        let s = measure(engine, req);
        let n = engine
            .policies_evaluated(req)
            .context("the request cannot be evaluated")?;
        let settled = if engine.settled(req) { "yes" } else { "no" };
        println!(
            "| {name} | {n} | {settled} | {:.1} µs | **{:.1} µs** | {ITERATIONS} |",
            s.pct(50.0),
            s.pct(99.0)
        );
        samples.push(s);
    }
    // The machine's own tail: plain work as long as the slowest row's p50, timed the same way.
    if let Some(slowest) = samples.iter().map(|s| s.pct(50.0)).reduce(f64::max) {
        let s = busy(slowest);
        println!(
            "| no policy engine: a busy loop as long as the slowest row's p50 (the machine's own tail) | | | {:.1} µs | **{:.1} µs** | {ITERATIONS} |",
            s.pct(50.0),
            s.pct(99.0)
        );
    }
    let [s1, s100, ..] = samples.as_slice() else {
        anyhow::bail!("no samples");
    };
    println!(
        "| ratio 100 policies / baseline | | | {:.2}× | {:.2}× | |\n",
        s100.pct(50.0) / s1.pct(50.0),
        s100.pct(99.0) / s1.pct(99.0)
    );
    Ok(())
}
