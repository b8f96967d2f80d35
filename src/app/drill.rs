//! A drill run in the cockpit: started once the first observations arrived, driven every tick.

use super::*;
use chrono::{DateTime, Utc};

impl App {
    /// Run a drill in the cockpit: it starts once the first observations arrived.
    pub fn start_drill(&mut self, file: crate::drill::DrillFile, report: std::path::PathBuf) {
        self.drill = Some(DrillState { pending: Some(file), driver: None, report, since: Utc::now(), written: false });
    }

    /// Advance a running drill; returns the commands its actions need (planned and recorded by the
    /// drill's driver, like every operation).
    pub fn drive_drill(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let cmds = self.drive_drill_inner(now);
        crate::backend::note_planned(&mut self.model, &cmds, now);
        cmds
    }

    /// Stop a running drill now (a hang-up, SIGTERM): what it sent is cancelled and what it broke
    /// undone (the commands for that); its report is written by the next [`App::drive_drill`].
    pub fn abort_drill(&mut self, why: &str, now: DateTime<Utc>) -> Vec<Command> {
        let Some(driver) = self.drill.as_mut().and_then(|d| d.driver.as_mut()) else { return vec![] };
        let (says, cmds) = driver.abort(why, &self.model, now);
        for t in says {
            self.model.timeline.push(crate::model::Event::new(now, PanelId::Timeline, Severity::Warn, format!("drill: {t}")));
            self.model.revision += 1;
        }
        crate::backend::note_planned(&mut self.model, &cmds, now);
        cmds
    }

    /// How many of a drill's actions (its undo after an abort among them) have not reported their end.
    pub fn drill_outstanding(&self) -> usize {
        self.drill.as_ref().and_then(|d| d.driver.as_ref()).map_or(0, |d| d.outstanding())
    }

    fn drive_drill_inner(&mut self, now: DateTime<Utc>) -> Vec<Command> {
        let Some(d) = self.drill.as_mut() else { return vec![] };
        if d.pending.is_some() {
            let ready = self.model.etcd.data.is_some() && !self.model.vrrp.is_empty();
            if !ready && (now - d.since).num_seconds() < 10 {
                return vec![];
            }
            let file = d.pending.take().expect("pending");
            let cap = self.cap.as_ref().map(crate::ops::WriteCap::share);
            d.driver = Some(crate::drill::driver::Driver::new(file, &self.model, now, self.audit.clone(), cap));
        }
        let Some(driver) = d.driver.as_mut() else { return vec![] };
        let (says, cmds) = driver.poll(&self.model, now);
        let finished = driver.run.phase != crate::drill::Phase::Running && !d.written;
        for t in says {
            self.model.timeline.push(crate::model::Event::new(now, PanelId::Timeline, Severity::Info, format!("drill: {t}")));
            self.model.revision += 1;
            self.dirty = true;
        }
        if finished {
            let d = self.drill.as_mut().expect("drill");
            d.written = true;
            let driver = d.driver.as_ref().expect("driver");
            let run = &driver.run;
            let path = d.report.clone();
            let md = crate::drill::report::markdown(run, &self.model.meta.cluster, now);
            let js = crate::drill::report::json(run, &self.model.meta.cluster, now);
            let passed = run.phase == crate::drill::Phase::Passed;
            let written = std::fs::write(&path, crate::text::printable(&md).as_bytes())
                .and_then(|_| std::fs::write(path.with_extension("json"), js.to_string()));
            driver.finish(passed, &path);
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
