#!/bin/sh
# Every weak symbol a per-arch kernel TU defines must name that TU's arch tag. A shared inline
# function (or another arch's instantiation) compiled there with the TU's wide-ISA flags is a
# copy the linker may keep for the whole program, so a CPU without that ISA would run it.
# usage: check_arch_symbols.sh <nm> "<arch>=<tag>[,<tag>…]|…" "<object>|<object>|…"
nm=$1
tags=$2
objects=$3
checked=0
bad=0
old_ifs=$IFS
IFS='|'
for obj in $objects; do
  IFS=$old_ifs
  file=$(basename "$obj")
  arch=${file#qlite_}
  arch=${arch%%.cpp.o*}
  tag=$(printf '%s\n' "$tags" | tr '|' '\n' | sed -n "s/^$arch=//p")
  if [ -z "$tag" ]; then
    echo "$obj: no arch tag for '$arch' in '$tags'"
    exit 1
  fi
  symbols=$("$nm" -C "$obj") || { echo "$nm failed on $obj"; exit 1; }
  patterns=$(printf '%s\n' "$tag" | tr ',' '\n')
  foreign=$(printf '%s\n' "$symbols" | grep -E '^[0-9a-f]* [WV] ' | grep -v ' DW\.ref\.' | grep -vF "$patterns")
  if [ -n "$foreign" ]; then
    echo "$obj ($arch): weak symbols without the tag $tag:"
    printf '%s\n' "$foreign"
    bad=1
  fi
  checked=$((checked + 1))
done
IFS=$old_ifs
if [ "$checked" -eq 0 ]; then
  echo "no per-arch object files given"
  exit 1
fi
[ "$bad" -eq 0 ] && echo "$checked per-arch TUs: every weak symbol carries its arch tag"
exit "$bad"
