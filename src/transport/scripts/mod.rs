//! Every script kockpit sends to a host as a read, in one place: the read-only command set is built
//! from this list and nothing else. Each is a constant POSIX sh script run as
//! `sh -c 'SCRIPT' kockpit 'ARG'...`; the arguments are data the script only ever uses quoted.

/// The scaffold of the long-running scripts (shell functions, put ahead of each): a stream runs until
/// kockpit closes its channel (the script's standard input), and then everything it started ends.
/// - `hold`: the channel's input kept on fd 3 (what the script starts gets `<&- 3<&-`, so only the
///   guard reads it);
/// - `alive`: `@@kockpit-alive` every second, says the host and the connection are there (its PID: `$h`);
/// - `hangup PID...`: once the input closes, or nothing has come on it for 45 s, kills them (the
///   guard's PID: `$w`). kockpit sends a byte every 10 s (`STREAM_HEARTBEAT`): a connection that died
///   without closing leaves nothing running longer than that, where the host's sshd would notice only
///   after its TCP keepalive (hours, with `ClientAliveInterval` unset as distributions ship it).
///   Without a `timeout` that takes seconds (BusyBox before 1.30), only the input closing ends them.
///   `KOCKPIT_STREAM_IDLE` in the script's environment sets the 45 s (sshd does not pass it on);
/// - `finish PID...`: waits for `$t`, kills the guard and them, exits with `$t`'s status.
macro_rules! stream_fns {
    () => {
        r#"hold() { exec 3<&0; }
alive() { (while sleep 1; do echo @@kockpit-alive || exit; done) <&- 3<&- & h=$!; }
hangup() { { if timeout 1 true; then while b=$(timeout "${KOCKPIT_STREAM_IDLE:-45}" head -c 1 <&3) && [ -n "$b" ]; do :; done; else cat <&3; fi; kill "$@"; } >/dev/null 2>&1 & w=$!; exec 3<&-; }
finish() { wait "$t"; s=$?; kill "$w" "$@" 2>/dev/null; exit "$s"; }
"#
    };
}

mod haproxy;
pub use haproxy::{HAPROXY_CLI_SCRIPT, SHOW_STAT_SCRIPT, STATS_WATCH_SCRIPT};

/// The host-facts script's text, shared by the poll and the stream.
macro_rules! host_facts_body {
    () => {
        r#"r() { l=; [ -r "$1" ] && IFS= read -r l <"$1"; [ -n "$l" ] && printf '%s\n' "$l"; }
echo @@date; date +%s.%N
echo @@hostname; r /proc/sys/kernel/hostname
echo @@kernel; r /proc/sys/kernel/osrelease
echo @@os; [ -r /etc/os-release ] && while IFS= read -r l; do case $l in PRETTY_NAME=*) printf '%s\n' "${l#PRETTY_NAME=}";; esac; done </etc/os-release
echo @@uptime; r /proc/uptime
echo @@loadavg; r /proc/loadavg
echo @@cpus; r /sys/devices/system/cpu/online || echo "n=$(nproc)"
echo @@meminfo; while read -r k v _; do case $k in MemTotal:|MemAvailable:|SwapTotal:) echo "$k $v";; esac; done </proc/meminfo
echo @@df; df -Pk / 2>/dev/null
echo @@firewalld; if [ -e /usr/lib/systemd/system/firewalld.service ] || [ -e /lib/systemd/system/firewalld.service ] || [ -e /etc/systemd/system/firewalld.service ]; then systemctl is-active firewalld 2>/dev/null; else echo absent; fi
echo @@selinux; if command -v getenforce >/dev/null 2>&1; then getenforce 2>/dev/null; else echo absent; fi
echo @@br_netfilter; if [ -d /sys/module/br_netfilter ]; then echo 1; else echo 0; fi
echo @@bridge_nf_call_iptables; r /proc/sys/net/bridge/bridge-nf-call-iptables
echo @@ip_forward; r /proc/sys/net/ipv4/ip_forward
echo @@end
"#
    };
}

/// Prints `@@SECTION` lines followed by the facts (see `probe::parse::hostfacts`). Shell builtins
/// where possible: a poll costs three or four forks on the host.
pub const HOST_FACTS_SCRIPT: &str = host_facts_body!();

/// The host facts ([`HOST_FACTS_SCRIPT`]'s output, `@@date` to `@@end`) every `$1` seconds (a whole
/// number, 1 to 3600), for as long as the channel is open: one long-running command instead of one
/// per poll. Ends (and its loop) when its standard input closes.
pub const FACTS_WATCH_SCRIPT: &str = concat!(
    "case $1 in ''|*[!0-9]*|0) echo \"bad interval\" >&2; exit 2;; esac\n[ \"$1\" -le 3600 ] || { echo \"bad interval\" >&2; exit 2; }\nfacts() {\n",
    host_facts_body!(),
    "}\n",
    stream_fns!(),
    r#"hold
(while :; do facts; sleep "$1" || exit 1; done) <&- 3<&- &
t=$!
hangup "$t"
finish"#
);

/// Arguments: $1 the JSON dump path, $2 the notify state file ("" for none). keepalived writes a
/// dump within milliseconds; one that has not after ~0.2 s (busy, shutting down) is not waited for.
///
/// keepalived's own view, best first: the JSON dump (the signal number from `keepalived
/// --signum=JSON`; a keepalived without JSON, like 1.3 on CentOS 7, has none, and then no guessed
/// signal is sent), else the text data dump (`--signum=DATA`, else SIGUSR1, which is DATA on every
/// release) written to `keepalived.data` beside the JSON path, of which only the VRRP Topology
/// section is printed, else the state file. Secrets are cut here, on the host: the JSON's
/// `auth_data` and the data dump's `Password`.
///
/// The `@@ka` line: `stopped`, `frozen PID`, `running PID json`, `running PID data WHY-NO-JSON`,
/// `running PID none WHY-NO-JSON WHY-NO-DATA` or `running PID denied USER` (the signal is not
/// permitted: not root).
pub const VRRP_SCRIPT: &str = r#"J=$1; S=$2
case $J in */*) D=${J%/*}/keepalived.data ;; *) D=/tmp/keepalived.data ;; esac
echo @@ip
ip -j addr 2>&1 || echo '!ip failed'
echo @@ka
pid=; comm=; st=
[ -r /run/keepalived.pid ] && read -r pid </run/keepalived.pid
case $pid in ''|*[!0-9]*) pid= ;; esac
if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
  read -r comm <"/proc/$pid/comm"
  if [ "$comm" = keepalived ]; then read -r st <"/proc/$pid/stat"; st=${st##*) }; st=${st%% *}; fi
fi
dump() {
  old=$(stat -c %y "$1" 2>/dev/null); new=$old
  if ! err=$(kill -"$2" "$pid" 2>&1); then
    case $err in *ermitted*) why=denied ;; *) why=signal-failed ;; esac
    return 1
  fi
  i=0
  while [ $i -lt 15 ]; do
    new=$(stat -c %y "$1" 2>/dev/null)
    [ -n "$new" ] && [ "$new" != "$old" ] && [ -s "$1" ] && break
    sleep 0.01; i=$((i+1))
  done
  [ -n "$new" ] && [ "$new" != "$old" ] || { why=not-written; return 1; }
  a=$(stat -c %s.%y "$1" 2>/dev/null); i=0
  while [ $i -lt 10 ]; do
    sleep 0.005; b=$(stat -c %s.%y "$1" 2>/dev/null)
    [ "$a" = "$b" ] && break
    a=$b; i=$((i+1))
  done
  return 0
}
case $st in
  ''|Z|X) echo stopped ;;
  T|t) echo "frozen $pid" ;;
  *)
    ka=$(command -v keepalived 2>/dev/null) || ka=/usr/sbin/keepalived
    sig=$("$ka" --signum=JSON 2>/dev/null)
    case $sig in ''|*[!0-9]*) sig= ;; esac
    why=no-json-support
    if [ -n "$sig" ] && dump "$J" "$sig"; then
      echo "running $pid json"
      echo @@json
      # another reader's signal may have keepalived rewrite the file under this one: read it again
      # (10 ms apart, 20 times at most) until it is whole
      i=0
      while :; do
        out=$(sed 's/"auth_data":"\([^"\\]\|\\.\)*"/"auth_data":"-"/g' "$J")
        case $out in *']'|*'}') break ;; esac
        [ $i -ge 20 ] && break
        sleep 0.01; i=$((i+1))
      done
      printf '%s\n' "$out"
      echo
    elif [ "$why" = denied ]; then echo "running $pid denied $(id -un 2>/dev/null)"
    else
      nojson=$why
      dsig=$("$ka" --signum=DATA 2>/dev/null)
      case $dsig in ''|*[!0-9]*) dsig=USR1 ;; esac
      if dump "$D" "$dsig"; then
        echo "running $pid data $nojson"
        echo @@data
        sed -n -e 's/^\([[:space:]]*Password[[:space:]]*=[[:space:]]*\).*/\1<redacted>/' -e '/^------< VRRP Topology >------/,/^------</p' "$D"
        echo
      elif [ "$why" = denied ]; then echo "running $pid denied $(id -un 2>/dev/null)"
      else echo "running $pid none $nojson data-$why"; fi
    fi ;;
esac
echo @@state
[ -n "$S" ] && [ -r "$S" ] && cat "$S"
echo @@end
"#;

/// Finds and prints the etcd CA, a client certificate and its key (PEM blocks only, each after a
/// `@@kockpit-etcd-{ca,cert,key} PATH` line). Arguments (optional, may be empty): explicit CA, cert and
/// key paths, tried first. Then kubeadm's healthcheck-client, kubeadm's apiserver-etcd-client, KubeKey's
/// admin-HOST / node-HOST / any admin-*.pem.
///
/// This is the one read-only command that reads a private key: etcd accepts no other way in. The key
/// stays in kockpit's memory and is never logged or shown.
pub const CREDENTIALS_SCRIPT: &str = r#"try() {
  [ -r "$1" ] && [ -r "$2" ] && [ -r "$3" ] || return 1
  printf '@@kockpit-etcd-ca %s\n' "$1"; sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$1"
  printf '@@kockpit-etcd-cert %s\n' "$2"; sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$2"
  printf '@@kockpit-etcd-key %s\n' "$3"; sed -n '/-----BEGIN [A-Z ]*PRIVATE KEY-----/,/-----END [A-Z ]*PRIVATE KEY-----/p' "$3"
  exit 0
}
[ -n "${1:-}" ] && try "$1" "${2:-}" "${3:-}"
k=/etc/kubernetes/pki
try $k/etcd/ca.crt $k/etcd/healthcheck-client.crt $k/etcd/healthcheck-client.key
try $k/etcd/ca.crt $k/apiserver-etcd-client.crt $k/apiserver-etcd-client.key
s=/etc/ssl/etcd/ssl
h=$(hostname)
try $s/ca.pem $s/admin-$h.pem $s/admin-$h-key.pem
try $s/ca.pem $s/node-$h.pem $s/node-$h-key.pem
for f in $s/admin-*.pem $s/node-*.pem; do
  case $f in *-key.pem) continue ;; esac
  try $s/ca.pem "$f" "${f%.pem}-key.pem"
done
echo "no etcd client certificate readable here (tried kubeadm's /etc/kubernetes/pki/etcd and apiserver-etcd-client, KubeKey's /etc/ssl/etcd/ssl)" >&2
exit 1"#;

/// The Ceph probe. Arguments: TIMEOUT (whole seconds), MODE (`direct` | `rook`), then for `direct` the
/// ceph.conf path ('' = the default search), for `rook` the namespace and the toolbox deployment.
/// Output: per question a line `@@kockpit-ceph RC NAME` and the JSON (or the error).
pub const CEPH_SCRIPT: &str = r#"t=${1:-5}; mode=${2:-direct}; arg=${3:-}; dep=${4:-rook-ceph-tools}
case $t in ''|*[!0-9]*) echo "kockpit: bad timeout" >&2; exit 2 ;; esac
PY='import json, sys
try:
    import rados
except Exception:
    sys.exit(97)
t = int(sys.argv[1])
o = {"client_mount_timeout": str(t), "rados_mon_op_timeout": str(t), "rados_osd_op_timeout": str(t)}
try:
    c = rados.Rados(conffile=sys.argv[2], conf=o)
    c.connect(timeout=t)
except Exception as e:
    sys.stdout.write("\n@@kockpit-ceph %d connect\n%s\n" % (abs(getattr(e, "errno", 1) or 1), e))
    sys.exit(0)
for name, req in (("status", {"prefix": "status"}), ("health detail", {"prefix": "health", "detail": "detail"}),
                  ("osd tree", {"prefix": "osd tree"}), ("df", {"prefix": "df"}), ("osd dump", {"prefix": "osd dump"}),
                  ("osd crush rule dump", {"prefix": "osd crush rule dump"})):
    req["format"] = "json"
    try:
        rc, out, err = c.mon_command(json.dumps(req), b"", timeout=t)
    except Exception as e:
        rc, out, err = -110, b"", str(e)
    sys.stdout.write("\n@@kockpit-ceph %d %s\n" % (abs(rc), name))
    sys.stdout.write(out.decode("utf-8", "replace") if rc == 0 else err)
    sys.stdout.write("\n")
    if rc != 0:
        break
c.shutdown()'
p=python3; [ -x /usr/bin/python3 ] && p=/usr/bin/python3
case $mode in
  direct) "$p" -c "$PY" "$t" "$arg" ;;
  rook) timeout $((t + 10)) kubectl -n "$arg" exec "deploy/$dep" -- python3 -c "$PY" "$t" "" ;;
  *) echo "kockpit: unknown mode $mode" >&2; exit 2 ;;
esac
rc=$?
[ $rc = 97 ] || exit $rc
cli() {
  case $mode in
    direct) if [ -n "$arg" ]; then ceph -c "$arg" --connect-timeout "$t" "$@"; else ceph --connect-timeout "$t" "$@"; fi ;;
    rook) timeout $((t + 10)) kubectl -n "$arg" exec "deploy/$dep" -- ceph --connect-timeout "$t" "$@" ;;
  esac
}
for c in status "health detail" "osd tree" df "osd dump" "osd crush rule dump"; do
  out=$(cli $c -f json 2>&1); rc=$?
  printf '\n@@kockpit-ceph %s %s\n%s\n' "$rc" "$c" "$out"
  [ $rc = 0 ] || exit 0
done"#;

/// Prints the certificates named by its arguments, pairs `NAME PATH`:
/// - `PATH` a certificate file: `@@kockpit-cert NAME PATH` and its CERTIFICATE blocks (a file holding a
///   key too, like the kubelet's, gives only the certificate);
/// - `PATH` ending in `.conf` (a kubeconfig): `@@kockpit-kubeconfig NAME PATH` and the base64
///   `client-certificate-data`, or the certificate blocks of the file `client-certificate` names;
/// - `PATH` ending in `/` (a directory): every `*.pem`/`*.crt` in it except keys, named NAME + file stem.
///   Missing files are skipped.
pub const CERTS_SCRIPT: &str = r#"pem() { sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$1"; }
while [ $# -ge 2 ]; do
  n=$1; p=$2; shift 2
  case $p in
    */)
      for f in "$p"*.pem "$p"*.crt; do
        [ -f "$f" ] || continue
        case $f in *-key.pem|*.key) continue ;; esac
        b=${f##*/}; printf '@@kockpit-cert %s%s %s\n' "$n" "${b%.*}" "$f"; pem "$f"
      done ;;
    *.conf)
      [ -f "$p" ] || continue
      printf '@@kockpit-kubeconfig %s %s\n' "$n" "$p"
      d=$(sed -n 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' "$p" | head -n 1)
      if [ -n "$d" ]; then printf '%s\n' "$d"
      else
        f=$(sed -n 's/^[[:space:]]*client-certificate:[[:space:]]*//p' "$p" | head -n 1)
        [ -n "$f" ] && [ -f "$f" ] && pem "$f"
      fi ;;
    *)
      [ -f "$p" ] || continue
      printf '@@kockpit-cert %s %s\n' "$n" "$p"; pem "$p" ;;
  esac
done
exit 0"#;

/// Lists the etcd snapshot files in the directories named by its arguments (`*.db` and `snapshot*`,
/// three levels deep: KubeKey's timer writes `DIR/etcd-DATE/snapshot.db`), newest first, five per
/// directory, one `MTIME SIZE PATH` line each (`stat`, as GNU and BusyBox print it); a directory that
/// is not there is `@@kockpit-nodir DIR`. Names only: no file is opened.
pub const SNAPSHOTS_SCRIPT: &str = r#"for d in "$@"; do
  if [ ! -d "$d" ]; then printf '@@kockpit-nodir %s\n' "$d"; continue; fi
  find "$d" -maxdepth 3 -type f \( -name '*.db' -o -name 'snapshot*' \) -exec stat -c '%Y %s %n' {} + 2>/dev/null | sort -rn | head -n 5
done
exit 0"#;

/// The address watch: `ip -o monitor address`, one line per address the kernel adds or deletes
/// (`Deleted ` before a deletion), as it happens. `@@kockpit-watching` first, once the monitor is
/// started. It ends when kockpit closes the channel (its stdin), as the tail script does.
///
/// Beside the addresses, what can change keepalived's priority without moving an address and shows on
/// the host: `$1` is how many files follow (keepalived's tracked files), then those files, then the
/// interfaces keepalived tracks. With interfaces the monitor reports links too (their lines carry `<`
/// flags `>`); each file's first line is read every 50 ms (the shell's own `read`: no process but
/// `sleep`) and `@@kockpit-file N` printed when the Nth file's changed (keepalived reads its files as
/// they are written).
pub const ADDR_WATCH_SCRIPT: &str = concat!(
    stream_fns!(),
    r#"command -v ip >/dev/null 2>&1 || { echo "ip (iproute2) is not installed on this host" >&2; exit 127; }
nf=${1:-0}
case $nf in ''|*[!0-9]*) echo "bad file count" >&2; exit 2;; esac
[ $# -gt 0 ] && shift
i=0
while [ "$i" -lt "$nf" ] && [ $# -gt 0 ]; do eval "f_$i=\$1"; shift; i=$((i+1)); done
nf=$i
for x; do case $x in ''|*[!A-Za-z0-9_.:@-]*) echo "bad interface name" >&2; exit 2;; esac; done
what=address
[ $# -gt 0 ] && what="address link"
hold
ip -o monitor $what <&- 3<&- &
t=$!
f=
if [ "$nf" -gt 0 ]; then
  (look() { v=-; if [ -r "$1" ]; then v=; { read -r v <"$1"; } 2>/dev/null || :; v="=$v"; fi; }
   i=0; while [ "$i" -lt "$nf" ]; do eval "look \"\$f_$i\""; eval "o_$i=\$v"; i=$((i+1)); done
   while kill -0 "$t" 2>/dev/null; do
     sleep 0.05 2>/dev/null || sleep 1
     i=0
     while [ "$i" -lt "$nf" ]; do
       eval "look \"\$f_$i\"; o=\$o_$i"
       [ "$v" = "$o" ] || { echo "@@kockpit-file $i" || exit; eval "o_$i=\$v"; }
       i=$((i+1))
     done
   done) <&- 3<&- &
  f=$!
fi
alive
hangup "$t" "$h" $f
sleep 0.05 2>/dev/null || sleep 1
kill -0 "$t" 2>/dev/null && echo "@@kockpit-watching"
finish "$h" $f"#
);

/// The daemons' own messages, followed for as long as the channel is open. `$@`: the units whose
/// journal is followed (keepalived, haproxy). Prints `@@kockpit-off UNIT WHY` for a unit that cannot be
/// followed (no journal entries for it: its messages go elsewhere; the journal not readable), then
/// `@@kockpit-watching UNIT...` once `journalctl -f` runs, then the units' messages as they are written
/// (`-o short-unix`: time, host, the writer's identifier and PID, the message). A unit counts as
/// followed only when the journal has a message the daemon wrote itself (not only systemd's about it).
/// `@@kockpit-alive` every second says the host and the connection are there. Beside it, when `pidof` is there, `@@kockpit-pids UNIT PIDS` whenever a daemon's processes change
/// (looked at every second on the host: a daemon killed outright writes no message; a change that
/// is gone 0.2 s later is none). Ends (and
/// everything it started) when its standard input closes.
pub const LOG_WATCH_SCRIPT: &str = concat!(
    stream_fns!(),
    r#"command -v journalctl >/dev/null 2>&1 || { echo "journalctl is not installed on this host (no systemd journal)" >&2; exit 127; }
case $(journalctl --no-pager -n 0 2>&1 >/dev/null) in
  *"No journal files"*) echo "no systemd journal on this host (no journal files)" >&2; exit 3;;
esac
u=
for x; do
  case $x in ''|*[!A-Za-z0-9_]*) echo "bad unit name" >&2; exit 2;; esac
  if [ -n "$(journalctl -q --no-pager -n 50 -o short -u "$x" 2>/dev/null | grep -v ' systemd\[[0-9]*\]: ' | head -n 1)" ]; then u="$u $x"
  else
    case $(journalctl --no-pager -n 0 2>&1) in
      *"not seeing messages"*|*"insufficient permissions"*|*"ermission denied"*) echo "@@kockpit-off $x $(id -un) cannot read the system journal (not in group adm or systemd-journal)";;
      *) echo "@@kockpit-off $x no messages of $x's own in the journal (they may go elsewhere; looked for again every minute)";;
    esac
  fi
done
[ -n "$u" ] || exit 0
set --
for x in $u; do set -- "$@" -u "$x"; done
hold
journalctl -q --no-pager -f -n 0 -o short-unix "$@" <&- 3<&- &
t=$!
p=
if command -v pidof >/dev/null 2>&1; then
  (pids() { pidof "$1" 2>/dev/null | tr ' ' '\n' | sort -n | tr '\n' ' '; }
   for x in $u; do eval "o_$x=-"; done
   while kill -0 "$t" 2>/dev/null; do
     for x in $u; do
       n=$(pids "$x")
       eval "o=\$o_$x"
       # a change (and the first look) is looked at again 0.2 s later: a process passing by under the
       # daemon's name (a `keepalived --version`, keepalived's fork for a check script) is gone by then
       [ "$n" = "$o" ] || { sleep 0.2; n=$(pids "$x"); }
       [ "$n" = "$o" ] || { [ "$o" = - ] || echo "@@kockpit-pids $x $n"; eval "o_$x=\$n"; }
     done
     sleep 1
   done) <&- 3<&- &
  p=$!
fi
alive
hangup "$t" "$h" $p
sleep 0.1 2>/dev/null || sleep 1
kill -0 "$t" 2>/dev/null && echo "@@kockpit-watching$u"
finish "$h" $p"#
);

/// The tail script. `$1` journal|file, `$2` the unit or path, `$3` lines of history, `$4` 1 = follow.
pub const TAIL_SCRIPT: &str = concat!(
    stream_fns!(),
    r#"kind=$1 what=$2 n=$3 follow=$4
case $n in ''|*[!0-9]*) echo "bad line count" >&2; exit 2;; esac
case $kind in
journal)
  command -v journalctl >/dev/null 2>&1 || { echo "journalctl is not installed on this host (no systemd journal)" >&2; exit 127; }
  if command -v systemctl >/dev/null 2>&1; then
    case $(systemctl show -p LoadState --value -- "$what" 2>/dev/null) in
      not-found) echo "unit $what is not known on this host" >&2; exit 4;;
    esac
  fi
  case $(journalctl --no-pager -n 0 2>&1 >/dev/null) in
    *"No journal files"*) echo "no systemd journal on this host (no journal files)" >&2; exit 3;;
  esac
  fmt=short-iso-precise
  journalctl -q --no-pager -n 0 -o "$fmt" >/dev/null 2>&1 || fmt=short-iso
  if [ "$follow" = 1 ]; then set -- journalctl -q --no-pager -f -n "$n" -o "$fmt" -u "$what"
  else set -- journalctl -q --no-pager -n "$n" -o "$fmt" -u "$what"; fi;;
file)
  if [ "$follow" = 1 ]; then
    [ -e "$what" ] || echo "$what does not exist (yet); waiting for it" >&2
    set -- tail -n "$n" -F -- "$what"
  else
    [ -r "$what" ] || { echo "cannot read $what" >&2; exit 1; }
    set -- tail -n "$n" -- "$what"
  fi;;
*) echo "unknown source kind" >&2; exit 2;;
esac
hold
"$@" <&- 3<&- &
t=$!
hangup "$t"
finish"#
);

/// Prints the HA configuration as the running daemons use it, read-only, for kockpit to parse:
/// keepalived's (the `-f` of the running keepalived, else $1, else /etc/keepalived/keepalived.conf,
/// with its `include` globs, at the top or inside a block, quoted or not, relative ones resolved
/// against the including file's directory, each file followed by those it includes) and
/// haproxy's (every `-f` file or directory of the running haproxy, else $2, else
/// /etc/haproxy/haproxy.cfg). Secrets are cut on the host: `auth_pass` values and `stats auth`
/// passwords never leave it. Bounded: 64 files, 1 MiB each, include depth 8.
///
/// Output: `@@kockpit-file KIND PATH` then the file (lines starting `@@kockpit-` escaped as
/// `@ @kockpit-`), `@@kockpit-unreadable KIND PATH REASON` (`denied USER GROUP` for a permission, GROUP
/// the group that may read it or `-`), `@@kockpit-version KIND TEXT`, and one
/// `@@kockpit-tools NAME...` line with the check tools found (killall pidof pgrep curl nc wget).
pub const HA_CONFIG_SCRIPT: &str = r#"n=0
emit() {
  kind=$1; f=$2
  n=$((n + 1)); [ $n -le 64 ] || return 0
  if [ ! -r "$f" ]; then
    if [ -e "$f" ]; then
      g=$(stat -c %G "$f" 2>/dev/null); case $(stat -c %A "$f" 2>/dev/null) in ????r*) ;; *) g=- ;; esac
      printf '@@kockpit-unreadable %s %s denied %s %s\n' "$kind" "$f" "$(id -un)" "${g:--}"
    else printf '@@kockpit-unreadable %s %s no such file\n' "$kind" "$f"; fi
    return 0
  fi
  [ -f "$f" ] || { printf '@@kockpit-unreadable %s %s not a regular file\n' "$kind" "$f"; return 0; }
  printf '@@kockpit-file %s %s\n' "$kind" "$f"
  head -c 1048576 "$f" | sed -e 's/^@@kockpit-/@ @kockpit-/' \
    -e 's/\(auth_pass\)\([[:space:]][[:space:]]*\)[^[:space:]#!]*/\1\2<redacted>/' \
    -e 's/\(stats[[:space:]][[:space:]]*auth[[:space:]][[:space:]]*[^:[:space:]]*:\)[^[:space:]]*/\1<redacted>/'
  echo
}
kafiles=''
ka_file() {
  local depth dir pat g
  depth=$2
  emit keepalived "$1"
  kafiles="$kafiles $1"
  [ "$depth" -lt 8 ] && [ -r "$1" ] || return 0
  dir=${1%/*}
  for pat in $(sed -n 's/^[[:space:]]*include[[:space:]][[:space:]]*"\{0,1\}\([^[:space:]#!"]*\).*/\1/p' "$1"); do
    case $pat in /*) ;; *) pat=$dir/$pat ;; esac
    for g in $pat; do [ -e "$g" ] && ka_file "$g" $((depth + 1)); done
  done
}
self_net=$(readlink /proc/self/ns/net 2>/dev/null)
args_of() {
  for d in /proc/[0-9]*; do
    c=''; { read -r c < "$d/comm"; } 2>/dev/null; [ "$c" = "$1" ] || continue
    # a daemon in another network namespace (a container's) is not this host's
    pn=$(readlink "$d/ns/net" 2>/dev/null); [ -z "$pn" ] || [ "$pn" = "$self_net" ] || continue
    next=''
    for arg in $({ tr '\0' '\n' < "$d/cmdline"; } 2>/dev/null); do
      if [ "$next" = 1 ]; then echo "$arg"; next=''; continue; fi
      case $arg in -f) next=1 ;; --use-file=*) echo "${arg#--use-file=}" ;; esac
    done
  done | sort -u
}
ka=$(args_of keepalived | head -n 1)
[ -n "$ka" ] || ka=${1:-}
[ -n "$ka" ] || ka=/etc/keepalived/keepalived.conf
if command -v keepalived >/dev/null 2>&1 || [ -e "$ka" ]; then
  ka_file "$ka" 0
  v=$(keepalived --version 2>&1 | head -n 1) && printf '@@kockpit-version keepalived %s\n' "$v"
  # what each check script file connects to (host:port only: no userinfo, nothing else leaves)
  for s in $(cat $kafiles 2>/dev/null | sed -n 's/^[[:space:]]*script[[:space:]][[:space:]]*"\{0,1\}\(\/[^"[:space:]]*\).*/\1/p' | sort -u | head -n 16); do
    [ -f "$s" ] && [ -r "$s" ] || continue
    t=$(head -c 65536 "$s" | sed 's#//[^/@[:space:]]*@#//#g' | grep -oE '(https?://)?[][A-Za-z0-9_.:-]*:[0-9]{1,5}' | head -n 16 | tr '\n' ' ')
    printf '@@kockpit-check %s %s\n' "$s" "$t"
  done
fi
hp=$(args_of haproxy)
[ -n "$hp" ] || hp=${2:-}
[ -n "$hp" ] || hp=/etc/haproxy/haproxy.cfg
if command -v haproxy >/dev/null 2>&1 || [ -e "$hp" ]; then
  for c in $hp; do
    if [ -d "$c" ]; then for f in "$c"/*.cfg; do [ -e "$f" ] && emit haproxy "$f"; done; else emit haproxy "$c"; fi
  done
  v=$(haproxy -v 2>&1 | head -n 1) && printf '@@kockpit-version haproxy %s\n' "$v"
fi
tools=''
for t in killall pidof pgrep curl nc wget; do command -v "$t" >/dev/null 2>&1 && tools="$tools $t"; done
printf '@@kockpit-tools%s\n' "$tools"
exit 0
"#;

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The file tail, run here as a host runs it, its guard's idle limit `idle` seconds.
    fn tail(path: &std::path::Path, idle: &str) -> Child {
        Command::new("sh")
            .args(["-c", super::TAIL_SCRIPT, "kockpit", "file", path.to_str().unwrap(), "0", "1"])
            .env("KOCKPIT_STREAM_IDLE", idle)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn exits_within(c: &mut Child, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if c.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Processes whose command line names `path` (the tail the script started).
    fn running_with(path: &std::path::Path) -> usize {
        let want = path.to_str().unwrap().as_bytes();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|c| c.starts_with(b"tail") && c.windows(want.len()).any(|w| w == want))
            .count()
    }

    #[test]
    fn a_stream_ends_what_it_started_when_its_input_closes_or_falls_silent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("followed.log");
        std::fs::write(&path, "a line\n").unwrap();

        // a byte every 0.4 s keeps it going past its 2 s limit; silence ends it, tail and all
        let mut c = tail(&path, "2");
        let mut input = c.stdin.take().unwrap();
        for _ in 0..10 {
            input.write_all(b".").unwrap();
            input.flush().unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        assert!(c.try_wait().unwrap().is_none(), "ended while its input still spoke");
        assert_eq!(running_with(&path), 1, "its tail runs");
        assert!(exits_within(&mut c, Duration::from_secs(8)), "still running 8 s after its input fell silent (limit 2 s)");
        assert!(exits_within_or_gone(&path), "its tail outlived it");
        drop(input);

        // the input closed: it ends at once, whatever the limit
        let mut c = tail(&path, "45");
        std::thread::sleep(Duration::from_millis(500));
        drop(c.stdin.take());
        assert!(exits_within(&mut c, Duration::from_secs(5)), "still running 5 s after its input closed");
        assert!(exits_within_or_gone(&path), "its tail outlived it");
    }

    fn exits_within_or_gone(path: &std::path::Path) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if running_with(path) == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}
