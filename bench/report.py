"""Tables and plots from ``results.json``: one markdown file per workload,
``summary.md`` with all of them, and PNG plots (matplotlib)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from common import fmt_seconds
from registry import LIBRARIES, base_key, baseline, revision

TITLES = {
    "w1": "W1: append one message per call",
    "w2": "W2: append one turn (4 items) per call",
    "w3": "W3: load a full thread",
    "w4": "W4: newest 20 messages and a 4,000-token context window",
    "w5": "W5: list one user's threads among many",
    "w6": "W6: bulk import in one call",
    "w7": "W7: append one message into a long thread",
    "memory": "Peak memory: loading the largest thread",
    "concurrency": "Concurrent writers on PostgreSQL",
}


def med(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def order(libs: list[str]) -> list[str]:
    keys = list(LIBRARIES)

    def rank(k: str) -> tuple[int, int]:
        base = base_key(k)
        return (keys.index(base) if base in keys else 99, revision(k) is not None)

    return sorted(libs, key=rank)


class Report:
    def __init__(self, results: dict[str, Any]) -> None:
        self.r = results
        self.libs = results.get("libraries", {})
        self.runs = results.get("runs", {})
        self.skipped = results.get("skipped", {})
        self.unavailable = results.get("unavailable", {})

    def label(self, lib: str) -> str:
        return str(self.libs.get(lib, {}).get("label", lib))

    def ok_runs(self, workload: str, lib: str) -> list[dict[str, Any]]:
        return [r for r in self.runs.get(workload, {}).get(lib, []) if "error" not in r]

    # --- medians ------------------------------------------------------------------

    @staticmethod
    def _median(times: Any) -> float:
        if isinstance(times, dict):  # long runs are stored as a summary
            return float(times["median"])
        return statistics.median(times)

    @staticmethod
    def _total(times: Any) -> float:
        return float(times["total"]) if isinstance(times, dict) else sum(times)

    def per_call(self, workload: str, lib: str) -> float | None:
        """Median over runs of each run's median call time."""
        return med(
            [self._median(r["times"]) for r in self.ok_runs(workload, lib) if r.get("times")]
        )

    def rate(self, workload: str, lib: str) -> float | None:
        """Median over runs of messages per second (messages / total time)."""
        vals = []
        for r in self.ok_runs(workload, lib):
            if r.get("times") and r.get("messages"):
                vals.append(r["messages"] / self._total(r["times"]))
        return med(vals)

    def sized(self, lib: str, n: int, op: str) -> float | None:
        vals = []
        for r in self.ok_runs("sized", lib):
            times = r.get("sizes", {}).get(str(n), {}).get(op)
            if times:
                vals.append(statistics.median(times))
        return med(vals)

    def memory(self, lib: str) -> tuple[float | None, int | None]:
        runs = self.ok_runs("memory", lib)
        if not runs:
            return None, None
        return med([r["peak_delta_kib"] / 1024 for r in runs]), runs[0]["count"]

    def concurrency(self, lib: str, writers: int, op: str) -> float | None:
        return med(
            [r[op]["ops_per_s"] for r in self.ok_runs(f"concurrency-{writers}", lib) if r.get(op)]
        )

    # --- cells --------------------------------------------------------------------

    def why(self, workload: str, lib: str) -> str:
        for key in (workload, "build"):
            if lib in self.skipped.get(key, {}):
                return str(self.skipped[key][lib])
        if lib in self.unavailable:
            return f"unavailable: {self.unavailable[lib]}"
        return "not run"

    def cell(
        self,
        value: float | None,
        base: float | None,
        *,
        is_raw: bool,
        fmt: Any = fmt_seconds,
        higher_better: bool = False,
    ) -> str:
        if value is None:
            return "n/a"
        text = fmt(value)
        if base and not is_raw:
            ratio = base / value if higher_better else value / base
            text += f" ({ratio:.1f}x)"
        return text

    def table(self, header: list[str], rows: list[list[str]]) -> list[str]:
        out = [
            "| " + " | ".join(header) + " |",
            "|"
            + "|".join("---" if h in ("library", "durability") else "---:" for h in header)
            + "|",
        ]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        return out

    def footnotes(self, workloads: list[str], libs: list[str]) -> list[str]:
        notes = []
        seen = set()
        for lib in libs:
            for w in workloads:
                reason = None
                if lib in self.skipped.get(w, {}):
                    reason = self.skipped[w][lib]
                if reason and (lib, reason) not in seen:
                    seen.add((lib, reason))
                    notes.append(f"- {self.label(lib)} ({w}): {reason}")
        return ["", "Not measured:", *notes] if notes else []

    def how_notes(self, ops: list[str], libs: list[str]) -> list[str]:
        notes = []
        for lib in libs:
            for op in ops:
                n = self.libs.get(lib, {}).get("notes", {}).get(op)
                if n and lib not in self.skipped.get(op, {}):
                    notes.append(f"- {self.label(lib)} `{op}`: {n}")
        return ["", "How each library does it:", *notes] if notes else []

    def measured_libs(self, *workloads: str) -> list[str]:
        libs = set()
        for w in workloads:
            libs |= set(self.runs.get(w, {}))
            libs |= set(self.skipped.get(w, {}))
        return order(list(libs))

    # --- sections -----------------------------------------------------------------

    def section_appends(self, w: str) -> list[str]:
        libs = self.measured_libs(w)
        rows = []
        for lib in libs:
            base = baseline(lib)
            is_raw = lib == base
            rows.append(
                [
                    self.label(lib),
                    self.libs[lib]["durability"],
                    self.cell(self.per_call(w, lib), self.per_call(w, base), is_raw=is_raw),
                    self.cell(
                        self.rate(w, lib),
                        self.rate(w, base),
                        is_raw=is_raw,
                        fmt=lambda v: f"{v:,.0f}",
                        higher_better=True,
                    ),
                ]
            )
        cfg = self.r.get("config", {})
        n = cfg.get(w, 0)
        lines = [
            f"## {TITLES[w]}",
            "",
            f"{n:,} calls on a new thread; median per-call latency and messages/s, "
            "median of the repetitions; (Nx) = time relative to the raw limit at the "
            "same durability.",
            "",
        ]
        lines += self.table(["library", "durability", "per call", "messages/s"], rows)
        return lines + self.how_notes(["append"], libs) + self.footnotes([w, "append"], libs)

    def section_bulk(self) -> list[str]:
        libs = self.measured_libs("w6")
        rows = []
        n = self.r.get("config", {}).get("w6", 0)
        for lib in libs:
            base = baseline(lib)
            rows.append(
                [
                    self.label(lib),
                    self.cell(
                        self.per_call("w6", lib), self.per_call("w6", base), is_raw=lib == base
                    ),
                ]
            )
        lines = [
            f"## {TITLES['w6']}",
            "",
            f"A new thread of {n:,} messages in one call (three per run); median.",
            "",
        ]
        lines += self.table(["library", f"import {n:,} messages"], rows)
        return (
            lines
            + self.how_notes(["bulk_import"], libs)
            + self.footnotes(["w6", "bulk_import"], libs)
        )

    def section_sized(self, title_key: str, op: str, label: str) -> list[str]:
        sizes = self.r.get("config", {}).get("sizes", [])
        libs = self.measured_libs("sized")
        libs += [x for x in self.skipped.get(op, {}) if x not in libs]
        libs = order(libs)
        rows = []
        for lib in libs:
            base = baseline(lib)
            cells = []
            for n in sizes:
                v = self.sized(lib, n, op)
                cells.append(self.cell(v, self.sized(base, n, op), is_raw=lib == base))
            rows.append([self.label(lib), *cells])
        lines = [f"### {label}", ""]
        lines += self.table(["library", *[f"{n:,} msgs" for n in sizes]], rows)
        return lines + self.how_notes([op], libs) + self.footnotes([op, "build", "sized"], libs)

    def section_list(self) -> list[str]:
        libs = self.measured_libs("w5")
        libs += [x for x in self.skipped.get("list_threads", {}) if x not in libs]
        libs = order(libs)
        rows = []
        for lib in libs:
            base = baseline(lib)
            rows.append(
                [
                    self.label(lib),
                    self.cell(
                        self.per_call("w5", lib), self.per_call("w5", base), is_raw=lib == base
                    ),
                ]
            )
        n = self.r.get("config", {}).get("threads", 0)
        lines = [
            f"## {TITLES['w5']}",
            "",
            f"{n:,} threads, 100 per user; one user's "
            "threads, newest first, limit 100; median call.",
            "",
        ]
        lines += self.table(["library", "list one user's threads"], rows)
        return (
            lines
            + self.how_notes(["list_threads"], libs)
            + self.footnotes(["w5", "list_threads"], libs)
        )

    def section_memory(self) -> list[str]:
        libs = self.measured_libs("memory")
        rows = []
        for lib in libs:
            mib, count = self.memory(lib)
            base_mib, _ = self.memory(baseline(lib))
            cell = "n/a" if mib is None else f"{mib:,.0f} MiB"
            if mib is not None and base_mib and lib != baseline(lib):
                cell += f" ({mib / base_mib:.1f}x)"
            rows.append([self.label(lib), f"{count:,}" if count else "n/a", cell])
        lines = [
            f"## {TITLES['memory']}",
            "",
            "Growth of the worker's peak resident memory "
            "while loading the largest thread it could build (peak counter reset just "
            "before the call); median of the repetitions.",
            "",
        ]
        lines += self.table(["library", "messages loaded", "peak RSS growth"], rows)
        return lines + self.footnotes(["memory", "build"], libs)

    def section_concurrency(self) -> list[str]:
        writers = self.r.get("config", {}).get("writers", [])
        keys = [f"concurrency-{w}" for w in writers]
        libs = self.measured_libs(*keys)
        if not libs:
            return []
        secs = self.r.get("config", {}).get("cc_seconds")
        lines = [
            f"## {TITLES['concurrency']}",
            "",
            f"N writer processes, each on its own thread, append one message per call "
            f"for {secs} s, then read `recent(20)` for {secs} s; total operations per "
            "second, median of the repetitions.",
            "",
        ]
        header = [
            "library",
            *[f"append, {w} writer(s)" for w in writers],
            *[f"recent(20), {w} writer(s)" for w in writers],
        ]
        rows = []
        for lib in libs:
            base = baseline(lib)
            cells = []
            for op in ("append", "recent"):
                for w in writers:
                    cells.append(
                        self.cell(
                            self.concurrency(lib, w, op),
                            self.concurrency(base, w, op),
                            is_raw=lib == base,
                            fmt=lambda v: f"{v:,.0f}/s",
                            higher_better=True,
                        )
                    )
            rows.append([self.label(lib), *cells])
        return lines + self.table(header, rows) + self.footnotes(keys, libs)

    def header(self) -> list[str]:
        m = self.r.get("machine", {})
        quick = " (quick mode: small sizes, development only)" if self.r.get("quick") else ""
        lines = [
            f"# convostore side-by-side benchmark{quick}",
            "",
            f"Machine: {m.get('cpu', m.get('machine'))}, {m.get('cpus')} CPUs, "
            f"{m.get('memory_gib')} GiB; {m.get('platform')}; Python {m.get('python')}; "
            f"SQLite {m.get('sqlite')}; load average at start "
            f"{m.get('loadavg_at_start')}; convostore commit "
            f"{m.get('convostore_commit', '?')}; {m.get('time')}.",
            "",
        ]
        pg = self.r.get("postgres")
        if pg:
            lines += [
                f"PostgreSQL {pg.get('server_version')} on the same machine, "
                f"synchronous_commit={pg.get('synchronous_commit')}.",
                "",
            ]
        lines += [
            f"Medians of {self.r.get('reps')} repetitions, interleaved across "
            "libraries, each in a fresh process. (Nx) after a number: time relative to "
            "the raw limit of the same backend and durability (stdlib sqlite3 at "
            "NORMAL or FULL, psycopg 3); lower is better.",
            "",
        ]
        rows = []
        for lib in order(list(self.libs)):
            info = self.libs[lib]
            pk = ", ".join(f"{k} {v}" for k, v in info.get("packages", {}).items()) or "stdlib"
            status = (
                "ok" if lib not in self.unavailable else f"unavailable: {self.unavailable[lib]}"
            )
            rows.append(
                [
                    info["label"],
                    info["backend"],
                    info["durability"],
                    pk,
                    self.label(baseline(lib)),
                    status,
                ]
            )
        lines += ["## Libraries", ""]
        lines += [
            "| library | backend | durability | versions | compared with | status |",
            "|---|---|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        install = self.r.get("install", {}).get("peers", {})
        failed = {k: v for k, v in install.items() if not v.get("ok")}
        if failed:
            lines += [
                "",
                "Failed to install: "
                + "; ".join(f"{k}: {v.get('error')}" for k, v in failed.items()),
            ]
        return lines

    def sections(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if "w1" in self.runs or "w1" in self.skipped:
            out["w1"] = self.section_appends("w1")
        if "w2" in self.runs or "w2" in self.skipped:
            out["w2"] = self.section_appends("w2")
        if "sized" in self.runs:
            out["w3"] = [
                f"## {TITLES['w3']}",
                "",
                "Every message of the thread, oldest first; median call.",
                "",
                *self.section_sized("w3", "load", "load"),
            ]
            out["w4"] = [
                f"## {TITLES['w4']}",
                "",
                *self.section_sized("w4", "recent", "recent(20)"),
                "",
                *self.section_sized("w4", "context", "context window, 4,000 tokens"),
            ]
            out["w7"] = [
                f"## {TITLES['w7']}",
                "",
                "One message appended into a thread already holding N messages; median call.",
                "",
                *self.section_sized("w7", "append", "append one message"),
            ]
        if "w5" in self.runs or "w5" in self.skipped:
            out["w5"] = self.section_list()
        if "w6" in self.runs or "w6" in self.skipped:
            out["w6"] = self.section_bulk()
        if "memory" in self.runs:
            out["memory"] = self.section_memory()
        cc = self.section_concurrency()
        if cc:
            out["concurrency"] = cc
        return out


def plots(rep: Report, out_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    sizes = rep.r.get("config", {}).get("sizes", [])
    libs = rep.measured_libs("sized")
    if libs and sizes:
        fig, axes = plt.subplots(2, 2, figsize=(14, 10))
        for ax, (op, title) in zip(
            axes.flat,
            [
                ("load", "W3 load full thread"),
                ("recent", "W4 recent(20)"),
                ("context", "W4 context window (4,000 tokens)"),
                ("append", "W7 append one message"),
            ],
            strict=True,
        ):
            ax.set_prop_cycle(color=plt.cm.tab20.colors)
            for lib in libs:
                xs, ys = [], []
                for n in sizes:
                    v = rep.sized(lib, n, op)
                    if v is not None:
                        xs.append(n)
                        ys.append(v * 1000)
                if xs:
                    style = (
                        "-o"
                        if lib.startswith("convostore")
                        else ("--s" if rep.libs[lib].get("raw") else ":.")
                    )
                    ax.plot(xs, ys, style, label=rep.label(lib), linewidth=1.5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(title)
            ax.set_xlabel("messages in thread")
            ax.set_ylabel("median latency (ms)")
            ax.grid(True, which="both", alpha=0.3)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
        fig.tight_layout(rect=(0, 0.13, 1, 1))
        fig.savefig(out_dir / "latency_vs_length.png", dpi=60)
        plt.close(fig)
        made.append("latency_vs_length.png")
    tl = rep.measured_libs("w1", "w2")
    if tl:
        fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(tl) + 2))
        for ax, w in zip(axes, ("w1", "w2"), strict=True):
            names = [rep.label(x) for x in tl]
            vals = [rep.rate(w, x) or 0 for x in tl]
            colors = [
                "tab:blue"
                if x.startswith("convostore")
                else "tab:gray"
                if rep.libs[x].get("raw")
                else "tab:orange"
                for x in tl
            ]
            ax.barh(names, vals, color=colors)
            ax.set_xscale("log")
            ax.invert_yaxis()
            ax.set_title(TITLES[w] + " (messages/s)")
            ax.grid(True, axis="x", which="both", alpha=0.3)
        axes[1].set_yticklabels([])
        fig.tight_layout()
        fig.savefig(out_dir / "throughput.png", dpi=60)
        plt.close(fig)
        made.append("throughput.png")
    writers = rep.r.get("config", {}).get("writers", [])
    cl = rep.measured_libs(*[f"concurrency-{w}" for w in writers])
    if cl:
        fig, axes = plt.subplots(1, 2, figsize=(12, 5))
        for ax, op in zip(axes, ("append", "recent"), strict=True):
            for lib in cl:
                pts = [(w, rep.concurrency(lib, w, op)) for w in writers]
                pts = [(w, v) for w, v in pts if v]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", label=rep.label(lib))
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(writers, [str(w) for w in writers])
            ax.set_title(f"PostgreSQL, {op}: total operations/s")
            ax.set_xlabel("concurrent writer processes")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "concurrency.png", dpi=60)
        plt.close(fig)
        made.append("concurrency.png")
    return made


def generate(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rep = Report(results)
    head = rep.header()
    sections = rep.sections()
    for name, lines in sections.items():
        (out_dir / f"{name}.md").write_text("\n".join([*lines, ""]))
    images = plots(rep, out_dir)
    body = [*head, ""]
    if images:
        body += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    for lines in sections.values():
        body += [*lines, ""]
    (out_dir / "summary.md").write_text("\n".join(body))
    (out_dir / "machine.md").write_text("\n".join([*head, ""]))


#: How much slower the new code may be than the old before a row is flagged.
REVISION_TOLERANCE = 1.05


def revision_rows(rep: Report) -> list[tuple[str, str, float | None, float | None]]:
    """(workload, library, new median, old median) as seconds per call or per
    message, for every convostore library run from both revisions."""
    rows: list[tuple[str, str, float | None, float | None]] = []
    olds = [lib for lib in rep.libs if revision(lib) is not None]
    cfg = rep.r.get("config", {})
    for old in order(olds):
        new = base_key(old)

        for w in ("w1", "w2"):
            if w in rep.runs:
                rows.append((w.upper(), new, rep.per_call(w, new), rep.per_call(w, old)))
        if "w6" in rep.runs:  # one call imports the whole thread
            n = cfg.get("w6", 0)
            rows.append(
                (f"W6 import, {n:,} msgs", new, rep.per_call("w6", new), rep.per_call("w6", old))
            )
        for n in cfg.get("sizes", []) if "sized" in rep.runs else []:
            for w, op in (
                ("W3 load", "load"),
                ("W4 recent(20)", "recent"),
                ("W4 context", "context"),
            ):
                rows.append((f"{w}, {n:,} msgs", new, rep.sized(new, n, op), rep.sized(old, n, op)))
    return rows


def write_revisions(results: dict[str, Any], out_dir: Path) -> None:
    """``revisions.md``: the old revision against the new, side by side."""
    rep = Report(results)
    revs = results.get("revisions", {})
    lines = [
        f"# convostore {revs.get('new')} against {revs.get('old')}",
        "",
        "Run by `bench/run.py --old REV`: each convostore library once from the working "
        "tree and once from the old revision (a git worktree first on the worker's path), "
        f"interleaved in every one of {results.get('reps')} rounds, in fresh processes, "
        "in one run. Medians over the rounds of each round's median; new/old is the "
        f"time ratio (above {REVISION_TOLERANCE:.2f} is flagged: slower by more than 5%).",
        "",
        *rep.header(),
        "",
        "| workload | library | new | old | new/old |",
        "|---|---|---|---|---|",
    ]
    for w, lib, new, old in revision_rows(rep):
        if new is None or old is None:
            ratio = "n/a"
        else:
            r = new / old
            ratio = f"{r:.3f}" + (" **slower**" if r > REVISION_TOLERANCE else "")
        lines.append(
            f"| {w} | {rep.label(lib)} | {fmt_seconds(new)} | {fmt_seconds(old)} | {ratio} |"
        )
    (out_dir / "revisions.md").write_text("\n".join([*lines, ""]))
