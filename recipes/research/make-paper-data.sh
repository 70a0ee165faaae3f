#!/bin/sh
# Writes the files `recipes/paper/*.toml` expect, from ../shared/data, sized for 2 CPU cores,
# into recipes/research/data/PAIR/ (ignored by git): `recipes/research/paper-en-mk.toml` and
# `paper-en-sq.toml` read them.
#
#   sh recipes/research/make-paper-data.sh        # then: unmt run recipes/research/paper-en-mk.toml
#
# Monolingual: English news (BBC + the first 10,000 Reuters lines); Macedonian: the first
# 45,000 Wikipedia lines; Albanian: news + court text. Dev: the first 500 SETIMES valid pairs;
# test: the last 500 (disjoint). BLI: the MUSE 0-5000 training dictionaries.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../../shared/data}
for lmr in mk sq; do
  out=$here/data/en-$lmr
  mkdir -p "$out"
  { cat "$shared/mono/en.bbc.txt"; head -n 10000 "$shared/mono/en.reuters.txt"; } > "$out/mono.en"
  case $lmr in
    mk) head -n 45000 "$shared/mono/mk.wiki.txt" > "$out/mono.mk" ;;
    sq) cat "$shared/mono/sq.news.txt" "$shared/mono/sq.courts.txt" > "$out/mono.sq" ;;
  esac
  for side in en $lmr; do
    head -n 500 "$shared/$lmr-en/valid.$side" > "$out/valid.$side"
    tail -n 500 "$shared/$lmr-en/valid.$side" > "$out/test.$side"
  done
  cp "$shared/dict/en-$lmr.0-5000.txt" "$out/dict.en-$lmr.0-5000.txt"
done
echo "wrote $here/data/en-mk and $here/data/en-sq"
