#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that loom's portable build runs on any x86-64-v2 CPU: in the given objects, archives,
# executables or shared libraries, no function outside the per-ISA kernels (namespaces isa_avx2 and
# isa_avx512, and the xsimd code they instantiate) may use an AVX, AVX2, AVX-512 or BMI instruction.
#
#   scripts/check_isa_leaks.sh FILE...
#
# (tzcnt is not flagged: its encoding is `rep bsf`, which GCC emits for any x86-64 where the
# input cannot be zero, and which older CPUs run as bsf.)
#
# In an object or archive this also catches an inline library function (a std:: template, say)
# compiled inside a per-ISA source: its weak copy could be the one a static link keeps, and baseline
# code would then call it. In a linked binary it checks the copies that were kept.
set -euo pipefail
(( $# > 0 )) || { echo "usage: check_isa_leaks.sh FILE..." >&2; exit 2; }
status=0
for file in "$@"; do
  [[ -f $file ]] || { echo "check_isa_leaks: $file does not exist" >&2; exit 2; }
  # objdump prints "In archive X:" and "M:     file format" per archive member, "<fn>:" per function.
  report=$(objdump -d -C --no-show-raw-insn "$file" | awk '
    /^In archive / { next }
    /:[ \t]+file format / { member = $1; next }
    /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn); next }
    /^ *[0-9a-f]+:\t/ {
      split($0, parts, "\t"); insn = parts[2]; split(insn, words, " "); op = words[1]
      if (op ~ /^v/ || op ~ /^k[a-z]+[bwdq]$/ || insn ~ /%[yz]mm|%k[0-7]/ \
          || op ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|lzcnt|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe)[lq]?$/) {
        if (fn ~ /isa_avx2::|isa_avx512::|xsimd::(avx|fma3)/) next
        if (!(fn in seen)) { seen[fn] = 1; printf "%s: %s  (first: %s)\n", member, fn, insn }
      }
    }')
  if [[ -n $report ]]; then
    echo "check_isa_leaks: $file has AVX/BMI instructions outside the dispatched kernels:" >&2
    echo "$report" | head -40 >&2
    status=1
  else
    echo "check_isa_leaks: $file: clean"
  fi
done
exit $status
