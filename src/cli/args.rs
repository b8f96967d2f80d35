//! kockpit's command line: the options and subcommands, and which shared option each subcommand
//! shows in its help; the manual pages come from the same description.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::Result;
use color_eyre::eyre::eyre;

#[derive(Debug, Parser)]
#[command(name = "kockpit", version, about = "One screen for the on-call engineer of a self-hosted HA Kubernetes cluster")]
pub struct Cli {
    /// Host plan (kockpit TOML or KubeKey Cluster YAML). Default: $KOCKPIT_CONFIG, then `plan` in config.toml, else the
    /// cluster of a usable kubeconfig (KUBECONFIG, ~/.kube/config), else the demo.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use the simulated demo cluster.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Read-only audit mode: nothing can be changed from this process.
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Theme name (builtin: dark, light, high-contrast, mono; or a file in the config dir's themes/).
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Keymap name (builtin: default, vim; or a file in the config dir's keymaps/).
    #[arg(long, global = true)]
    pub keymap: Option<String>,
    /// Audit log file (JSON Lines). Default: $XDG_STATE_HOME/kockpit/audit.jsonl.
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Demo only: inject a fault at start (repeatable): stop-keepalived, kill-master, etcd-nospace, osd-down,
    /// cert-expiring, split-brain, kill-haproxy, cut-ssh-owner, heal.
    #[arg(long, global = true, value_name = "NAME")]
    pub fault: Vec<String>,
    /// Demo only: add this many simulated worker nodes (scale runs).
    #[arg(long, global = true, default_value_t = 0)]
    pub nodes: usize,
    /// The kubeconfig context: without a host plan, the cluster to open; with one, instead of its kube_context.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Print where kockpit reads its configuration and writes its audit log, then exit.
    #[arg(long)]
    pub print_config_paths: bool,
    /// status, render, run, audit report: how long to wait for every source's first answer (or failure)
    /// before a source still silent is reported unknown.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10.0)]
    pub wait: f64,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the cockpit on the simulated demo cluster.
    Demo,
    /// Print the cluster's health; exit 0 healthy, 1 degraded, 2 critical, 3 unknown or unreachable.
    Status {
        /// The whole model as JSON.
        #[arg(long)]
        json: bool,
        /// Every cluster of config.toml's [[clusters]]: one line each, problems first; the exit code
        /// is the worst cluster's.
        #[arg(long)]
        all: bool,
    },
    /// Print the screen as plain text.
    Render {
        /// WIDTHxHEIGHT
        #[arg(long, default_value = "120x40")]
        size: String,
        /// The fleet screen of config.toml's [[clusters]].
        #[arg(long)]
        all: bool,
    },
    /// Probe every cluster of config.toml's [[clusters]] (or the one cluster given) without the
    /// screen, read-only, and serve Prometheus metrics on ADDR's /metrics until SIGTERM or SIGINT.
    Serve {
        /// Where to listen, e.g. 127.0.0.1:9810 (port 0: any free port, printed on stderr).
        #[arg(long, value_name = "ADDR", required = true)]
        metrics: String,
    },
    /// Runbook drills: run one against the configured cluster (or the demo), or check a drill file.
    Drill {
        #[command(subcommand)]
        cmd: DrillCmd,
    },
    /// Carry out an operation without the screen: the same planner, confirmation rules, audit log
    /// and read-only refusal as the cockpit. Prints the plan (steps, warnings, blockers, the drain's
    /// dry run); with --yes it executes, printing each step, and exits 0 only when verified. Exit 1
    /// refused (a blocker, read-only, the audit log) or failed or cancelled; 4 a bad argument.
    ///
    /// OPERATION is one of: cordon NODE, uncordon NODE, drain NODE, failover LB, restore LB,
    /// renew MASTER|all, noout on|off, etcd-move-leader MEMBER, etcd-defrag, etcd-disarm,
    /// etcd-snapshot FILE|HOST:/PATH, haproxy-drain SERVER, haproxy-ready SERVER, maintenance MASTER,
    /// maintenance-end MASTER (the names may also come as --node, --to, --lb, --master, --server, --host).
    Run {
        /// The operation and its target, e.g. `drain worker2`, `failover lb2`, `renew all`.
        #[arg(value_name = "OPERATION", required = true, num_args = 1..)]
        words: Vec<String>,
        /// The node (cordon, uncordon, drain).
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// The load balancer to move the VIP to (failover), the etcd member to lead (etcd-move-leader),
        /// the snapshot's file here or HOST:/PATH on a host of the plan (etcd-snapshot).
        #[arg(long, value_name = "LB|MEMBER|FILE")]
        to: Option<String>,
        /// The load balancer to restore (restore).
        #[arg(long, value_name = "LB")]
        lb: Option<String>,
        /// The master to renew, or `all` (renew).
        #[arg(long, value_name = "MASTER")]
        master: Option<String>,
        /// The apiserver, by its haproxy server name or its plan host (haproxy-drain, haproxy-ready).
        #[arg(long, value_name = "SERVER")]
        server: Option<String>,
        /// The master (maintenance, maintenance-end).
        #[arg(long, value_name = "MASTER")]
        host: Option<String>,
        /// failover: stop keepalived on the owner instead of demoting it.
        #[arg(long)]
        emergency: bool,
        /// drain: delete pods' emptyDir data.
        #[arg(long)]
        delete_emptydir_data: bool,
        /// drain: delete pods that no controller manages.
        #[arg(long)]
        force: bool,
        /// Execute the plan (without it only the plan is printed and nothing changes).
        #[arg(long, short)]
        yes: bool,
        /// JSON Lines instead of text: the plan, each step, the end (`{"event":"end","result":...}`).
        #[arg(long)]
        json: bool,
    },
    /// Evidence for auditors.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Tail logs without the screen: host journals and files over SSH, pod logs through the API,
    /// merged on one time axis as `TIME [SOURCE] TEXT`. Exit 0 when every source could be read, 1 if not.
    Logs {
        /// A host of the plan (repeatable): each host's --unit journals and --file files are tailed.
        #[arg(long, value_name = "HOST")]
        host: Vec<String>,
        /// A systemd unit on every --host (repeatable), e.g. kubelet, etcd, keepalived, haproxy.
        #[arg(long, value_name = "UNIT")]
        unit: Vec<String>,
        /// An absolute file path on every --host (repeatable).
        #[arg(long, value_name = "PATH")]
        file: Vec<String>,
        /// NS/POD (every container), NS/POD/CONTAINER, or deploy|ds|sts/NS/NAME (repeatable).
        #[arg(long, value_name = "POD")]
        pod: Vec<String>,
        /// Pod logs of the previous container instance (after a restart).
        #[arg(long)]
        previous: bool,
        /// Lines of history per source.
        #[arg(long, default_value_t = crate::logs::spec::DEFAULT_TAIL)]
        tail: u32,
        /// Keep printing new lines until interrupted.
        #[arg(long, short)]
        follow: bool,
    },
    /// Lint keepalived.conf and haproxy.cfg files (the kind is told by the content; several
    /// keepalived files are peers, named by their file stem), then predict the failover when haproxy
    /// dies on the peer the configuration makes master. Prints `file:line: LEVEL code: message` and a
    /// summary. Exit 0 clean, 1 warnings, 2 critical, 4 a file that cannot be read.
    Lint {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// A keepalived peer with its name (repeatable), instead of the file's stem.
        #[arg(long, value_name = "NAME=FILE")]
        peer: Vec<String>,
        /// A peer's primary address (repeatable), for ties of priority and the subnet check.
        #[arg(long, value_name = "NAME=IP[/PREFIX]")]
        address: Vec<String>,
        /// The haproxy files are a master's (kube-apiserver listens on 6443 there).
        #[arg(long)]
        on_master: bool,
        /// Findings and predictions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for a shell: `kockpit completions bash > /etc/bash_completion.d/kockpit`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print kockpit's manual page (roff): `kockpit man > /usr/local/share/man/man1/kockpit.1`; with
    /// `--dir`, write it and one page per subcommand (kockpit-status.1, kockpit-audit-report.1, ...) there.
    Man {
        /// Write every page into this directory instead of printing the main one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check a host plan without contacting anything and print what kockpit understood.
    /// `--from-cluster`: draft a host plan from the kubeconfig's cluster (read-only) and print it.
    Plan {
        /// The plan to check: kockpit TOML or a KubeKey Cluster YAML.
        #[arg(required_unless_present = "from_cluster", conflicts_with = "from_cluster")]
        file: Option<PathBuf>,
        /// The plan as kockpit understood it, as JSON.
        #[arg(long)]
        json: bool,
        /// Nodes, roles, the endpoint as the VIP, kubeadm's and KubeKey's marks, as a plan to complete.
        #[arg(long, conflicts_with = "json")]
        from_cluster: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Check the audit log's chain: every record follows the one before it (seq and SHA-256), every
    /// checkpoint's signature holds, and the log ends in a checkpoint. Exit 0 when intact, 1 naming
    /// the first bad record.
    Verify {
        /// The log files, oldest first: rotated files (audit.jsonl.<time>), then the current one.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The checkpoint key (default: audit.key in the config directory, when it exists).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The files are the newer part of a chain whose older files were removed on purpose: its
        /// first record is taken as it is (without this, a chain must start at seq 0).
        #[arg(long)]
        partial: bool,
    },
    /// The operations an earlier kockpit confirmed and never ended (killed, hung up, lost power), each
    /// with the last step that had started acting and the state it may have left. Exit 0 none, 1 some.
    Unfinished,
    /// Write a Markdown report of the cluster's state (hosts vs plan, HA, etcd, certificates, Ceph,
    /// nodes, findings) with the time it was taken.
    Report {
        /// Output file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DrillCmd {
    /// Run a drill: inject its faults, watch its expectations against their deadlines, restore what it
    /// broke, and write a report (Markdown and JSON).
    Run {
        file: PathBuf,
        /// No screen: print progress lines (for CI and scripts). Exit 0 passed, 1 failed.
        #[arg(long)]
        headless: bool,
        /// Where to write the report (default: drill-report-<name>-<time>.md in the current directory).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Check a drill file without running it.
    Check { file: PathBuf },
}

/// The options every command accepts (given before or after the subcommand), and which of them each
/// subcommand uses; the others stay accepted but out of that subcommand's help.
const GLOBALS: &[&str] = &["config", "demo", "readonly", "theme", "keymap", "audit_log", "fault", "nodes", "context", "wait"];
const USED: &[(&[&str], &[&str])] = &[
    (&["demo"], &["readonly", "theme", "keymap", "audit_log", "fault", "nodes"]),
    (&["status"], &["config", "demo", "fault", "nodes", "context", "wait"]),
    (&["render"], &["config", "demo", "readonly", "keymap", "fault", "nodes", "context", "wait"]),
    (&["logs"], &["config", "demo", "readonly", "fault", "nodes", "context"]),
    (&["drill"], &[]),
    (&["drill", "run"], &["config", "demo", "readonly", "theme", "keymap", "audit_log", "nodes", "context"]),
    (&["drill", "check"], &["config", "demo", "nodes", "context"]),
    (&["audit"], &[]),
    (&["audit", "verify"], &[]),
    (&["audit", "unfinished"], &["audit_log"]),
    (&["audit", "report"], &["config", "demo", "fault", "nodes", "context", "wait"]),
    (&["lint"], &[]),
    (&["completions"], &[]),
    (&["man"], &[]),
    (&["plan"], &["context"]),
    (&["run"], &["config", "demo", "readonly", "audit_log", "fault", "nodes", "context", "wait"]),
];

/// kockpit's command line: [`Cli`], with each subcommand's help (and completions, and the manual)
/// showing only the options it uses.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    // every shared option, hidden where it is not used (a nested subcommand gets its own copies, not
    // its parent's hidden ones)
    let copies = |used: &[&str]| -> Vec<clap::Arg> {
        cmd.get_arguments()
            .filter(|a| GLOBALS.contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(!used.contains(&a.get_id().as_str())))
            .collect()
    };
    // a copy of a global option in a subcommand stands in for it there (clap does not propagate an
    // option a subcommand has), and the value still reaches the top
    let with = |mut c: clap::Command, args: Vec<clap::Arg>| {
        for a in args {
            c = c.arg(a);
        }
        c
    };
    let mut out = cmd.clone();
    for (path, used) in USED {
        let args = copies(used);
        out = match path {
            [one] => out.mut_subcommand(*one, |c| with(c, args)),
            [outer, inner] => out.mut_subcommand(*outer, |c| c.mut_subcommand(*inner, |c| with(c, args))),
            _ => out,
        };
    }
    out
}

/// Write `cmd`'s page as `<name>.1` in `dir`, and its subcommands' as `<name>-<sub>.1`; returns how many.
pub(super) fn man_pages(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> Result<usize> {
    let page = cmd.clone().name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).map_err(|e| eyre!("{}: {e}", path.display()))?;
    let mut n = 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        n += man_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(n)
}

/// Parse the process's arguments with [`command`].
pub fn parse_args() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let m = command().try_get_matches()?;
    Cli::from_arg_matches(&m)
}
