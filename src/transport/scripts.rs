//! Every script kockpit sends to a host as a read, in one place: the read-only command set is built
//! from this list and nothing else. Each is a constant POSIX sh script run as
//! `sh -c 'SCRIPT' kockpit 'ARG'...`; the arguments are data the script only ever uses quoted.

/// Prints `@@SECTION` lines followed by the facts (see `probe::parse::hostfacts`). Shell builtins
/// where possible: a poll costs three or four forks on the host.
pub const HOST_FACTS_SCRIPT: &str = r#"r() { l=; [ -r "$1" ] && IFS= read -r l <"$1"; [ -n "$l" ] && printf '%s\n' "$l"; }
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
"#;

/// Arguments: $1 the JSON dump path, $2 the notify state file ("" for none). keepalived writes the
/// dump within milliseconds; one that has not after ~0.2 s (busy, shutting down) is not waited for:
/// the state file answers instead.
/// The JSON signal number comes from `keepalived --signum=JSON`: a keepalived built without JSON has
/// none, and then no signal is sent (a guessed real-time signal could kill it).
pub const VRRP_SCRIPT: &str = r#"J=$1; S=$2
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
case $st in
  ''|Z|X) echo stopped ;;
  T|t) echo "frozen $pid" ;;
  *)
    sig=$(keepalived --signum=JSON 2>/dev/null || /usr/sbin/keepalived --signum=JSON 2>/dev/null)
    case $sig in ''|*[!0-9]*) sig= ;; esac
    if [ -z "$sig" ]; then echo "running $pid no-json-support"
    else
      old=$(stat -c %y "$J" 2>/dev/null); new=$old
      if kill -"$sig" "$pid" 2>/dev/null; then
        i=0
        while [ $i -lt 15 ]; do
          new=$(stat -c %y "$J" 2>/dev/null)
          [ -n "$new" ] && [ "$new" != "$old" ] && [ -s "$J" ] && break
          sleep 0.01; i=$((i+1))
        done
        if [ -n "$new" ] && [ "$new" != "$old" ]; then
          sleep 0.005
          echo "running $pid json"
          echo @@json
          sed 's/"auth_data":"\([^"\\]\|\\.\)*"/"auth_data":"-"/g' "$J"
          echo
        else echo "running $pid json-not-written"; fi
      else echo "running $pid signal-failed"; fi
    fi ;;
esac
echo @@state
[ -n "$S" ] && [ -r "$S" ] && cat "$S"
echo @@end
"#;

/// `show stat` (read-only: a `user`-level socket is enough). Argument: $1 the socket the plan names
/// ('' = none). Where that is not a socket, the script looks for the one haproxy really uses: the
/// `stats socket` lines of the running haproxy's own configuration (its `-f` files and directories,
/// else /etc/haproxy/haproxy.cfg), then the distributions' defaults (Debian's
/// /run/haproxy/admin.sock, CentOS' /var/lib/haproxy/stats). Unix sockets and `ipv4@`/`host:port`
/// ones both work. The first output line is `@@kockpit-socket ADDR FROM`; with none found it says
/// what it tried and the line to add, and exits 2.
pub const SHOW_STAT_SCRIPT: &str = r#"if ! command -v socat >/dev/null 2>&1; then echo 'socat is not installed' >&2; exit 127; fi
tried=''
try() {
  a=$1; from=$2
  case $a in
    unix@*) a=${a#unix@} ;;
    ipv4@*|ipv6@*|*:[0-9]*) ;;
    /*) ;;
    *) return 1 ;;
  esac
  case $a in
    /*)
      tried="$tried $a"
      [ -S "$a" ] || return 1
      if ! out=$(echo 'show stat' | socat -t 2 stdio "unix-connect:$a" 2>&1); then
        echo "cannot read haproxy's socket $a ($from): $(printf '%s' "$out" | tail -n 1)" >&2; exit 13
      fi ;;
    *)
      t=${a#ipv4@}; t=${t#ipv6@}; h=${t%:*}; p=${t##*:}
      case $h in ''|'*'|0.0.0.0) h=127.0.0.1 ;; '::') h=::1 ;; esac
      tried="$tried $a"
      out=$(echo 'show stat' | socat -t 2 stdio "tcp-connect:$h:$p" 2>/dev/null) || return 1 ;;
  esac
  printf '@@kockpit-socket %s %s\n%s\n' "$a" "$from" "$out"
  exit 0
}
[ -n "${1:-}" ] && try "$1" plan
cfgs=''
for d in /proc/[0-9]*; do
  c=''; { read -r c < "$d/comm"; } 2>/dev/null; [ "$c" = haproxy ] || continue
  next=''
  for arg in $(tr '\0' '\n' < "$d/cmdline" 2>/dev/null); do
    [ "$next" = 1 ] && cfgs="$cfgs $arg"
    if [ "$arg" = -f ]; then next=1; else next=''; fi
  done
done
[ -n "$cfgs" ] || cfgs=/etc/haproxy/haproxy.cfg
seen=''
for c in $cfgs; do
  case " $seen " in *" $c "*) continue ;; esac
  seen="$seen $c"
  if [ -d "$c" ]; then files=$(ls "$c"/*.cfg 2>/dev/null); else files=$c; fi
  for f in $files; do
    [ -r "$f" ] || continue
    for s in $(sed -n 's/^[[:space:]]*stats[[:space:]][[:space:]]*socket[[:space:]][[:space:]]*\([^[:space:]#]*\).*/\1/p' "$f"); do
      try "$s" "$f"
    done
  done
done
for s in /run/haproxy/admin.sock /var/lib/haproxy/stats /var/run/haproxy/admin.sock /run/haproxy.sock /var/run/haproxy.sock /var/lib/haproxy/admin.sock; do
  try "$s" default
done
echo "no haproxy stats socket (tried:$tried; config:$seen): add under global in haproxy.cfg: stats socket /run/haproxy/admin.sock mode 660 level user" >&2
exit 2
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

/// The tail script. `$1` journal|file, `$2` the unit or path, `$3` lines of history, `$4` 1 = follow.
pub const TAIL_SCRIPT: &str = r#"kind=$1 what=$2 n=$3 follow=$4
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
exec 3<&0
"$@" <&- 3<&- &
t=$!
{ cat <&3 >/dev/null 2>&1; kill "$t" 2>/dev/null; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$t"
s=$?
kill "$w" 2>/dev/null
exit "$s""#;

/// Prints the HA configuration as the running daemons use it, read-only, for kockpit to parse:
/// keepalived's (the `-f` of the running keepalived, else $1, else /etc/keepalived/keepalived.conf,
/// with its `include` globs, at the top or inside a block, quoted or not, relative ones resolved
/// against the including file's directory, each file followed by those it includes) and
/// haproxy's (every `-f` file or directory of the running haproxy, else $2, else
/// /etc/haproxy/haproxy.cfg). Secrets are cut on the host: `auth_pass` values and `stats auth`
/// passwords never leave it. Bounded: 64 files, 1 MiB each, include depth 8.
///
/// Output: `@@kockpit-file KIND PATH` then the file (lines starting `@@kockpit-` escaped as
/// `@ @kockpit-`), `@@kockpit-unreadable KIND PATH REASON`, `@@kockpit-version KIND TEXT`, and one
/// `@@kockpit-tools NAME...` line with the check tools found (killall pidof pgrep curl nc wget).
pub const HA_CONFIG_SCRIPT: &str = r#"n=0
emit() {
  kind=$1; f=$2
  n=$((n + 1)); [ $n -le 64 ] || return 0
  if [ ! -r "$f" ]; then
    if [ -e "$f" ]; then printf '@@kockpit-unreadable %s %s permission denied\n' "$kind" "$f"; else printf '@@kockpit-unreadable %s %s no such file\n' "$kind" "$f"; fi
    return 0
  fi
  [ -f "$f" ] || { printf '@@kockpit-unreadable %s %s not a regular file\n' "$kind" "$f"; return 0; }
  printf '@@kockpit-file %s %s\n' "$kind" "$f"
  head -c 1048576 "$f" | sed -e 's/^@@kockpit-/@ @kockpit-/' \
    -e 's/\(auth_pass\)\([[:space:]][[:space:]]*\)[^[:space:]#!]*/\1\2<redacted>/' \
    -e 's/\(stats[[:space:]][[:space:]]*auth[[:space:]][[:space:]]*[^:[:space:]]*:\)[^[:space:]]*/\1<redacted>/'
  echo
}
ka_file() {
  local depth dir pat g
  depth=$2
  emit keepalived "$1"
  [ "$depth" -lt 8 ] && [ -r "$1" ] || return 0
  dir=${1%/*}
  for pat in $(sed -n 's/^[[:space:]]*include[[:space:]][[:space:]]*"\{0,1\}\([^[:space:]#!"]*\).*/\1/p' "$1"); do
    case $pat in /*) ;; *) pat=$dir/$pat ;; esac
    for g in $pat; do [ -e "$g" ] && ka_file "$g" $((depth + 1)); done
  done
}
args_of() {
  for d in /proc/[0-9]*; do
    c=''; { read -r c < "$d/comm"; } 2>/dev/null; [ "$c" = "$1" ] || continue
    next=''
    for arg in $(tr '\0' '\n' < "$d/cmdline" 2>/dev/null); do
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
