#!/usr/bin/env python3
"""The candidate-sampling study behind bench/README.md ("Candidate sampling") and docs/sched.md.

Runs `veil sim placement --json` for N = 1,000 and 10,000 nodes (J = N jobs each, and a tighter
N = 1,000 / J = 3,000 run) and d = 2, 4, 8, 16, 32, all; prints a Markdown table and writes
bench/img/placement_study.svg (drawn by hand: no plotting library needed).

    usage: bench/placement_study.py [path/to/veil] [--quick]

The 10,000-node run takes about three minutes on a 2-core machine; --quick skips it.
"""
import json
import subprocess
import sys
from pathlib import Path

CANDIDATES = "2,4,8,16,32,all"
SEED = 1


def run(veil, nodes, jobs):
    out = subprocess.run([veil, "sim", "placement", "--nodes", str(nodes), "--jobs", str(jobs), "--candidates",
                          CANDIDATES, "--seed", str(SEED), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def table(runs):
    lines = ["| nodes | jobs | d | placed | full scan placed | placed in round 1 | rank of chosen node | "
             "score regret mean / p99 | stranded CPU (sampled / full) | widenings per job | nodes evaluated per job |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows in runs:
        for r in rows:
            lines.append(
                f"| {r['nodes']:,} | {r['jobs']:,} | {r['candidates']} | {100 * r['placed_fraction']:.2f} % | "
                f"{100 * r['full_scan_placed_fraction']:.2f} % | {100 * r['first_round_fit_fraction']:.1f} % | "
                f"{r['rank_mean_pct']:.1f} % | {r['regret_mean_pct']:.1f} / {r['regret_p99_pct']:.1f} % | "
                f"{100 * r['stranded_cpu_fraction']:.2f} / {100 * r['full_scan_stranded_cpu_fraction']:.2f} % | "
                f"{r['widenings_mean']:.3f} | {r['candidates_mean']:.1f} |")
    return "\n".join(lines)


def svg(runs, path):
    """Rank of the chosen node and first-round fit against d, one line per run, with d/(d+1)."""
    width, height, left, right, top, bottom = 640, 400, 60, 200, 30, 50
    xs = ["2", "4", "8", "16", "32", "all"]
    plot_w, plot_h = width - left - right, height - top - bottom
    ymin = 50.0

    def x(i):
        return left + plot_w * i / (len(xs) - 1)

    def y(v):
        return top + plot_h * (100 - v) / (100 - ymin)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">Candidate sampling: quality against d (veil sim placement)</text>']
    for v in range(50, 101, 10):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v)}" y2="{y(v)}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{y(v) + 4}" text-anchor="end">{v} %</text>')
    for i, label in enumerate(xs):
        parts.append(f'<text x="{x(i)}" y="{top + plot_h + 18}" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">candidates d per round</text>')
    colours = ["#1f77b4", "#d62728", "#2ca02c"]
    series = [("d/(d+1): best of d uniform picks", "#888", "4,3",
               [100 * int(d) / (int(d) + 1) if d != "all" else 100 for d in xs])]
    for k, rows in enumerate(runs):
        name = f"N={rows[0]['nodes']:,} J={rows[0]['jobs']:,}"
        series.append((f"rank, {name}", colours[k % 3], "", [r["rank_mean_pct"] for r in rows]))
        series.append((f"fit in round 1, {name}", colours[k % 3], "2,2",
                       [100 * r["first_round_fit_fraction"] for r in rows]))
    for n, (label, colour, dash, values) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(max(ymin, v)):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2" '
                     f'stroke-dasharray="{dash}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(max(ymin, v)):.1f}" r="2.5" fill="{colour}"/>')
        ly = top + 14 + 18 * n
        parts.append(f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 36}" y1="{ly - 4}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        parts.append(f'<text x="{left + plot_w + 40}" y="{ly}" font-size="10">{label}</text>')
    parts.append("</svg>")
    Path(path).write_text("\n".join(parts) + "\n")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    veil = args[0] if args else "build/bin/veil"
    sizes = [(1000, 1000), (1000, 3000)] + ([] if "--quick" in sys.argv else [(10000, 10000)])
    runs = [run(veil, n, j) for n, j in sizes]
    print(table(runs))
    out = Path(__file__).resolve().parent / "img" / "placement_study.svg"
    svg(runs, out)
    print(f"\nplot: {out.relative_to(Path(__file__).resolve().parent.parent)}")


if __name__ == "__main__":
    main()
