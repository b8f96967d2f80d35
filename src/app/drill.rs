//! A drill run in the cockpit: started once the first observations arrived, driven every tick.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;

impl App {
    /// Run a drill in the cockpit: it starts once the first observations arrived.
    pub fn start_drill(&mut self, file: crate::drill::DrillFile, report: std::path::PathBuf) {
        self.audit("drill_start", json!({ "drill": file.name, "steps": file.steps.len() }));
        self.drill = Some(DrillState { pending: Some(file), run: None, report, since: Utc::now(), written: false });
    }

    /// Advance a running drill; returns the commands its actions need.
    pub fn drive_drill(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let Some(d) = self.drill.as_mut() else { return vec![] };
        if d.pending.is_some() {
            let ready = self.model.etcd.data.is_some() && !self.model.vrrp.is_empty();
            if !ready && (now - d.since).num_seconds() < 10 {
                return vec![];
            }
            let file = d.pending.take().expect("pending");
            d.run = Some(crate::drill::DrillRun::new(file, &self.model, now));
        }
        let Some(run) = d.run.as_mut() else { return vec![] };
        let effects = run.poll(&self.model, now);
        let finished = run.phase != crate::drill::Phase::Running && !d.written;
        let mut cmds = vec![];
        let mut says = vec![];
        for e in effects {
            match e {
                crate::drill::Effect::Say(t) => says.push(t),
                crate::drill::Effect::Host { id, action } => match self.cap.as_ref() {
                    Some(cap) => cmds.push(Command::Host { id, action, cap: cap.share() }),
                    None => says.push("read-only: drill action refused".into()),
                },
                crate::drill::Effect::Operation { id, request } => match self.cap.as_ref() {
                    Some(cap) => cmds.push(Command::Execute { id, request, cap: cap.share() }),
                    None => says.push("read-only: drill operation refused".into()),
                },
            }
        }
        for t in says {
            self.model.timeline.push(crate::model::Event::new(now, PanelId::Timeline, Severity::Info, format!("drill: {t}")));
            self.model.revision += 1;
            self.dirty = true;
        }
        for c in &cmds {
            if let Command::Host { id, action, .. } = c {
                self.audit("drill_action", json!({ "action_id": id, "action": action }));
            }
        }
        if finished {
            let d = self.drill.as_mut().expect("drill");
            d.written = true;
            let run = d.run.as_ref().expect("run");
            let path = d.report.clone();
            let md = crate::drill::report::markdown(run, &self.model.meta.cluster, now);
            let js = crate::drill::report::json(run, &self.model.meta.cluster, now);
            let passed = run.phase == crate::drill::Phase::Passed;
            let written = std::fs::write(&path, md).and_then(|_| std::fs::write(path.with_extension("json"), js.to_string()));
            self.audit("drill_end", json!({ "passed": passed, "report": path }));
            let (sev, text) = match written {
                Ok(()) => (
                    if passed { Severity::Info } else { Severity::Critical },
                    format!("drill {}: report {}", if passed { "PASSED" } else { "FAILED" }, path.display()),
                ),
                Err(e) => (Severity::Critical, format!("drill finished but the report could not be written: {e}")),
            };
            self.say(sev, text);
        }
        cmds
    }
}
