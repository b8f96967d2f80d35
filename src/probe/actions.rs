//! Drill host actions on real hosts: stop, signal and start services over SSH, cut and heal links
//! from this machine, with the plan's `[drills]` command templates. Refused unless the plan allows
//! drills (`access.allow_drills`) and the process may write (a [`WriteCap`] and a read-write SSH pool).

use std::time::{Duration, Instant};

use crate::backend::Reporter;
use crate::inventory::{Plan, template};
use crate::ops::HostAction;
use crate::ops::WriteCap;
use crate::transport::ssh::{AccessMode, SshPool};

/// A systemd unit or service name: letters, digits and `@._:-`, not starting with `-`.
pub fn valid_service(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && !s.starts_with(['-', '.', '@'])
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | ':' | '-'))
        // a unit is named: `.`, `..`, `@` or `x.` name none
        && s.chars().any(|c| c.is_ascii_alphanumeric())
        && !s.ends_with('.')
}

/// A signal name (`TERM`, `KILL`, `STOP`, `RTMIN+3`) or number.
pub fn valid_signal(s: &str) -> bool {
    (1..=16).contains(&s.len()) && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+')
}

/// Where a host action's command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// On the host, over SSH (its SSH alias).
    Remote(String),
    /// On the machine kockpit runs on.
    Local,
}

/// The command that carries out `action` under `plan`, and where it runs. Pure: every refusal is here.
/// Said when a silence is asked of a cluster without an Alertmanager.
const NO_ALERTMANAGER: &str = "no Alertmanager is configured for this cluster (alertmanager_url in config.toml)";

pub fn command_for(plan: &Plan, action: &HostAction) -> Result<(Target, String), String> {
    if !plan.access.allow_drills {
        return Err("this cluster's plan does not allow drills on real hosts (`allow_drills = true` under [access])".into());
    }
    let host_name = match action {
        HostAction::Stop { host, .. } | HostAction::Start { host, .. } | HostAction::Cut { host } | HostAction::Heal { host } => host,
        HostAction::EtcdWrites { .. } => return Err("the etcd client is run by the etcd part, not on a host".into()),
        HostAction::VipClients { .. } => return Err("the VIP client runs here, not on a host".into()),
        HostAction::Silence { .. } => return Err(NO_ALERTMANAGER.into()),
    };
    let Some(host) = plan.host(host_name) else {
        return Err(format!("{host_name} is not a host of this cluster's plan"));
    };
    let d = &plan.drills;
    let service_ok = |s: &str| {
        if valid_service(s) { Ok(()) } else { Err(format!("invalid service name {s:?}: expected letters, digits and @._:- only")) }
    };
    match action {
        HostAction::Stop { service, signal, .. } => {
            service_ok(service)?;
            let signal = signal.trim().trim_start_matches("SIG").to_ascii_uppercase();
            if !valid_signal(&signal) {
                return Err(format!("invalid signal {signal:?}: expected a name like TERM, KILL, STOP or a number"));
            }
            let t = if signal == "TERM" { &d.stop } else { &d.kill };
            let cmd = template::render(t, &[("host", &host.name), ("service", service), ("signal", &signal)])?;
            Ok((Target::Remote(host.ssh_host.clone()), cmd))
        }
        HostAction::Start { service, .. } => {
            service_ok(service)?;
            let cmd = template::render(&d.start, &[("host", &host.name), ("service", service), ("signal", "CONT")])?;
            Ok((Target::Remote(host.ssh_host.clone()), cmd))
        }
        HostAction::Cut { .. } | HostAction::Heal { .. } => {
            let (key, t) = if matches!(action, HostAction::Cut { .. }) { ("cut", &d.cut) } else { ("heal", &d.heal) };
            let Some(t) = t else {
                return Err(format!(
                    "no drills.{key} command in the plan: a link is cut and restored out of band (hypervisor, switch), \
                     from this machine; set drills.cut and drills.heal"
                ));
            };
            Ok((Target::Local, template::render(t, &[("host", &host.name)])?))
        }
        HostAction::EtcdWrites { .. } => Err("the etcd client is run by the etcd part, not on a host".into()),
        HostAction::VipClients { .. } => Err("the VIP client runs here, not on a host".into()),
        HostAction::Silence { .. } => Err(NO_ALERTMANAGER.into()),
    }
}

/// Carry out `action`; Ok(what was done) or why not.
pub(crate) async fn run(plan: &Plan, pool: &SshPool, action: &HostAction, cap: &WriteCap, r: &Reporter) -> Result<String, String> {
    if pool.mode() == AccessMode::ReadOnly {
        return Err(format!("{}: refused, this process is read-only", action.describe()));
    }
    let (target, cmd) = command_for(plan, action).map_err(|e| format!("{}: refused: {e}", action.describe()))?;
    let limit = Duration::from_secs(u64::from(plan.drills.timeout_secs.max(1)));
    let what = action.describe();
    cap.intent(r.id, &format!("{what}: `{cmd}`"), &format!("{what} may have taken effect; the drill's restore step undoes it")).await?;
    let started = Instant::now();
    let (status, stderr) = match &target {
        Target::Remote(ssh_host) => {
            r.step(format!("{}: running `{cmd}` over SSH", action.describe()), true).await;
            let out = pool.run_write(cap, ssh_host, &cmd, limit).await.map_err(|e| format!("{}: {e}", action.describe()))?;
            (out.exit_status, out.stderr)
        }
        Target::Local => {
            r.step(format!("{}: running `{cmd}` on this machine", action.describe()), true).await;
            run_local(&cmd, limit).await.map_err(|e| format!("{}: {e}", action.describe()))?
        }
    };
    let took = started.elapsed().as_secs_f64();
    match status {
        Some(0) => Ok(format!("{} ({took:.1} s)", action.describe())),
        other => {
            let why = stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no message").to_string();
            let code = other.map(|c| format!("exit status {c}")).unwrap_or_else(|| "killed".into());
            Err(format!("{}: `{cmd}` failed ({code}): {why}", action.describe()))
        }
    }
}

/// `sh -c CMD` here, bounded; (exit status, stderr).
async fn run_local(cmd: &str, limit: Duration) -> Result<(Option<u32>, String), String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok((out.status.code().map(|c| c as u32), String::from_utf8_lossy(&out.stderr).into_owned())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("`{cmd}` took longer than {:.0} s (killed)", limit.as_secs_f64())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(allow: bool) -> Plan {
        let mut p = Plan::demo();
        p.access.allow_drills = allow;
        p
    }

    fn stop(host: &str, service: &str, signal: &str) -> HostAction {
        HostAction::Stop { host: host.into(), service: service.into(), signal: signal.into() }
    }

    #[test]
    fn systemd_defaults() {
        let p = plan(true);
        let lb = p.lbs().next().unwrap().clone();
        let (t, c) = command_for(&p, &stop(&lb.name, "keepalived", "TERM")).unwrap();
        assert_eq!((t, c.as_str()), (Target::Remote(lb.ssh_host.clone()), "systemctl stop 'keepalived'"));
        let (_, c) = command_for(&p, &stop(&lb.name, "haproxy", "SIGSTOP")).unwrap();
        assert_eq!(c, "systemctl kill --signal='STOP' 'haproxy'");
        let (_, c) = command_for(&p, &HostAction::Start { host: lb.name.clone(), service: "haproxy".into() }).unwrap();
        assert_eq!(c, "systemctl kill --signal=CONT 'haproxy'; systemctl start 'haproxy'");
    }

    #[test]
    fn refusals() {
        let lb = plan(true).lbs().next().unwrap().name.clone();
        let e = command_for(&plan(false), &stop(&lb, "keepalived", "TERM")).unwrap_err();
        assert!(e.contains("allow_drills"), "{e}");
        let e = command_for(&plan(true), &stop("nosuch", "keepalived", "TERM")).unwrap_err();
        assert!(e.contains("not a host"), "{e}");
        for bad in ["keepalived; reboot", "-x", "a b", "$(id)", ""] {
            let e = command_for(&plan(true), &stop(&lb, bad, "TERM")).unwrap_err();
            assert!(e.contains("invalid service"), "{bad}: {e}");
        }
        let e = command_for(&plan(true), &stop(&lb, "haproxy", "KILL; reboot")).unwrap_err();
        assert!(e.contains("invalid signal"), "{e}");
        let e = command_for(&plan(true), &HostAction::Cut { host: lb.clone() }).unwrap_err();
        assert!(e.contains("drills.cut"), "{e}");
        let mut p = plan(true);
        p.drills.cut = Some("ip link set {host} down".into());
        let (t, c) = command_for(&p, &HostAction::Cut { host: lb.clone() }).unwrap();
        assert_eq!((t, c), (Target::Local, format!("ip link set '{lb}' down")));
    }

    #[tokio::test]
    async fn local_commands_report_status_and_time_out() {
        let (code, err) = run_local("echo oops >&2; exit 3", Duration::from_secs(5)).await.unwrap();
        assert_eq!((code, err.trim()), (Some(3), "oops"));
        let e = run_local("sleep 5", Duration::from_millis(200)).await.unwrap_err();
        assert!(e.contains("longer than"), "{e}");
    }
}
