#!/bin/sh
# put.sh: write the bytes on stdin into a file on the target, replacing it only once all arrived.
#
# Usage:  put.sh DESTINATION NEW_NAME SIZE   (the connector runs it as "set -- ARGS; <this file>")
#   DESTINATION  the file to write.
#   NEW_NAME     the name of the new file, made beside the destination, that the bytes go into.
#   SIZE         the number of bytes to expect on stdin.
#
# A destination that is a symbolic link is resolved (readlink -f, else one link at a time with
# readlink), so that the link stays and its target gets the bytes. Once every byte has arrived, the
# new file gets an existing destination's mode and owner and is renamed over it, so a failure
# leaves the destination untouched; the new file is removed on failure and on HUP, INT, PIPE or
# TERM (a timeout, Ctrl-C). Where no new file can be made there (a directory this user may not
# write into) but the destination is a writable file, the bytes are written into it in place.
# The new file is created empty and appended to: opening it with truncation makes ext4 write all of
# it out on close.

d=$1 u=$2 z=$3
t=
n=0

# c STATUS: remove the new file, if there is one, and exit with STATUS.
c() {
  [ -z "$t" ] || rm -f -- "$t"
  exit "$1"
}
trap 'c 129' HUP
trap 'c 130' INT
trap 'c 141' PIPE
trap 'c 143' TERM

if [ -h "$d" ] && r=$(readlink -f -- "$d" 2>/dev/null && echo .); then
  d=${r%??}
fi
while [ -h "$d" ]; do
  n=$((n + 1))
  [ "$n" -le 40 ] || { echo "$d: too many levels of symbolic links" >&2; exit 1; }
  l=$(readlink -- "$d" && echo .) || exit 1
  l=${l%??}
  case $l in
    /*) d=$l ;;
    *) case $d in */*) d=${d%/*}/$l ;; *) d=$l ;; esac ;;
  esac
done
if [ -d "$d" ]; then
  echo "$d: is a directory" >&2
  exit 1
fi
case $d in */*) t=${d%/*}/$u ;; *) t=$u ;; esac
if ! e=$( (set -C; : >"$t") 2>&1); then
  t=
  case $d in */*) w=${d%/*}/ ;; *) w=. ;; esac
  if [ -f "$d" ] && [ -w "$d" ] && ! [ -w "$w" ]; then
    if cat >"$d" && [ $(($(wc -c <"$d"))) -eq "$z" ]; then exit 0; fi
    echo "$d: upload incomplete, and written in place: the file is now incomplete" >&2
    exit 1
  fi
  echo "$e" >&2
  exit 1
fi
if cat >>"$t" && [ $(($(wc -c <"$t"))) -eq "$z" ]; then
  if [ -e "$d" ]; then
    m=$(stat -L -c %a "$d" 2>/dev/null || stat -L -f %Lp "$d") && chmod "$m" "$t"
    o=$(stat -L -c %u:%g "$d" 2>/dev/null || stat -L -f %u:%g "$d") && chown "$o" "$t" 2>/dev/null
  fi
  mv -f "$t" "$d" && exit 0
else
  echo "$d: upload incomplete" >&2
fi
c 1
