//! What can change a keepalived's priority or state without moving an address, and that the host
//! shows as it happens: the files it tracks (`track_file`, keepalived reads them as they are written)
//! and the interfaces it runs on or tracks (`interface`, `track_interface`: a link going down puts the
//! instance in FAULT). The address watch follows these beside the addresses, so such a change makes
//! kockpit look at keepalived at once instead of when keepalived's own message reaches the journal's
//! followers (~450 ms later). A tracking script's result shows nowhere but in keepalived itself: that
//! still comes through its messages.

use crate::hacfg::KeepalivedConf;

/// The files and interfaces followed on one keepalived host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Causes {
    /// Tracked files, and the state file the user's notify script writes on each transition (the
    /// plan's `keepalived_state_file`), at `notify`.
    pub files: Vec<String>,
    pub notify: Option<usize>,
    pub links: Vec<String>,
}

/// What a followed file's change is, as the source says it.
pub use crate::model::notes::{NOTIFY_EVENT as NOTIFY_FILE, TRACKED_FILE_EVENT as TRACKED_FILE};

/// At most this many of each are followed (a configuration with more is followed in part).
const MAX: usize = 32;

impl Causes {
    /// Before the host's configuration is read: the plan's track file (kockpit's own demotion) and
    /// the VIP's interface. (So a configuration that tracks nothing else needs no new start.)
    pub fn of_plan(track_file: &str, interface: Option<&str>) -> Causes {
        let mut c = Causes::default();
        c.add_file(track_file);
        c.add_links(interface.into_iter());
        c
    }

    /// These causes (the plan's) and what `conf` tracks: every tracked file, every instance's
    /// interface and tracked interface.
    pub fn with_conf(mut self, conf: &KeepalivedConf) -> Causes {
        for f in &conf.files_tracked {
            self.add_file(&f.file);
        }
        for i in &conf.instances {
            self.add_links(i.interface.iter().chain(i.track_interfaces.iter().map(|t| &t.name)).map(String::as_str));
        }
        self
    }

    /// These causes and the state file a notify script writes on every transition (a backup
    /// entering FAULT, which moves no address, is then seen as keepalived runs the script).
    pub fn with_state_file(mut self, state_file: &str) -> Causes {
        let n = self.files.len();
        self.add_file(state_file);
        self.notify = (self.files.len() > n).then_some(n);
        self
    }

    fn add_links<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        for name in names {
            // what the address watch's script takes as an interface name (as `ip` itself does)
            let plain = !name.is_empty() && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_.:@-".contains(ch));
            if plain && !self.links.iter().any(|l| l == name) && self.links.len() < MAX {
                self.links.push(name.to_string());
            }
        }
    }

    fn add_file(&mut self, f: &str) {
        if f.starts_with('/') && !f.contains(char::is_control) && !self.files.iter().any(|x| x == f) && self.files.len() < MAX {
            self.files.push(f.to_string());
        }
    }

    /// The address watch script's arguments: how many files, the files, the interfaces.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![self.files.len().to_string()];
        a.extend(self.files.iter().cloned());
        a.extend(self.links.iter().cloned());
        a
    }
}

/// The interface a line of `ip -o monitor link` is about (`[Deleted ]IDX: NAME[@PEER]: <FLAGS> ...`),
/// None for an address line (`IDX: NAME    inet ...`).
pub fn link_name(line: &str) -> Option<&str> {
    let line = line.strip_prefix("Deleted ").unwrap_or(line);
    let (idx, rest) = line.split_once(": ")?;
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (name, _) = rest.split_once(": <")?;
    let name = name.split('@').next().unwrap_or(name);
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// Which followed file a `@@kockpit-file N` line of the address watch names, and what its change is
/// ([`TRACKED_FILE`] or [`NOTIFY_FILE`]).
pub fn file_changed<'a>(line: &str, causes: &'a Causes) -> Option<(&'a str, &'static str)> {
    let n: usize = line.strip_prefix("@@kockpit-file ")?.trim().parse().ok()?;
    let kind = if causes.notify == Some(n) { NOTIFY_FILE } else { TRACKED_FILE };
    causes.files.get(n).map(|f| (f.as_str(), kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_lines_and_address_lines() {
        let up = "330: kkv0@kkv1: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \\    link/ether 0a:de:d1:8a:57:0c brd ff:ff:ff:ff:ff:ff";
        let gone = "Deleted 329: kkv1@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default";
        let plain = "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP";
        let addr = "330: kkv0    inet 10.99.0.1/32 scope global kkv0\\       valid_lft forever preferred_lft forever";
        let deleted_addr = "Deleted 3: lb1-eth0    inet 10.77.0.100/32 scope global lb1-eth0";
        assert_eq!([link_name(up), link_name(gone), link_name(plain)], [Some("kkv0"), Some("kkv1"), Some("eth0")]);
        assert_eq!([link_name(addr), link_name(deleted_addr), link_name("@@kockpit-file 0"), link_name("")], [None; 4]);
    }

    /// The address watch's script on this machine's sh: a tracked file's change is one line naming
    /// it, a file that appears counts as a change, nothing is said while nothing changes, and the
    /// script ends with its input.
    #[test]
    fn the_script_says_which_tracked_file_changed() {
        use std::io::{BufRead, BufReader};
        if std::process::Command::new("ip").arg("-V").output().is_err() {
            panic!("this test needs iproute2's ip on the machine running it");
        }
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "0\n").unwrap();
        let c = Causes { files: vec![a.display().to_string(), b.display().to_string()], notify: None, links: vec!["lo".into()] };
        let mut child = std::process::Command::new("sh")
            .args(["-c", crate::transport::scripts::ADDR_WATCH_SCRIPT, "kockpit"])
            .args(c.args())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = || loop {
            let l = lines.next().expect("a line").unwrap();
            if l != "@@kockpit-alive" {
                return l;
            }
        };
        assert_eq!(next(), "@@kockpit-watching");
        std::fs::write(&a, "1\n").unwrap();
        assert_eq!(file_changed(&next(), &c), Some((c.files[0].as_str(), TRACKED_FILE)));
        std::fs::write(&b, "1").unwrap();
        assert_eq!(file_changed(&next(), &c), Some((c.files[1].as_str(), TRACKED_FILE)));
        std::fs::write(&a, "1\n").unwrap(); // the same value: no line
        std::fs::remove_file(&a).unwrap();
        assert_eq!(next(), "@@kockpit-file 0", "a file gone is a change too");
        // its input closed, it ends (the monitor killed: 143), leaving nothing behind to read
        drop(child.stdin.take());
        assert_eq!(child.wait().unwrap().code(), Some(143));
        assert!(lines.next().is_none());
    }

    #[test]
    fn what_a_configuration_tracks() {
        let text = "vrrp_track_file down {\n  file /etc/keepalived/down\n  weight -50\n}\n\
                    track_file maint {\n  file /run/maint\n}\n\
                    vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  track_interface {\n    bond0 weight -20\n    eth0\n    \"bad name\"\n  }\n}\n\
                    vrrp_instance VI_2 {\n  interface eth1.100\n  virtual_router_id 52\n}\n";
        let conf = crate::hacfg::parse_keepalived(&[crate::hacfg::Source { name: "/k.conf".into(), text: text.into() }]).unwrap();
        let c = Causes::of_plan("/etc/keepalived/kockpit-demote", Some("eth0")).with_conf(&conf);
        assert_eq!(c.files, ["/etc/keepalived/kockpit-demote", "/etc/keepalived/down", "/run/maint"]);
        assert_eq!(c.links, ["eth0", "bond0", "eth1.100"]);
        // the plan's interface first, whatever the configuration says
        assert_eq!(Causes::of_plan("", Some("ens192")).with_conf(&conf).links, ["ens192", "eth0", "bond0", "eth1.100"]);
        assert_eq!(c.args()[..2], ["3".to_string(), "/etc/keepalived/kockpit-demote".to_string()]);
        assert_eq!(c.args().len(), 1 + 3 + 3);
        // the plan's file once; no plan file: nothing
        let same = Causes::of_plan("/run/maint", None).with_conf(&conf);
        assert_eq!(same.files, ["/run/maint", "/etc/keepalived/down"]);
        assert_eq!(Causes::of_plan("", None).args(), ["0"]);
        // the plan's file and interface: what a configuration tracking nothing more gives
        let plain = crate::hacfg::parse_keepalived(&[crate::hacfg::Source {
            name: "/k.conf".into(),
            text: "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n}\n".into(),
        }])
        .unwrap();
        assert_eq!(Causes::of_plan("/d", Some("eth0")).with_conf(&plain), Causes::of_plan("/d", Some("eth0")));
        assert_eq!(Causes::of_plan("/d", None).with_conf(&plain), Causes::of_plan("/d", Some("eth0")));
        assert_eq!(Causes::of_plan("/d", Some("bad name")).links, Vec::<String>::new());
        assert_eq!(file_changed("@@kockpit-file 2", &c), Some(("/run/maint", TRACKED_FILE)));
        // the notify script's state file is followed after them, said as such
        let n = c.clone().with_state_file("/run/keepalived.state");
        assert_eq!((n.files.len(), n.notify), (4, Some(3)));
        assert_eq!(file_changed("@@kockpit-file 3", &n), Some(("/run/keepalived.state", NOTIFY_FILE)));
        assert_eq!(file_changed("@@kockpit-file 0", &n), Some(("/etc/keepalived/kockpit-demote", TRACKED_FILE)));
        assert_eq!(c.clone().with_state_file("").notify, None, "no state file: none");
        assert_eq!([file_changed("@@kockpit-file 3", &c), file_changed("@@kockpit-file x", &c), file_changed("x", &c)], [None; 3]);
    }
}
