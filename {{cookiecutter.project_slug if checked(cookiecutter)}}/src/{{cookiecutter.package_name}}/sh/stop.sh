#!/bin/sh
# stop.sh: stop the command that guard.sh runs under the name pyinfra-guard-TOKEN.
#
# Usage:  sh -c "$STOP" sh TOKEN
#   $1  the TOKEN of the guard to stop. Only the TOKEN is passed, not the guard's whole name, so
#       that this script's own command line never holds that name.
#
# Sends TERM to every process that has pyinfra-guard-TOKEN as a whole argument (the guard, and the
# sudo that started it); the guard then stops everything under it. Exits 0 when there is nothing
# to stop: the command may have ended meanwhile.

n=pyinfra-guard-$1
if [ -r /proc/self/cmdline ]; then
  # A command line in /proc has its arguments separated by NUL bytes, which BusyBox's grep does
  # not read past: compare the arguments one a line, in the shell.
  for f in /proc/[0-9]*/cmdline; do
    tr '\000' '\n' <"$f" 2>/dev/null | while read -r a || [ -n "$a" ]; do
      if [ "$a" = "$n" ]; then
        f=${f#/proc/}
        kill -TERM "${f%/cmdline}" 2>/dev/null
        break
      fi
    done
  done
else
  # -ww: whole command lines, whatever COLUMNS says (procps cuts them to it even into a pipe).
  ps -A -ww -o pid= -o args= | awk -v n="$n" '{ for (i = 2; i <= NF; i++) if ($i == n) { print $1; break } }' |
    while read -r p; do kill -TERM "$p" 2>/dev/null; done
fi
exit 0
