//! Drill reports: Markdown for people, JSON for machines. Measured times against every deadline.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{DrillRun, Phase};

pub fn markdown(run: &DrillRun, cluster: &str, finished: DateTime<Utc>) -> String {
    let mut s = String::new();
    let verdict = match run.phase {
        Phase::Passed => "PASSED",
        Phase::Failed => "FAILED",
        Phase::Running => "INCOMPLETE",
    };
    s.push_str(&format!("# Drill report: {}\n\n", run.file.name));
    if !run.file.description.is_empty() {
        s.push_str(&format!("{}\n\n", run.file.description));
    }
    s.push_str(&format!(
        "- Cluster: {cluster}\n- Started: {}\n- Finished: {}\n- Duration: {:.1} s\n- Result: **{verdict}**\n",
        run.started_at.to_rfc3339(),
        finished.to_rfc3339(),
        (finished - run.started_at).num_milliseconds() as f64 / 1000.0
    ));
    if !run.symbols.is_empty() {
        let syms: Vec<String> = run.symbols.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        s.push_str(&format!("- Resolved at start: {}\n", syms.join(", ")));
    }
    s.push_str("\n| # | step | action | expectation | deadline | measured | result |\n|---|---|---|---|---|---|---|\n");
    for (i, r) in run.results.iter().enumerate() {
        let action = match (&r.action, r.action_ok) {
            (Some(a), Some(false)) => match r.action_detail.as_deref().unwrap_or("") {
                d if d.starts_with(super::driver::REFUSED) => format!("{a} ({d})"),
                d => format!("{a} (FAILED: {d})"),
            },
            (Some(a), _) => a.clone(),
            (None, _) => r.action_detail.clone().unwrap_or_else(|| "-".into()),
        };
        if r.expectations.is_empty() {
            s.push_str(&format!("| {} | {} | {} | - | - | - | {} |\n", i + 1, r.name, action, if r.ok { "ok" } else { "FAILED" }));
        }
        for (j, e) in r.expectations.iter().enumerate() {
            let measured = match (&e.detail, e.met_after_ms) {
                (Some(d), _) => d.clone(),
                (None, Some(ms)) => format!("{:.2} s", ms as f64 / 1000.0),
                (None, None) => "not met".into(),
            };
            let (n, name, act) =
                if j == 0 { ((i + 1).to_string(), r.name.clone(), action.clone()) } else { (String::new(), String::new(), String::new()) };
            s.push_str(&format!(
                "| {n} | {name} | {act} | {} | {:.1} s | {measured} | {} |\n",
                e.text,
                e.deadline_ms as f64 / 1000.0,
                if e.ok { "ok" } else { "FAILED" }
            ));
        }
    }
    // what each action said when it ended (a defrag's order, a maintenance's parts, a client's count)
    let said: Vec<String> = run
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let d = r.action_detail.as_deref().filter(|d| !d.is_empty() && r.action_ok == Some(true))?;
            Some(format!("- step {}: {}\n", i + 1, d.replace(['\n', '\r'], " ")))
        })
        .collect();
    if !said.is_empty() {
        s.push_str("\n## What the actions reported\n\n");
        s.extend(said);
    }
    s
}

pub fn json(run: &DrillRun, cluster: &str, finished: DateTime<Utc>) -> serde_json::Value {
    json!({
        "drill": run.file.name,
        "cluster": cluster,
        "started_at": run.started_at,
        "finished_at": finished,
        "result": run.phase,
        "symbols": run.symbols,
        "steps": run.results,
    })
}
