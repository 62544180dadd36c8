use super::*;

const DAY: f64 = 86_400.0;

fn settings() -> AnomalySettings {
    AnomalySettings {
        learn_calls: 100,
        learn_secs: DAY,
        off_hours_learn_secs: DAY,
        ..AnomalySettings::default()
    }
}

fn call<'a>(agent: &'a str, target: &'a str, dest: &'a [String], now: f64) -> Seen<'a> {
    Seen {
        agent,
        target,
        destinations: dest,
        denied: false,
        now,
    }
}

/// A day and a half of steady work from 09:00 to 17:00 UTC: 10 calls a minute, two tools,
/// one known recipient, results of about 1 KB. Returns 10:00 the next day.
fn trained(s: AnomalySettings) -> (Anomalies, f64) {
    let a = Anomalies::new(s);
    let dest = vec!["bob@example.com".to_owned()];
    for day in 0..2 {
        let start = day as f64 * DAY + 9.0 * 3600.0;
        let mut t = start;
        while t < start + 8.0 * 3600.0 {
            let tool = if (t as u64 / 6).is_multiple_of(3) {
                "s/send"
            } else {
                "s/read"
            };
            let d: &[String] = if tool == "s/send" { &dest } else { &[] };
            assert!(a.observe(&call("a", tool, d, t)).is_empty(), "at {t}");
            let bytes = 1000 + (t as u64 * 7919) % 300;
            assert!(a.observe_result("a", tool, bytes, t).is_empty());
            t += 6.0;
        }
    }
    (a, 2.0 * DAY + 10.0 * 3600.0)
}

#[test]
fn learns_silently_then_flags_a_new_tool_once() {
    let (a, t) = trained(settings());
    // Before learning, everything is new and nothing fires.
    let fresh = Anomalies::new(settings());
    assert!(fresh.observe(&call("b", "s/anything", &[], 0.0)).is_empty());
    let alerts = a.observe(&call("a", "s/delete_all", &[], t + 6.0));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = alerts.first().unwrap();
    assert_eq!(alert.anomaly, Anomaly::NewTool);
    assert_eq!(alert.severity, Severity::Medium);
    assert!(
        alert.why.contains("first use of `s/delete_all`"),
        "{}",
        alert.why
    );
    assert!(
        a.observe(&call("a", "s/delete_all", &[], t + 12.0))
            .is_empty()
    );
}

#[test]
fn a_new_destination_is_high_and_a_second_signal_is_critical() {
    let (a, t) = trained(settings());
    let dest = vec!["mallory@evil.test".to_owned()];
    let alerts = a.observe(&call("a", "s/send", &dest, t + 6.0));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts.first().unwrap().anomaly, Anomaly::NewDestination);
    assert_eq!(alerts.first().unwrap().severity, Severity::High);
    let alerts = a.observe(&call("a", "s/export", &[], t + 12.0));
    let alert = alerts.first().unwrap();
    assert_eq!(alert.anomaly, Anomaly::NewTool);
    assert_eq!(alert.severity, Severity::Critical);
    assert!(alert.why.contains("new_destination"), "{}", alert.why);
}

#[test]
fn a_rate_spike_fires_once_per_cooldown_and_does_not_become_normal() {
    let (a, t) = trained(settings());
    let mut fired = Vec::new();
    let mut now = t + 60.0;
    // 150 calls a minute for five minutes (15 times the usual 10).
    for _ in 0..750 {
        fired.extend(a.observe(&call("a", "s/read", &[], now)));
        now += 0.4;
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired.first().unwrap().anomaly, Anomaly::RateSpike);
    assert!(
        fired.first().unwrap().why.contains("usually 10"),
        "{:?}",
        fired
    );
    // After the cooldown the same spike fires again: the spike did not teach the baseline.
    now += 600.0;
    let mut again = Vec::new();
    for _ in 0..100 {
        again.extend(a.observe(&call("a", "s/read", &[], now)));
        now += 0.4;
    }
    assert_eq!(again.len(), 1, "{again:?}");
}

#[test]
fn a_large_result_is_unusual_but_a_small_variation_is_not() {
    let (a, t) = trained(settings());
    assert!(a.observe_result("a", "s/read", 2500, t).is_empty());
    let alerts = a.observe_result("a", "s/read", 400_000, t + 1.0);
    let alert = alerts.first().unwrap();
    assert_eq!(alert.anomaly, Anomaly::DataVolume);
    assert!(alert.why.contains("400000 bytes"), "{}", alert.why);
    // Unknown agents and tools seen too rarely do not alert.
    assert!(a.observe_result("z", "s/read", 400_000, t).is_empty());
}

#[test]
fn calls_at_night_are_off_hours() {
    let (a, _) = trained(settings());
    let night = 2.0 * DAY + 3.0 * 3600.0;
    assert!(a.observe(&call("a", "s/read", &[], night)).is_empty());
    assert!(
        a.observe(&call("a", "s/read", &[], night + 10.0))
            .is_empty()
    );
    let alerts = a.observe(&call("a", "s/read", &[], night + 20.0));
    let alert = alerts.first().unwrap();
    assert_eq!(alert.anomaly, Anomaly::OffHours);
    assert_eq!(alert.severity, Severity::Low);
    assert!(
        alert
            .why
            .contains("03:00 UTC; the hours 02:00-04:59 held 2 of its"),
        "{}",
        alert.why
    );
}

#[test]
fn a_burst_of_denials() {
    let (a, t) = trained(settings());
    let mut fired = Vec::new();
    for i in 0..8 {
        let mut seen = call("a", "s/read", &[], t + f64::from(i) * 5.0);
        seen.denied = true;
        fired.extend(a.observe(&seen));
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired.first().unwrap().anomaly, Anomaly::DenialBurst);
    assert!(
        fired.first().unwrap().why.starts_with("5 refused calls"),
        "{fired:?}"
    );
}

#[test]
fn severities_can_be_configured() {
    let mut s = settings();
    s.severity.insert(Anomaly::NewTool, Severity::Critical);
    let (a, t) = trained(s);
    let alerts = a.observe(&call("a", "s/new", &[], t + 6.0));
    assert_eq!(alerts.first().unwrap().severity, Severity::Critical);
}

#[test]
fn baselines_survive_a_save_and_restore() {
    let (a, t) = trained(settings());
    let saved = serde_json::to_string(&a.baselines()).unwrap();
    let b = Anomalies::new(settings());
    b.restore(serde_json::from_str(&saved).unwrap());
    assert_eq!(b.agents(), 1);
    assert!(b.observe(&call("a", "s/read", &[], t + 6.0)).is_empty());
    assert_eq!(b.observe(&call("a", "s/new", &[], t + 12.0)).len(), 1);
}

#[test]
fn poisson_tails() {
    assert!((poisson_tail(0, 2.0) - 1.0).abs() < 1e-12);
    // P(X >= 1) = 1 - e^-2.
    assert!((poisson_tail(1, 2.0) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
    // P(X >= 12 | 2) is about 1.2e-6.
    let t = poisson_tail(12, 2.0);
    assert!(t > 1e-6 && t < 1.5e-6, "{t}");
    assert_eq!(poisson_tail(3, 0.0), 0.0);
}

#[test]
fn an_agent_that_often_meets_new_destinations_is_not_flagged_for_each() {
    let s = AnomalySettings {
        learn_calls: 10,
        learn_secs: 0.0,
        ..AnomalySettings::default()
    };
    let a = Anomalies::new(s);
    // Every call names a recipient never seen before: new ones are its normal.
    for i in 0..200 {
        let d = vec![format!("customer{i}@example.com")];
        assert!(a.observe(&call("a", "s/send", &d, f64::from(i))).is_empty());
    }
    // Another agent that never named a destination: its first one is flagged.
    for i in 0..20 {
        assert!(
            a.observe(&call("b", "s/read", &[], f64::from(i)))
                .is_empty()
        );
    }
    let d = vec!["drop@evil.test".to_owned()];
    let alerts = a.observe(&call("b", "s/read", &d, 30.0));
    assert_eq!(alerts.first().unwrap().anomaly, Anomaly::NewDestination);
}
