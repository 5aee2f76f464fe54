#!/bin/sh
# guard.sh: run one pyinfra command on the target, and stop it and everything under it on request.
#
# Usage:  sh -c "$GUARD" pyinfra-guard-TOKEN COMMAND [ARGUMENT...]
#   $0  pyinfra-guard-TOKEN, with a TOKEN new for every command: stop.sh finds the guard by it.
#   $@  the command, which runs with the guard's stdin; the guard exits with its status.
#
# On HUP, INT or TERM the guard stops the command and every process under it (TERM, then KILL a
# second later) and exits with 128 + the signal's number. The signal comes from the privilege
# wrapper (sudo and su relay it), from this machine's end of the transport, or from stop.sh, run
# through the transport when the command's time is up: a transport whose client relays no signal
# (docker exec) leaves the command running when its client dies, and stop.sh reaches it anyway.
#
# POSIX sh runs a trap only between commands, so the command runs in the background, with the
# guard's stdin, while the guard waits for it. That also makes it ignore SIGINT and SIGQUIT (POSIX,
# for a background command), so a Ctrl-C reaches it as the guard's TERM. The processes under the
# command are found through /proc, or ps where there is no /proc.

# s SIGNAL_STATUS: stop the command and what it started, then exit with SIGNAL_STATUS.
s() {
  trap "" HUP INT TERM
  p=$!
  [ -n "$p" ] || exit "$1"
  k="$(d "$p") $(h)"
  # shellcheck disable=SC2086 # $k is a list of process ids
  kill -TERM "$p" $k 2>/dev/null
  # shellcheck disable=SC2086
  (sleep 1; kill -KILL "$p" $k) >/dev/null 2>&1 &
  wait "$p"
  exit "$1"
}

# d PID: the processes under PID (its children, theirs, ...), one a line, from one look at the
# process table: /proc where there is one, else ps.
d() {
  r=$1
  {
    if [ -r /proc/self/stat ]; then
      for f in /proc/[0-9]*/stat; do
        { read -r l <"$f"; } 2>/dev/null || continue
        f=${f#/proc/}
        # "PID (COMMAND) STATE PPID ...": the command may hold spaces and parentheses.
        # shellcheck disable=SC2086 # the fields after the command, split
        set -- ${l##*") "}
        echo "${f%/stat} $2"
      done
    else
      ps -A -o pid= -o ppid=
    fi
  } | awk -v r="$r" '{ c[$2] = c[$2] " " $1 }
    END { q = c[r]; while (q != "") { n = split(q, a, " "); q = ""; for (i = 1; i <= n; i++) { print a[i]; q = q c[a[i]] } } }'
}

# h: the other processes whose stdout or stderr is the guard's stdout or stderr pipe, one a line: a
# background process the command left behind, which is nobody's descendant any more, keeps them.
# Found through /proc where there is one.
h() {
  # The names are /proc/PID/fd/N, and ls -l shows where each link leads: "NAME -> pipe:[INODE]".
  # shellcheck disable=SC2012
  o=$(ls -l /proc/$$/fd/1 /proc/$$/fd/2 2>/dev/null | awk '$NF ~ /^pipe:/ { printf "%s ", $NF }')
  [ -n "$o" ] || return 0
  # shellcheck disable=SC2012
  ls -l /proc/[0-9]*/fd/1 /proc/[0-9]*/fd/2 2>/dev/null | awk -v o="$o" -v me=$$ '
    BEGIN { n = split(o, a, " "); for (i = 1; i <= n; i++) pipe[a[i]] = 1 }
    { split($(NF - 2), f, "/") }
    ($NF in pipe) && f[3] != me && !(f[3] in seen) { seen[f[3]] = 1; print f[3] }'
}

trap 's 129' HUP
trap 's 130' INT
trap 's 143' TERM
exec 3<&0
"$@" 0<&3 3<&- &
exec 3<&-
wait $!
