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
# new file gets an existing destination's owner, group and whole mode, setuid, setgid and sticky
# bits included (read from `ls -ln`, the same on GNU, BusyBox and macOS; chown clears setuid and
# setgid, so it comes first), and is renamed over it, so a failure leaves the destination untouched;
# the new file is removed on failure and on HUP, INT, PIPE or TERM (a timeout, Ctrl-C). Where no
# new file can be made there (a directory this user may not write into) but the destination is a
# writable file, the bytes are written into it in place.
# The new file is created empty and appended to: opening it with truncation makes ext4 write all of
# it out on close.
# A failure is one line on stderr that says what went wrong with the destination, which the
# connector names: it never names the new file, which the person did not ask for.

d=$1 u=$2 z=$3 g=$1
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

# f MESSAGE: fail, saying MESSAGE, and where a symbolic link led, if one did.
f() {
  if [ "$d" = "$g" ]; then echo "$1" >&2; else echo "$1 (through a symbolic link to $d)" >&2; fi
  c 1
}

# m LS_MODE: the octal mode that `ls -l` shows as LS_MODE: a type letter, then 9 of rwxsStT-.
m() {
  s=${1#?}
  b=0
  for w in 256 128 64 32 16 8 4 2 1; do
    r=${s#?}
    k=${s%"$r"}
    s=$r
    case $k in [rwxst]) b=$((b + w)) ;; esac
    case $k in [sStT]) case $w in 64) b=$((b + 2048)) ;; 8) b=$((b + 1024)) ;; *) b=$((b + 512)) ;; esac ;; esac
  done
  printf '%o\n' "$b"
}

# y FILE: FILE's size in bytes, as `ls -ln` shows it: `wc -c` would read all of it on BusyBox.
y() {
  x=$(ls -lnd -- "$1") || return 1
  read -r _ _ _ _ x _ <<LS
$x
LS
  echo "$x"
}

if [ -h "$d" ] && r=$(readlink -f -- "$d" 2>/dev/null && echo .); then
  d=${r%??}
fi
while [ -h "$d" ]; do
  n=$((n + 1))
  [ "$n" -le 40 ] || f "too many levels of symbolic links"
  l=$(readlink -- "$d" && echo .) || exit 1
  l=${l%??}
  case $l in
    /*) d=$l ;;
    *) case $d in */*) d=${d%/*}/$l ;; *) d=$l ;; esac ;;
  esac
done
[ ! -d "$d" ] || f "is a directory"
case $d in */*) p=${d%/*} t=${d%/*}/$u ;; *) p=. t=$u ;; esac
[ -n "$p" ] || p=/
if ! e=$( (set -C; : >"$t") 2>&1); then
  t=
  if [ -f "$d" ] && [ -w "$d" ] && ! [ -w "$p" ]; then
    if e=$(cat 2>&1 >"$d") && [ $(($(y "$d"))) -eq "$z" ]; then exit 0; fi
    f "upload incomplete${e:+: ${e##*: }}, and written in place: the file is now incomplete"
  fi
  [ -d "$p" ] || [ ! -e "$p" ] || f "not a directory: $p"
  [ -d "$p" ] || f "no such directory: $p"
  # The shell's reason follows the new file's name: "sh: cannot create NAME: Permission denied".
  r=${e##*"$u"}
  r=${r#: }
  f "cannot create a file in $p${r:+: $r}"
fi
if e=$(cat 2>&1 >>"$t") && [ $(($(y "$t" 2>/dev/null))) -eq "$z" ]; then
  if [ -e "$d" ] && l=$(ls -lnd -- "$d"); then
    read -r k _ o q _ <<LS
$l
LS
    chown "$o:$q" "$t" 2>/dev/null
    chmod "$(m "$k")" "$t" 2>/dev/null || f "cannot give the new file the mode $k"
  fi
  e=$(mv -f "$t" "$d" 2>&1) && exit 0
  f "cannot replace it${e:+: ${e##*: }}"
fi
f "upload incomplete${e:+: ${e##*: }}"
