//! The console's HTML, rendered on the server. Everything that came from an agent, a tool or a
//! person goes through [`esc`].

use std::fmt::Write as _;

use warden_approvals::{Approval, Status};
use warden_identity::Agent;

use super::auth::Me;
use super::data::{Alert, Filter, Row};

/// HTML-escapes text for element content and quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Which page is current, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Approvals,
    Activity,
    Audit,
    Agents,
    Tools,
    Alerts,
}

/// A message at the top of a page.
#[derive(Debug, Clone)]
pub(crate) struct Flash {
    pub ok: bool,
    pub text: String,
}

/// The frame around every signed-in page.
pub(crate) fn layout(
    me: &Me,
    tab: Tab,
    title: &str,
    pending: usize,
    flash: Option<&Flash>,
    body: &str,
) -> String {
    let link = |t: Tab, href: &str, label: &str| {
        let current = if t == tab {
            " aria-current=\"page\""
        } else {
            ""
        };
        let count = if t == Tab::Approvals && pending > 0 {
            format!(" <span class=\"count\" aria-label=\"{pending} pending\">{pending}</span>")
        } else {
            String::new()
        };
        format!("<li><a href=\"{href}\"{current}>{label}{count}</a></li>")
    };
    let flash = flash.map_or_else(String::new, |f| {
        format!(
            "<div class=\"flash {}\" role=\"status\">{}</div>",
            if f.ok { "ok" } else { "bad" },
            esc(&f.text)
        )
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Warden</title><link rel=\"stylesheet\" href=\"/console/static/console.css\"></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><a class=\"brand\" href=\"/console/approvals\">Warden</a>\
<nav aria-label=\"Console\"><ul>{}{}{}{}{}{}</ul></nav>\
<form class=\"who\" method=\"post\" action=\"/console/logout\">\
<span>{} <span class=\"muted-light\">({})</span></span>\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form></header>\
<main id=\"main\"><h1>{title}</h1>{flash}{body}</main></body></html>",
        link(Tab::Approvals, "/console/approvals", "Approvals"),
        link(Tab::Activity, "/console/activity", "Activity"),
        link(Tab::Audit, "/console/audit", "Audit log"),
        link(Tab::Agents, "/console/agents", "Agents"),
        link(Tab::Tools, "/console/tools", "Tools"),
        link(Tab::Alerts, "/console/alerts", "Alerts"),
        esc(&me.name),
        esc(&me.groups.join(", ")),
        esc(&me.csrf),
        title = esc(title),
    )
}

/// The sign-in page.
pub(crate) fn login(token: &str, next: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!("<div class=\"flash bad\" role=\"alert\">{}</div>", esc(e))
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Sign in · Warden</title><link rel=\"stylesheet\" href=\"/console/static/console.css\"></head>\
<body><main id=\"main\" class=\"login\"><div class=\"card\"><h1>Sign in to Warden</h1>\
<p class=\"muted\">Approvers review and decide agents' held calls here.</p>{error}\
<form method=\"post\" action=\"/console/login\">\
<input type=\"hidden\" name=\"login_csrf\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
<label for=\"name\">Name</label><input id=\"name\" name=\"name\" type=\"text\" autocomplete=\"username\" required>\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<div class=\"actions\"><button class=\"primary\" type=\"submit\">Sign in</button></div></form>\
<p class=\"muted\">No account? An operator adds one with <code>warden approver add NAME --group GROUP</code>.</p>\
</div></main></body></html>",
        esc(token),
        esc(next)
    )
}

/// A plain error page (also for refusals before sign-in).
pub(crate) fn problem(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Warden</title>\
<link rel=\"stylesheet\" href=\"/console/static/console.css\"></head><body><main id=\"main\">\
<h1>{t}</h1><p>{}</p><p><a href=\"/console/approvals\">Back to the console</a></p></main></body></html>",
        esc(text),
        t = esc(title)
    )
}

fn badge(text: &str) -> String {
    format!(
        "<span class=\"badge b-{}\">{}</span>",
        esc(text),
        esc(&text.replace('_', " "))
    )
}

fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn left(expires: i64, now: i64) -> String {
    let s = (expires - now).max(0);
    if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

fn short_json(v: &serde_json::Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// The approvals page: pending requests first, then recent decisions.
pub(crate) fn approvals(me: &Me, items: &[Approval], now: i64) -> String {
    let mine = |a: &Approval| me.is_admin() || a.groups.iter().any(|g| me.groups.contains(g));
    let pending: Vec<&Approval> = items
        .iter()
        .filter(|a| a.status == Status::Pending && mine(a))
        .collect();
    let mut out = String::new();
    out.push_str("<h2>Waiting for a decision</h2>");
    if pending.is_empty() {
        out.push_str("<p class=\"card\">Nothing is waiting for your groups. New requests appear here (reload the page) and in live activity.</p>");
    } else {
        out.push_str("<table><caption class=\"skip\">Pending approval requests</caption><thead><tr><th scope=\"col\">Requested</th><th scope=\"col\">Agent</th><th scope=\"col\">Call</th><th scope=\"col\">Arguments</th><th scope=\"col\">Groups</th><th scope=\"col\">Expires in</th><th scope=\"col\"><span class=\"skip\">Review</span></th></tr></thead><tbody>");
        for a in &pending {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"args\"><code>{}</code></td><td>{}</td><td>{}</td><td><a href=\"/console/approvals/{}\" aria-label=\"Review {} for {}\">Review</a></td></tr>",
                esc(&when(a.created)),
                esc(&a.agent),
                esc(&a.resource()),
                esc(&short_json(&a.arguments)),
                esc(&a.groups.join(", ")),
                esc(&left(a.expires, now)),
                esc(&a.id),
                esc(&a.resource()),
                esc(&a.agent),
            );
        }
        out.push_str("</tbody></table>");
    }
    let decided: Vec<&Approval> = items
        .iter()
        .filter(|a| a.status != Status::Pending && mine(a))
        .take(25)
        .collect();
    out.push_str("<h2>Recently decided</h2>");
    if decided.is_empty() {
        out.push_str("<p class=\"card\">No decisions yet.</p>");
    } else {
        out.push_str("<table><thead><tr><th scope=\"col\">Request</th><th scope=\"col\">Agent</th><th scope=\"col\">Call</th><th scope=\"col\">Status</th><th scope=\"col\">By</th><th scope=\"col\">Reason</th></tr></thead><tbody>");
        for a in decided {
            let _ = write!(
                out,
                "<tr><td><a href=\"/console/approvals/{id}\">{id}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.agent),
                esc(&a.resource()),
                badge(a.status.as_str()),
                esc(a.decided_by.as_deref().unwrap_or("—")),
                esc(a.decided_reason.as_deref().unwrap_or("")),
                id = esc(&a.id),
            );
        }
        out.push_str("</tbody></table>");
    }
    out
}

/// One request in full, with the decision form when this approver may decide it.
pub(crate) fn approval(me: &Me, a: &Approval, now: i64) -> String {
    let pretty = serde_json::to_string_pretty(&a.arguments).unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"card\"><dl class=\"facts\">\
<dt>Status</dt><dd>{}</dd><dt>Agent</dt><dd>{}</dd><dt>Call</dt><dd><code>{}</code> ({})</dd>\
<dt>Why held</dt><dd>{}</dd><dt>Policies</dt><dd>{}</dd><dt>Approver groups</dt><dd>{}</dd>\
<dt>Requested</dt><dd>{}</dd><dt>Expires</dt><dd>{} ({} left)</dd><dt>Session</dt><dd><code>{}</code></dd>\
<dt>Call hash</dt><dd><code>{}</code></dd>",
        badge(a.status.as_str()),
        esc(&a.agent),
        esc(&a.resource()),
        esc(&a.method),
        esc(&a.reason),
        esc(&a.policies.join(", ")),
        esc(&a.groups.join(", ")),
        esc(&when(a.created)),
        esc(&when(a.expires)),
        esc(&left(a.expires, now)),
        esc(&a.session),
        esc(&a.call_hash),
    );
    if let Some(by) = &a.decided_by {
        let _ = write!(
            out,
            "<dt>Decided by</dt><dd>{} via {} at {}</dd><dt>Their reason</dt><dd>{}</dd>",
            esc(by),
            esc(a.decided_via.as_deref().unwrap_or("")),
            esc(&a.decided_at.map(when).unwrap_or_default()),
            esc(a.decided_reason.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</dl></div><h2>Arguments (exactly as they will be sent)</h2>");
    let _ = write!(
        out,
        "<pre tabindex=\"0\" aria-label=\"Arguments\">{}</pre>",
        esc(&pretty)
    );
    out.push_str("<h2>Detector findings</h2>");
    match a.findings.as_array().filter(|f| !f.is_empty()) {
        None => out.push_str("<p class=\"card\">None.</p>"),
        Some(findings) => {
            out.push_str("<table><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Type</th><th scope=\"col\">Where</th><th scope=\"col\">Confidence</th></tr></thead><tbody>");
            for f in findings {
                let s = |k: &str| {
                    f.get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .unwrap_or_default()
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    esc(&s("kind")),
                    esc(&s("type")),
                    esc(&s("pointer")),
                    esc(&s("confidence"))
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    let may = me.is_admin() || a.groups.iter().any(|g| me.groups.contains(g));
    if a.status == Status::Pending {
        if may {
            let _ = write!(
                out,
                "<h2>Decide</h2><form class=\"card\" method=\"post\" action=\"/console/approvals/{}/decide\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"call_hash\" value=\"{}\">\
<label for=\"reason\">Reason (recorded in the audit log; told to the agent on denial)</label>\
<textarea id=\"reason\" name=\"reason\" maxlength=\"2000\"></textarea>\
<div class=\"actions\"><button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve this call</button>\
<button class=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div></form>",
                esc(&a.id),
                esc(&me.csrf),
                esc(&a.call_hash),
            );
        } else {
            out.push_str(
                "<p class=\"flash bad\">You are not in a group that may decide this request.</p>",
            );
        }
    }
    out
}

fn rows_table(rows: &[Row], live: Option<&str>) -> String {
    let mut out = String::from(
        "<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Agent</th><th scope=\"col\">Resource</th><th scope=\"col\">Decision</th><th scope=\"col\">Details</th></tr></thead>",
    );
    match live {
        Some(stream) => {
            let _ = write!(out, "<tbody id=\"live\" data-stream=\"{}\">", esc(stream));
        }
        None => out.push_str("<tbody>"),
    }
    for r in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.seq,
            esc(&r.ts),
            esc(r.agent.as_deref().unwrap_or("")),
            esc(r.resource.as_deref().unwrap_or("")),
            badge(r.decision.as_deref().unwrap_or(r.kind)),
            esc(&r.summary),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Live activity with filters.
pub(crate) fn activity(filter: &Filter, rows: &[Row]) -> String {
    let option = |value: &str, label: &str| {
        let selected = if filter.decision == value {
            " selected"
        } else {
            ""
        };
        format!("<option value=\"{value}\"{selected}>{label}</option>")
    };
    let mut out = format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/activity\">\
<div><label for=\"f-agent\">Agent</label><input id=\"f-agent\" name=\"agent\" type=\"text\" value=\"{}\"></div>\
<div><label for=\"f-tool\">Tool</label><input id=\"f-tool\" name=\"tool\" type=\"text\" value=\"{}\"></div>\
<div><label for=\"f-decision\">Decision</label><select id=\"f-decision\" name=\"decision\">{}{}{}{}{}{}{}{}</select></div>\
<div><button type=\"submit\">Filter</button></div></form>\
<p class=\"live muted\" id=\"live-status\" role=\"status\">Live: connecting…</p>",
        esc(&filter.agent),
        esc(&filter.tool),
        option("", "Any"),
        option("allow", "Allowed"),
        option("deny", "Denied"),
        option("approval_required", "Approval required"),
        option("requested", "Approval requested"),
        option("approved", "Approved"),
        option("denied", "Approval denied"),
        option("expired", "Approval expired"),
    );
    out.push_str(&rows_table(
        rows,
        Some(&format!("/console/activity/stream?{}", filter.query())),
    ));
    out.push_str("<script src=\"/console/static/console.js\"></script>");
    out
}

/// Chain status shown on the audit page.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub ok: bool,
    pub text: String,
}

/// The audit browser.
pub(crate) fn audit(
    chain: &Chain,
    rows: &[Row],
    kind: &str,
    agent: &str,
    older: Option<i64>,
) -> String {
    let kinds = [
        "",
        "decision",
        "outcome",
        "approval",
        "lifecycle",
        "protocol",
    ];
    let mut options = String::new();
    for k in kinds {
        let selected = if k == kind { " selected" } else { "" };
        let label = if k.is_empty() { "Any" } else { k };
        let _ = write!(options, "<option value=\"{k}\"{selected}>{label}</option>");
    }
    let mut out = format!(
        "<div class=\"flash {}\" role=\"status\"><strong>{}</strong> {}</div>\
<p><a href=\"/console/audit/export\" download>Export the whole log (JSON lines)</a></p>\
<form class=\"filters\" method=\"get\" action=\"/console/audit\">\
<div><label for=\"a-kind\">Kind</label><select id=\"a-kind\" name=\"kind\">{options}</select></div>\
<div><label for=\"a-agent\">Agent</label><input id=\"a-agent\" name=\"agent\" type=\"text\" value=\"{}\"></div>\
<div><button type=\"submit\">Filter</button></div></form>",
        if chain.ok { "ok" } else { "bad" },
        if chain.ok {
            "Chain verified."
        } else {
            "Chain broken."
        },
        esc(&chain.text),
        esc(agent),
    );
    out.push_str(&rows_table(rows, None));
    if let Some(before) = older {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", kind)
            .append_pair("agent", agent)
            .append_pair("before", &before.to_string())
            .finish();
        let _ = write!(
            out,
            "<p><a href=\"/console/audit?{}\">Older records</a></p>",
            esc(&q)
        );
    }
    out
}

/// Agents with suspend and resume.
pub(crate) fn agents(me: &Me, agents: &[Agent]) -> String {
    if agents.is_empty() {
        return "<p class=\"card\">No agents. Add one with <code>warden agent add NAME</code>.</p>"
            .to_owned();
    }
    let mut out = String::from(
        "<table><thead><tr><th scope=\"col\">Agent</th><th scope=\"col\">Status</th><th scope=\"col\">Created</th><th scope=\"col\">Attributes</th><th scope=\"col\">Action</th></tr></thead><tbody>",
    );
    for a in agents {
        let status = a.status.as_str();
        let action = if status == "active" {
            format!(
                "<form class=\"inline\" method=\"post\" action=\"/console/agents/{n}/status\"><input type=\"hidden\" name=\"csrf\" value=\"{c}\"><input type=\"hidden\" name=\"status\" value=\"suspended\"><button class=\"deny\" type=\"submit\" aria-label=\"Suspend {n}\">Suspend</button></form>",
                n = esc(&a.id),
                c = esc(&me.csrf)
            )
        } else if me.is_admin() {
            format!(
                "<form class=\"inline\" method=\"post\" action=\"/console/agents/{n}/status\"><input type=\"hidden\" name=\"csrf\" value=\"{c}\"><input type=\"hidden\" name=\"status\" value=\"active\"><button type=\"submit\" aria-label=\"Resume {n}\">Resume</button></form>",
                n = esc(&a.id),
                c = esc(&me.csrf)
            )
        } else {
            "<span class=\"muted\">An administrator resumes agents</span>".to_owned()
        };
        let attributes = serde_json::to_string(&a.attributes).unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{action}</td></tr>",
            esc(&a.id),
            badge(status),
            esc(&when(a.created)),
            esc(&attributes),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Pinned tools: those waiting for review first, each with what changed and what the
/// description scan found; an administrator approves the definition shown.
pub(crate) fn tools(me: &Me, pins: &[warden_approvals::Pin]) -> String {
    use warden_approvals::PinStatus;
    if pins.is_empty() {
        return "<p class=\"card\">No tools pinned yet: tools are pinned when an upstream lists them.</p>".to_owned();
    }
    let mut sorted: Vec<&warden_approvals::Pin> = pins.iter().collect();
    sorted.sort_by_key(|p| p.status == PinStatus::Approved);
    let mut out = String::from(
        "<table><thead><tr><th scope=\"col\">Tool</th><th scope=\"col\">Status</th><th scope=\"col\">Findings</th><th scope=\"col\">What changed</th><th scope=\"col\">Action</th></tr></thead><tbody>",
    );
    for p in sorted {
        let tool = format!("{}/{}", p.server, p.name);
        let findings: Vec<String> = p
            .findings
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                format!(
                    "{} at <code>{}</code>: {}",
                    esc(f["kind"].as_str().unwrap_or_default()),
                    esc(f["pointer"].as_str().unwrap_or_default()),
                    esc(f["detail"].as_str().unwrap_or_default())
                )
            })
            .collect();
        let (change, action) = if p.status == PinStatus::Approved {
            (String::new(), String::new())
        } else {
            let lines = warden_approvals::diff(p.approved.as_ref(), &p.definition);
            let change = format!("<pre class=\"diff\">{}</pre>", esc(&lines.join("\n")));
            let action = if me.is_admin() {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/console/tools/approve\"><input type=\"hidden\" name=\"csrf\" value=\"{c}\"><input type=\"hidden\" name=\"server\" value=\"{s}\"><input type=\"hidden\" name=\"tool\" value=\"{n}\"><input type=\"hidden\" name=\"hash\" value=\"{h}\"><button class=\"approve\" type=\"submit\" aria-label=\"Approve {t}\">Approve</button></form>",
                    c = esc(&me.csrf),
                    s = esc(&p.server),
                    n = esc(&p.name),
                    h = esc(&p.hash),
                    t = esc(&tool)
                )
            } else {
                "<span class=\"muted\">An administrator approves tools</span>".to_owned()
            };
            (change, action)
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{change}</td><td>{action}</td></tr>",
            esc(&tool),
            badge(p.status.as_str()),
            findings.join("<br>"),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Alerts, newest first.
pub(crate) fn alerts(chain: &Chain, alerts: &[Alert]) -> String {
    let mut out = String::new();
    if !chain.ok {
        let _ = write!(
            out,
            "<div class=\"flash bad\" role=\"alert\"><strong>The audit chain is broken.</strong> {}</div>",
            esc(&chain.text)
        );
    }
    if alerts.is_empty() {
        out.push_str("<p class=\"card\">No alerts in the recent log: no blocked injections or secrets, no withheld results, no expired approvals, no malformed traffic.</p>");
        return out;
    }
    out.push_str("<table><thead><tr><th scope=\"col\">Severity</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">What</th><th scope=\"col\">Details</th><th scope=\"col\">Record</th></tr></thead><tbody>");
    for a in alerts {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/console/audit?before={}\">#{}</a></td></tr>",
            badge(a.severity),
            esc(&a.ts),
            esc(&a.title),
            esc(&a.detail),
            a.seq + 1,
            a.seq
        );
    }
    out.push_str("</tbody></table>");
    out
}
