"""The demo report: a Markdown summary, per-scenario timelines and figures.

``write_report(results, out_dir)`` writes ``report.md`` (a table of scenarios,
timings and measured figures, then each scenario's timeline and frames),
``summary.json``, and one map figure per scenario (the robot's ground-truth
path on the site's occupancy grid, events marked by sim time).
"""
from __future__ import annotations

import json
from pathlib import Path

from carebot.scenarios.scenario import ScenarioResult
from carebot.world import load_world, occupancy_grid


def path_figure(result: ScenarioResult, out: Path) -> Path | None:
    """PNG of the site map with the robot's path; None when nothing moved."""
    if not result.path:
        return None
    import matplotlib

    matplotlib.use("Agg")   # headless
    import matplotlib.pyplot as plt

    world = load_world(result.site)
    grid = occupancy_grid(world, resolution=0.05)
    fig, ax = plt.subplots(figsize=(8, 8 * world.height / world.width + 0.6), dpi=100)
    ax.imshow(grid.data, origin="lower", cmap="Greys", vmin=0, vmax=130,
              extent=(0, world.width, 0, world.height))
    for place in world.places.values():
        ax.plot(place.x, place.y, "s", color="tab:blue", markersize=3)
        ax.annotate(place.name, (place.x, place.y), fontsize=6, color="tab:blue", xytext=(2, 2),
                    textcoords="offset points")
    times = [p[0] for p in result.path]
    xs = [p[1] for p in result.path]
    ys = [p[2] for p in result.path]
    points = ax.scatter(xs, ys, c=times, cmap="viridis", s=4)
    fig.colorbar(points, ax=ax, label="sim time (s)", shrink=0.7)
    ax.plot(xs[0], ys[0], "o", color="green", label="start")
    ax.plot(xs[-1], ys[-1], "X", color="red", label="end")
    ax.set_title(f"{result.title} ({result.status})")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def timings_figure(results: list[ScenarioResult], out: Path) -> Path | None:
    """Bar chart of each scenario's measured figures in sim seconds."""
    rows = [(r.name, m) for r in results for m in r.metrics if m.unit == "s"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.2), dpi=100)
    labels = [f"{name}: {m.name}" for name, m in rows]
    colors = ["tab:red" if m.passed is False else "tab:green" if m.passed else "tab:gray" for _, m in rows]
    ax.barh(labels, [m.value for _, m in rows], color=colors)
    for i, (_, m) in enumerate(rows):
        ax.text(m.value, i, f" {m.value:.2f} s" + (f" (target {m.target})" if m.target else ""), va="center",
                fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("sim seconds")
    ax.set_title("Scenario timings")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def write_report(results: list[ScenarioResult], out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# carebot demo report", "",
             "Scenarios run headless against the MuJoCo simulation over real DDS; times in sim seconds "
             "unless marked wall.", "",
             "| scenario | site | status | sim s | wall s | start-up wall s | real-time factor | figures |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        figures = "; ".join(f"{m.name} {m.value:g} {m.unit}" + (f" ({'met' if m.passed else 'MISSED'} {m.target})"
                                                                if m.target else "") for m in r.metrics)
        lines.append(f"| {r.name} | {r.site} | **{r.status}** | {r.sim_s:g} | {r.wall_s:g} | {r.startup_wall_s:g} | "
                     f"{r.real_time_factor:.2f} | {figures or '-'} |")
    timings = timings_figure(results, out_dir / "timings.png")
    if timings:
        lines += ["", f"![timings]({timings.name})"]
    for r in results:
        lines += ["", f"## {r.name}: {r.title}", ""]
        if r.skipped:
            lines.append(f"Skipped: {r.skipped}")
            continue
        if r.failure:
            lines.append(f"**Failed:** {r.failure}")
            lines.append("")
        lines += ["| sim s | wall s | | event |", "|---|---|---|---|"]
        for e in r.events:
            lines.append(f"| {e.sim_time:.2f} | {e.wall_s:.1f} | {e.kind} | {e.text} |")
        if (out_dir / r.name / "bag" / "metadata.yaml").is_file():
            lines += ["", f"Recording: `{r.name}/bag` (`carebot bag info {r.name}/bag`; replay with "
                          "`carebot bag play --clock`, docs/bag.md)."]
        figure = path_figure(r, out_dir / r.name / "path.png")
        if figure:
            lines += ["", f"![path of the robot]({r.name}/{figure.name})"]
        for frame in r.frames:
            lines.append(f"![{frame}]({r.name}/{frame})")
    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = [{"name": r.name, "status": r.status, "failure": r.failure, "skipped": r.skipped, "sim_s": r.sim_s,
                "wall_s": r.wall_s, "metrics": {m.name: m.value for m in r.metrics}} for r in results]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return report
