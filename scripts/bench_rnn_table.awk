# SPDX-License-Identifier: Apache-2.0
# Reads Google Benchmark CSV (median rows) of the training-step benchmarks and prints the ratio table:
# per (cell, size, threads) loom's time, oneDNN's, libtorch's (nn.* layer) and their ratios, the
# custom LSTM cell against the built-in one, inference against oneDNN, 2-thread ÷ 1-thread, and the
# training step's share of the measured FMA peak (BM_FmaPeak) at the large size.
function key(c, s, t) { return c SUBSEP s SUBSEP t }
/^name,/ { flops_col = 0; for (i = 1; i <= NF; ++i) if ($i ~ /FLOPS/) flops_col = i; next }
/^"?BM_FmaPeak\/[0-9]+\/real_time_median/ {
  name = $1; gsub(/"/, "", name); split(name, p, "/")
  if (flops_col && (!(p[2] in peak) || $flops_col + 0 > peak[p[2]])) peak[p[2]] = $flops_col + 0
  next
}
/_median"?,/ {
  name = $1; gsub(/"/, "", name); sub(/\/real_time_median$/, "", name)
  split(name, p, "/"); kind = p[1]
  c = p[2]; sub(/cell:/, "", c); s = p[3]; sub(/size:/, "", s); t = p[4]; sub(/threads:/, "", t)
  ms = $3 + 0; unit = $5; gsub(/"/, "", unit)
  if (unit == "us") ms /= 1000; else if (unit == "ns") ms /= 1e6; else if (unit == "s") ms *= 1000
  k = key(c, s, t)
  if (!((kind, k) in best) || ms < best[kind, k]) best[kind, k] = ms
}
function geo(sum, n) { return n ? exp(sum / n) : 0 }
END {
  split("LSTM GRU RNN", cells, " "); split("tiny small medium large long", sizes, " ")
  for (t = 1; t <= 2; ++t) {
    printf "\n%d thread%s      %9s %9s %6s %9s %6s %7s %9s %9s %6s\n", t, (t > 1 ? "s" : " "), "loom ms", "oneDNN", "ratio",
           "torch", "ratio", "custom", "infer", "oneDNN", "ratio"
    gd = gt = gi = 0; nd = nt = ni = 0
    for (c = 0; c < 3; ++c) for (s = 0; s < 5; ++s) {
      k = key(c, s, t); l = best["BM_Train", k]; if (l == "") continue
      d = best["BM_DNNL_Train", k]; to = best["BM_Torch_Train", k]; cu = best["BM_TrainCustomLSTM", k]
      li = best["BM_Infer", k]; di = best["BM_DNNL_Infer", k]
      printf "%-4s %-7s %9.3f", cells[c + 1], sizes[s + 1], l
      if (d != "") { printf " %9.3f %6.2f", d, l / d; gd += log(l / d); nd++ } else printf " %9s %6s", "-", "-"
      if (to != "") { printf " %9.3f %6.2f", to, l / to; gt += log(l / to); nt++ } else printf " %9s %6s", "-", "-"
      if (cu != "") printf " %7.2f", cu / l; else printf " %7s", "-"
      if (li != "" && di != "") { printf " %9.3f %9.3f %6.2f", li, di, li / di; gi += log(li / di); ni++ }
      printf "\n"
    }
    printf "geometric mean        loom/oneDNN %.2f (%d pairs)   loom/torch %.2f (%d)   inference loom/oneDNN %.2f (%d)\n",
           geo(gd, nd), nd, geo(gt, nt), nt, geo(gi, ni), ni
  }
  printf "\n2 threads / 1 thread   %6s %6s %6s\n", "loom", "oneDNN", "torch"
  for (c = 0; c < 3; ++c) for (s = 0; s < 5; ++s) {
    a = best["BM_Train", key(c, s, 1)]; b = best["BM_Train", key(c, s, 2)]; if (a == "" || b == "") continue
    da = best["BM_DNNL_Train", key(c, s, 1)]; db = best["BM_DNNL_Train", key(c, s, 2)]
    ta = best["BM_Torch_Train", key(c, s, 1)]; tb = best["BM_Torch_Train", key(c, s, 2)]
    printf "%-4s %-16s %6.2f %6s %6s\n", cells[c + 1], sizes[s + 1], b / a, (da != "" ? sprintf("%.2f", db / da) : "-"),
           ta != "" ? sprintf("%.2f", tb / ta) : "-"
  }
  if (!(1 in peak)) exit
  # large = (B, I, H, T) = (64, 512, 512, 50); a training step does 3 products per forward one.
  printf "\nFMA peak: %.1f GFLOP/s on 1 core, %.1f on 2\n", peak[1] / 1e9, peak[2] / 1e9
  printf "training step at large   %14s %14s\n", "1 thread", "2 threads"
  split("4 3 1", g, " ")
  for (c = 0; c < 3; ++c) {
    f = 3 * 50 * 2 * 64 * (512 + 512) * g[c + 1] * 512
    printf "%-4s GFLOP/s, %% of peak", cells[c + 1]
    for (t = 1; t <= 2; ++t) {
      ms = best["BM_Train", key(c, 3, t)]
      if (ms == "" || !(t in peak)) { printf " %14s", "-"; continue }
      rate = f / (ms / 1000)
      printf " %7.1f (%3.0f%%)", rate / 1e9, 100 * rate / peak[t]
    }
    printf "\n"
  }
}
