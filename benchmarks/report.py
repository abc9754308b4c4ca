"""The ingest benchmark's report: medians per case, as JSON or as a table."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

MiB = 1 << 20


def summarize(args: Any, cases: list, runs: dict, downloads: list[float]) -> dict:
    """The medians per case, with every run, as the JSON report."""
    median = statistics.median
    summary = []
    for case in cases:
        case_runs = runs[case.name]
        worst = max(case_runs, key=lambda run: run.peak_rss_mib - run.idle_rss_mib)
        ratio = median(run.ratio for run in case_runs)
        summary.append({
            "case": case.name, "encoding": case.encoding, "chunk_size": case.chunk_size,
            "ours_mbps": median(run.ours_mbps for run in case_runs),
            "floor_mbps": median(run.floor_mbps for run in case_runs),
            "cache_floor_mbps": _median_of(case_runs, "cache_floor_mbps"),
            "django_floor_mbps": _median_of(case_runs, "django_floor_mbps"),
            "django_floor_ratio": _median_of(case_runs, "django_floor_ratio"),
            "django_floor_cpu_s_per_gib": _median_of(case_runs, "django_floor_cpu_s_per_gib"),
            "app_cpu_ms_per_chunk": _median_of(case_runs, "app_cpu_ms_per_chunk"),
            "bound_mbps": _median_of(case_runs, "bound_mbps"),
            "bound_ratio": _median_of(case_runs, "bound_ratio"),
            "bound_django_ratio": _median_of(case_runs, "bound_django_ratio"),
            "bound_cpu_ms_per_chunk": _median_of(case_runs, "bound_cpu_ms_per_chunk"),
            "guarded_mbps": _median_of(case_runs, "guarded_mbps"),
            "guarded_ratio": _median_of(case_runs, "guarded_ratio"),
            "guarded_django_ratio": _median_of(case_runs, "guarded_django_ratio"),
            "guarded_cpu_ms_per_chunk": _median_of(case_runs, "guarded_cpu_ms_per_chunk"),
            "tus_mbps": _median_of(case_runs, "tus_mbps"),
            "tus_ratio": _median_of(case_runs, "tus_ratio"),
            "tus_cpu_s_per_gib": _median_of(case_runs, "tus_cpu_s_per_gib"),
            "ratio": ratio, "target": case.target,
            "meets_target": None if case.target is None else ratio >= case.target,
            "idle_rss_mib": worst.idle_rss_mib, "peak_rss_mib": worst.peak_rss_mib,
            "rss_growth_mib": worst.peak_rss_mib - worst.idle_rss_mib,
            "cpu_s_per_gib": median(run.cpu_s_per_gib for run in case_runs),
            "floor_cpu_s_per_gib": median(run.floor_cpu_s_per_gib for run in case_runs),
            "finalize_ms": median(run.finalize_ms for run in case_runs),
            "finalize_ms_max": max(run.finalize_ms for run in case_runs),
            "runs": [asdict(run) for run in case_runs],
        })
    return {
        "command": " ".join([f"{Path(sys.executable).name} -m benchmarks.ingest",
                             *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "kernel": platform.release(),
                    "python": platform.python_version()},
        "size": args.size, "workers": args.workers, "repeat": args.repeat,
        "database": "postgresql" if args.database_url else "sqlite",
        "mb": "10^6 bytes", "cases": summary,
        "download": {"chunk_size": args.download_chunk, "mbps_runs": downloads,
                     "mbps": median(downloads) if downloads else None},
    }


def _median_of(runs: list, name: str) -> float | None:
    """The median of an optional figure (a reference server that was not run: None)."""
    values = [getattr(run, name) for run in runs]
    return None if values[0] is None else statistics.median(values)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor()


def table(report: dict) -> str:
    """The report as a table for the terminal."""
    lines = [
        f"{report['size'] / MiB:.0f} MiB per upload, {report['workers']} sync workers, "
        f"{report['database']}, medians of {report['repeat']}; {report['machine']['cpus']} x "
        f"{report['machine']['cpu']}; MB = 10^6 bytes",
        f"{'case':<17} {'ours MB/s':>9} {'floor MB/s':>10} {'ratio':>6} {'target':>7} "
        f"{'RSS idle -> peak MiB':>21} {'CPU s/GiB':>9} {'floor CPU':>9} {'finalize ms':>11}",
    ]
    for row in report["cases"]:
        target = "-" if row["target"] is None else (
            f"{row['target']:.2f}" + (" ok" if row["meets_target"] else " NO"))
        lines.append(
            f"{row['case']:<17} {row['ours_mbps']:>9.0f} {row['floor_mbps']:>10.0f} "
            f"{row['ratio']:>6.2f} {target:>7} "
            f"{row['idle_rss_mib']:>8.1f} -> {row['peak_rss_mib']:5.1f} "
            f"(+{row['rss_growth_mib']:.1f}) {row['cpu_s_per_gib']:>9.2f} "
            f"{row['floor_cpu_s_per_gib']:>9.2f} "
            f"{row['finalize_ms']:>6.1f} (max {row['finalize_ms_max']:.0f})"
            + ("" if row["cache_floor_mbps"] is None else
               f"  [floor without fsync: {row['cache_floor_mbps']:.0f} MB/s]")
            + ("" if row["django_floor_mbps"] is None else
               f"  [floor behind Django: {row['django_floor_mbps']:.0f} MB/s, "
               f"ratio {row['django_floor_ratio']:.2f}, ours / it "
               f"{row['django_floor_ratio'] and row['ratio'] / row['django_floor_ratio']:.2f}, "
               f"CPU {row['django_floor_cpu_s_per_gib']:.2f} s/GiB; app CPU beyond it "
               f"{row['app_cpu_ms_per_chunk']:.2f} ms/chunk]")
            + ("" if row["bound_mbps"] is None else
               f"  [bound: {row['bound_mbps']:.0f} MB/s, ours / it {row['bound_ratio']:.2f}, "
               f"it / floor behind Django {row['bound_django_ratio']:.2f}, its CPU beyond "
               f"that floor {row['bound_cpu_ms_per_chunk']:.2f} ms/chunk]")
            + ("" if row["guarded_mbps"] is None else
               f"  [guarded bound: {row['guarded_mbps']:.0f} MB/s, ours / it "
               f"{row['guarded_ratio']:.2f}, it / floor behind Django "
               f"{row['guarded_django_ratio']:.2f}, its CPU beyond that floor "
               f"{row['guarded_cpu_ms_per_chunk']:.2f} ms/chunk]")
            + ("" if row["tus_mbps"] is None else
               f"  [@tus/server: {row['tus_mbps']:.0f} MB/s, {row['tus_cpu_s_per_gib']:.2f} CPU "
               f"s/GiB; ours / tus {row['tus_ratio']:.2f}]")
        )
    download = report["download"]
    if download["mbps"] is not None:
        lines.append(f"download through DownloadFileChunk ({download['chunk_size'] // MiB} MiB "
                     f"chunks): {download['mbps']:.0f} MB/s")
    return "\n".join(lines)
