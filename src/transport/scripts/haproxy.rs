//! The haproxy Runtime API scripts: one text that finds haproxy's socket (or stats page), sent as the
//! `show stat` read, as a command of the caller's choosing (a write) and as the servers' watch.

/// The haproxy socket scripts' text: finds the socket (or stats page) and sends `$cmd` to it.
///
/// `show stat` (read-only: a `user`-level socket is enough). Argument: $1 the socket the plan names
/// ('' = none). Where that is not a socket, the script looks for the one haproxy really uses: the
/// `stats socket` lines of the running haproxy's own configuration (its `-f` files and directories,
/// else /etc/haproxy/haproxy.cfg), then the distributions' defaults (Debian's
/// /run/haproxy/admin.sock, CentOS' /var/lib/haproxy/stats). Unix sockets and `ipv4@`/`host:port`
/// ones both work. The first output line is `@@kockpit-socket ADDR FROM`.
///
/// With no socket to be had, the stats page: a `listen` or `frontend` section of that configuration
/// with `stats enable`, `stats uri` or `stats auth`, fetched on the host itself as `URI;csv` (the same
/// CSV) from its first `bind` (a wildcard as 127.0.0.1) with curl, else python3, else wget. Its
/// `stats auth` credentials are read from the configuration here and handed to the client on its
/// standard input, in its environment or in a private file, never on a command line and never
/// printed. The first output line is then `@@kockpit-page URL FROM`.
///
/// A socket or configuration file this user may not use is `kockpit-denied KIND PATH USER GROUP` on
/// stderr, exit 13 (GROUP: the group that would grant it, `-` for none); a socket without socat to
/// read it, exit 127; a socket that is there but does not answer (a haproxy starting, stopping or
/// hung), exit 5. With nothing found it says what it tried and the line to add, and exits 2.
///
/// [`HAPROXY_CLI_SCRIPT`] sends another Runtime API command (`show cli level`, `set server be/srv state
/// drain`): sockets only, never a stats page, and the socket's answer is printed as it is (haproxy
/// says `Permission denied` with exit 0 where the level is too low). [`STATS_WATCH_SCRIPT`] watches
/// the socket that answers.
macro_rules! haproxy_socket_body {
    () => {
        r#"tried=''; denied=''; unreadable=''; pages=''; nosocat=''
grp() { m=$(stat -c %A "$1" 2>/dev/null); g=$(stat -c %G "$1" 2>/dev/null)
  case $m in $2) [ "$g" != root ] && [ -n "$g" ] && { echo "$g"; return; } ;; esac; echo -; }
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
      command -v socat >/dev/null 2>&1 || { nosocat=1; return 1; }
      sa=unix-connect:$a
      if ! out=$(printf '%s\n' "$cmd" | socat -t 2 stdio "$sa" 2>&1); then
        case $out in *ermission*) [ -n "$denied" ] || denied=$a; return 1 ;; esac
        # a socket file left behind by a haproxy that is gone
        scan; [ -n "$running" ] || { echo "haproxy is not running (no haproxy process on this host; its socket $a is left behind)" >&2; exit 3; }
        # socat's own prefix (date, time, pid) would make every failure a new message; `connect(5, AF=1
        # "/path", 25): Connection refused` says `connect: Connection refused`
        echo "cannot read haproxy's socket $a ($from): $(printf '%s' "$out" | tail -n 1 | sed 's/^[0-9/]* [0-9:.]* socat\[[0-9]*\] [A-Z] //; s/^\([a-z_]*\)([^)]*): /\1: /')" >&2; exit 5
      fi ;;
    *)
      t=${a#ipv4@}; t=${t#ipv6@}; h=${t%:*}; p=${t##*:}
      case $h in ''|'*'|0.0.0.0) h=127.0.0.1 ;; '::') h=::1 ;; esac
      tried="$tried $a"
      command -v socat >/dev/null 2>&1 || { nosocat=1; return 1; }
      sa=tcp-connect:$h:$p
      out=$(printf '%s\n' "$cmd" | socat -t 2 stdio "$sa" 2>/dev/null) || return 1 ;;
  esac
  [ -n "$watch" ] && watch_stats "$sa" "$a" "$from" "$out"
  printf '@@kockpit-socket %s %s\n%s\n' "$a" "$from" "$out"
  exit 0
}
PAGES='function flush() { if (sec && st && bind != "") print bind, (uri == "" ? "/haproxy?stats" : uri), ssl, (auth == "" ? "-" : auth) }
$1 ~ /^#/ { next }
$1 ~ /^(listen|frontend|backend|defaults|global|userlist|peers|resolvers|program|http-errors|ring|cache|mailers)$/ {
  flush(); sec = ($1 == "listen" || $1 == "frontend"); st = 0; bind = ""; uri = ""; auth = ""; ssl = "http"; next }
sec && $1 == "bind" && bind == "" { bind = $2; for (i = 3; i <= NF; i++) if ($i == "ssl") ssl = "https"; next }
sec && $1 == "stats" && $2 == "enable" { st = 1 }
sec && $1 == "stats" && $2 == "uri" { st = 1; uri = $3 }
sec && $1 == "stats" && $2 == "auth" { st = 1; if (auth == "") auth = $3 }
END { flush() }'
PY='import base64, os, ssl, sys, urllib.request
r = urllib.request.Request(sys.argv[1])
a = os.environ.get("KOCKPIT_AUTH", "-")
if a != "-":
    r.add_header("Authorization", "Basic " + base64.b64encode(a.encode()).decode())
c = ssl.create_default_context()
c.check_hostname = False
c.verify_mode = ssl.CERT_NONE
sys.stdout.write(urllib.request.urlopen(r, timeout=2, context=c).read().decode("utf-8", "replace"))'
page() {
  u=$1; c=$2
  if command -v curl >/dev/null 2>&1; then
    if [ "$c" = - ]; then out=$(curl -sSfk -m 2 "$u" 2>&1)
    else out=$(printf 'user = "%s"\n' "$(printf '%s' "$c" | sed 's/[\\"]/\\&/g')" | curl -sSfk -m 2 -K - "$u" 2>&1); fi
  elif command -v python3 >/dev/null 2>&1; then out=$(KOCKPIT_AUTH=$c python3 -c "$PY" "$u" 2>&1)
  elif command -v wget >/dev/null 2>&1; then
    if [ "$c" = - ]; then out=$(wget -q -O - -T 2 --no-check-certificate "$u" 2>&1)
    else
      w=$(umask 077; mktemp) || return 1
      printf 'user = %s\npassword = %s\n' "${c%%:*}" "${c#*:}" >"$w"
      out=$(wget --config="$w" -q -O - -T 2 --no-check-certificate "$u" 2>&1); r=$?; rm -f "$w"; return $r
    fi
  else out='no curl, python3 or wget to fetch it with'; false; fi
}
cfgs=''; running=''; scanned=''; self_net=''
# this host's haproxy processes, their PIDs: one in another network namespace (a container's, an
# ingress controller's) is not this host's
hpids() {
  [ -n "$self_net" ] || self_net=$(readlink /proc/self/ns/net 2>/dev/null)
  for d in /proc/[0-9]*; do
    c=''; { read -r c < "$d/comm"; } 2>/dev/null; [ "$c" = haproxy ] || continue
    pn=$(readlink "$d/ns/net" 2>/dev/null); [ -z "$pn" ] || [ "$pn" = "$self_net" ] || continue
    printf '%s ' "${d#/proc/}"
  done
}
# their -f configurations, looked for once, when needed
scan() {
  [ -z "$scanned" ] || return 0
  scanned=1
  for p in $(hpids); do
    running=1
    next=''
    for arg in $({ tr '\0' '\n' < "/proc/$p/cmdline"; } 2>/dev/null); do
      [ "$next" = 1 ] && cfgs="$cfgs $arg"
      if [ "$arg" = -f ]; then next=1; else next=''; fi
    done
  done
}
[ -n "${1:-}" ] && try "$1" plan
scan
[ -n "$cfgs" ] || cfgs=/etc/haproxy/haproxy.cfg
seen=''
for c in $cfgs; do
  case " $seen " in *" $c "*) continue ;; esac
  seen="$seen $c"
  if [ -d "$c" ]; then files=$(ls "$c"/*.cfg 2>/dev/null); else files=$c; fi
  for f in $files; do
    if [ ! -r "$f" ]; then [ -e "$f" ] && [ -z "$unreadable" ] && unreadable=$f; continue; fi
    for s in $(sed -n 's/^[[:space:]]*stats[[:space:]][[:space:]]*socket[[:space:]][[:space:]]*\([^[:space:]#]*\).*/\1/p' "$f"); do
      try "$s" "$f"
    done
    pages="$pages$(awk "$PAGES" "$f" | while read -r b u x a; do printf '%s %s %s %s %s\n' "$b" "$u" "$x" "$a" "$f"; done)
"
  done
done
for s in /run/haproxy/admin.sock /var/lib/haproxy/stats /var/run/haproxy/admin.sock /run/haproxy.sock /var/run/haproxy.sock /var/lib/haproxy/admin.sock; do
  try "$s" default
done
why=''
[ "$cmd" = 'show stat' ] || pages=''
while read -r b u x a f; do
  [ -n "$b" ] || continue
  b=${b%%,*}; b=${b#ipv4@}; b=${b#ipv6@}
  case $b in /*|unix@*|abns@*|fd@*|sockpair@*) continue ;; esac
  h=${b%:*}; p=${b##*:}; p=${p%%-*}
  case $h in ''|'*'|0.0.0.0) h=127.0.0.1 ;; '::'|'[::]'|:*) h='[::1]' ;; esac
  url="$x://$h:$p$u"
  if page "$url;csv" "$a"; then
    case $out in '# pxname'*) printf '@@kockpit-page %s %s\n%s\n' "$url" "$f" "$out"; exit 0 ;; esac
    out='not the CSV (an HTML page?)'
  fi
  why="$why; stats page $url: $(printf '%s' "$out" | tail -n 1)"
done <<EOF
$pages
EOF
if [ -z "$running" ]; then echo "haproxy is not running (no haproxy process on this host; tried:$tried)" >&2; exit 3; fi
if [ -n "$denied" ]; then echo "kockpit-denied socket $denied $(id -un) $(grp "$denied" '?????w*')" >&2; exit 13; fi
if [ -n "$unreadable" ]; then echo "kockpit-denied file $unreadable $(id -un) $(grp "$unreadable" '????r*')" >&2; exit 13; fi
if [ -n "$nosocat" ]; then echo "socat is not installed (to read haproxy's stats socket)$why" >&2; exit 127; fi
echo "no haproxy stats socket (tried:$tried; config:$seen$why): add under global in haproxy.cfg: stats socket /run/haproxy/admin.sock mode 660 level admin" >&2
exit 2
"#
    };
}

/// `show stat` from haproxy's socket (or its stats page): see [`haproxy_socket_body`]. `$1`: the
/// plan's socket ('' = none). Read-only: it sends nothing but `show stat`.
pub const SHOW_STAT_SCRIPT: &str = concat!("cmd='show stat'; watch=\n", haproxy_socket_body!());

/// One Runtime API command (`$2`) to the socket [`SHOW_STAT_SCRIPT`] would find from `$1`: a write
/// (never in the read-only set, whatever the command).
pub const HAPROXY_CLI_SCRIPT: &str =
    concat!("cmd=$2; watch=\n", "case $cmd in '') echo 'no command' >&2; exit 2;; esac\n", haproxy_socket_body!());

/// haproxy's servers watched on the host, for as long as the channel is open: one Runtime API
/// session on the socket [`SHOW_STAT_SCRIPT`] would read (`$1`: the plan's), in interactive mode,
/// asked `show servers state` every 50 ms; only changes leave the host. haproxy announces nothing a
/// stock configuration exposes (`show events` needs a `ring` the configuration declares, its log goes
/// through syslog or the journal, which wakes readers every 250 ms at best), so this is the fastest
/// word of its decisions that needs no change on the host: read-only, `user` level suffices.
///
/// Prints `@@kockpit-watching` once a session answers, `@@kockpit-server BACKEND/SERVER OP ADMIN`
/// when a server's operational or administrative state changes (`srv_op_state`, `srv_admin_state`),
/// `@@kockpit-lost SOCKET: WHY` when a session ends other than by its own end, and then ends itself
/// (started again, it finds the socket anew: one that moved, or a haproxy that is gone, is seen as the
/// probe sees it); a session is closed and opened again every 10 s, and within 1 s of a new haproxy
/// process on the host (a reload), so a reloaded haproxy's new process is the one watched. `@@kockpit-alive` every second. Exit 2, 3, 13, 127 as
/// [`SHOW_STAT_SCRIPT`]; 4: this haproxy has no `show servers state` (before 1.6). Ends (and
/// everything it started) when its standard input closes.
pub const STATS_WATCH_SCRIPT: &str = concat!(
    "cmd='show servers state'; watch=1\n",
    stream_fns!(),
    r#"watch_stats() {
  case $4 in 1*'# be_id'*) ;; *) echo "this haproxy cannot be watched: no 'show servers state' (haproxy 1.6 or later has it)" >&2; exit 4;; esac
  ai=; case $(awk -W version 2>&1) in mawk*) ai='-W interactive';; esac
  hold
  alive
  # a reload starts a new haproxy process, whose session is the one to watch (hpids: this host's; its
  # network namespace read once here, not in each look's subshell)
  [ -n "$self_net" ] || self_net=$(readlink /proc/self/ns/net 2>/dev/null)
  { while :; do
      { echo prompt; p0=$(hpids); i=0
        while [ $i -lt 200 ]; do
          echo "$cmd" || exit; sleep 0.05 2>/dev/null || sleep 1; i=$((i+1))
          [ $((i % 20)) = 0 ] && [ "$(hpids)" != "$p0" ] && break
        done; } | socat -t 1 - "$1" 2>&1 || { echo '@@kockpit-lost'; exit 0; }
      echo '@@kockpit-next' || exit
    done; } <&- 3<&- | awk $ai -v sock="$2" '
{ sub(/^(> )+/, "") }
/^@@kockpit-next/ { next }
/^@@kockpit-lost/ { if (live || !told) { print "@@kockpit-lost " sock ": " (why == "" ? "the session ended" : why); fflush() } live = 0; told = 1; why = ""; next }
/ socat\[[0-9]+\] [EW] / { why = $0; sub(/^.* socat\[[0-9]+\] [EW] /, "", why); if (match(why, /^[a-z_]+\(/) && (i = index(why, "): "))) why = substr(why, 1, RLENGTH - 1) ": " substr(why, i + 3); next }
/^# be_id/ { if (!live) { print "@@kockpit-watching"; fflush(); live = 1; told = 1 } next }
NF >= 7 && $1 ~ /^[0-9]+$/ { k = $2 "/" $4; v = $6 " " $7; if ((k in s) && s[k] != v) { print "@@kockpit-server " k " " v; fflush() } s[k] = v }' &
  t=$!
  hangup "$t" "$h"
  finish "$h"
}
"#,
    haproxy_socket_body!()
);

#[cfg(test)]
mod tests {
    use crate::model::notes::{HAPROXY_NOT_RUNNING, NO_STATS_SOCKET};

    #[test]
    fn the_scripts_say_haproxy_gone_and_no_socket_in_the_words_the_model_reads() {
        for script in [super::SHOW_STAT_SCRIPT, super::HAPROXY_CLI_SCRIPT, super::STATS_WATCH_SCRIPT] {
            assert!(script.contains(&format!("echo \"{HAPROXY_NOT_RUNNING} (")), "{script}");
            assert!(script.contains(&format!("echo \"{NO_STATS_SOCKET} (")), "{script}");
        }
    }
}
