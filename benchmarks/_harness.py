"""Shared plumbing of the benchmark scripts: fresh-process measurements, markdown.

Every measurement runs in a fresh interpreter, so each tool starts from the same
state: no compiled code, no warm allocator, no pages already faulted in, and a peak
memory figure that belongs to that measurement alone. A script registers its child
functions in a dict and hands it to ``child_main``; the parent calls ``run_child``.

    CHILDREN = {"pandas": pandas_child, ...}

    if __name__ == "__main__":
        if not child_main(CHILDREN):
            main()

A child returns a JSON-able dict; ``measure`` times a call and reads its peak memory.
"""

import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

CHILD_FLAG = "--child"
# the result line of a child; anything else it prints (warnings, library chatter)
# is passed through untouched
RESULT_PREFIX = "@@bench-result@@ "


# Child side
# --------------------------------------------------------------------------------------


def child_main(children, argv=None):
    """Run the child named on the command line, if any; return whether one ran.

    The command line is ``script --child NAME JSON_KWARGS``.
    """
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != CHILD_FLAG:
        return False
    name, kwargs = argv[1], json.loads(argv[2])
    result = children[name](**kwargs)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return True


def _proc_status(field):
    """A ``kB`` field of ``/proc/self/status`` in bytes, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss():
    """Peak resident memory of this process's address space so far, in bytes.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` also keeps the peak of the address
    space the process had before ``exec``, and ``subprocess`` forks by ``vfork``,
    which lends the child the parent's: a parent holding the benchmark's input
    lifts every child's ``ru_maxrss`` to its own peak, hiding the child's.
    """
    hwm = _proc_status("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss():
    """Reset the peak to the current resident size, where the kernel allows it.

    Writing 5 to ``/proc/self/clear_refs`` (Linux >= 4.0) resets the high-water
    mark ``VmHWM``, so the transient allocations of building the
    input do not hide in the baseline. Returns False where that is not possible;
    the baseline is then the peak so far, which can only understate the delta.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def steal_seconds():
    """CPU time the hypervisor has taken from this machine's CPUs so far, or None.

    The ``steal`` column of ``/proc/stat``: time a virtual CPU was ready to run but
    the host ran something else. Machine-wide, summed over CPUs, in ticks of
    ``SC_CLK_TCK`` (10 ms here).
    """
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def measure(func, *args, **kwargs):
    """Call ``func`` once and return ``(result, figures)``.

    ``figures`` holds wall and CPU seconds of the call (CPU time adds up every
    thread of the process; split into user and system time, the latter mostly page
    faults on fresh memory, which vary most on a shared machine), the hypervisor's
    steal during it (``steal_seconds``, machine-wide; None where unknown), the
    resident memory just before it (``rss_base``), the peak during it
    (``rss_peak``) and their difference ``peak_delta``, in bytes.
    """
    gc.collect()
    exact = reset_peak_rss()
    base = peak_rss()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    steal0 = steal_seconds()
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = time.perf_counter() - t0
    steal = steal_seconds()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = peak_rss()
    user = usage.ru_utime - usage0.ru_utime
    system = usage.ru_stime - usage0.ru_stime
    figures = {
        "seconds": seconds,
        "cpu_seconds": user + system,
        "user_seconds": user,
        "sys_seconds": system,
        "minor_faults": usage.ru_minflt - usage0.ru_minflt,
        "steal_seconds": None if steal is None else steal - steal0,
        "rss_base": base,
        "rss_peak": peak,
        "peak_delta": peak - base,
        "exact_baseline": exact,
    }
    return result, figures


# Parent side
# --------------------------------------------------------------------------------------


def run_child(script, name, kwargs=None, *, env=None, timeout=None):
    """Run child ``name`` of ``script`` in a fresh interpreter and return its dict.

    ``env`` entries are added to (or, with value None, removed from) the parent's
    environment. A failing child raises ``RuntimeError`` with the end of its stderr.
    """
    child_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = str(value)
    cmd = [sys.executable, str(script), CHILD_FLAG, name, json.dumps(kwargs or {})]
    proc = subprocess.run(
        cmd, env=child_env, capture_output=True, text=True, timeout=timeout
    )
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)
    ]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark child {name!r} failed (exit code {proc.returncode}):\n"
            + proc.stderr[-3000:]
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def run_child_undisturbed(
    script, name, kwargs=None, *, env=None, timeout=None, max_share=0.05, tries=4
):
    """``run_child`` again while the hypervisor stole from the timed call.

    A run counts as disturbed when the steal during it (``measure``'s
    ``steal_seconds``, summed over the machine's CPUs) exceeds ``max_share`` of
    the CPU time the machine had in that wall time. Such a run measures the host's
    other tenants, not the code: it is redone, up to ``tries`` runs in all, and
    the last run is kept even if disturbed. The same rule applies to every tool.
    The returned dict is that run's, with ``redone``: the wall seconds and steal of
    the runs it replaces, so a report can show what the rule removed.
    """
    cpus = os.cpu_count() or 1
    redone = []
    for attempt in range(tries):
        figures = run_child(script, name, kwargs, env=env, timeout=timeout)
        steal = figures.get("steal_seconds")
        disturbed = steal is not None and steal > max_share * cpus * figures["seconds"]
        if not disturbed or attempt == tries - 1:
            break
        redone.append({"seconds": figures["seconds"], "steal_seconds": steal})
    figures["redone"] = redone
    return figures


def repeat_child(script, name, kwargs=None, *, repeats, env=None, timeout=None):
    """``run_child`` ``repeats`` times, each in its own process; a list of dicts."""
    return [
        run_child(script, name, kwargs, env=env, timeout=timeout)
        for _ in range(repeats)
    ]


def summarise(runs, key="seconds"):
    """Median, min and max of ``key`` over runs."""
    values = [run[key] for run in runs]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


# Reporting
# --------------------------------------------------------------------------------------


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_revision(repo):
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def load_average():
    """The 1-minute load average, or None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def source_digest(paths):
    """A short hash of the files at ``paths`` (directories: their ``*.py``, recursively).

    Compare it before and after a run to catch code that changed under the
    benchmark: each child imports afresh, so a change mid-run mixes versions.
    """
    import hashlib

    digest = hashlib.sha256()
    for root in map(Path, paths):
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_facts(packages, repo=None, loads=None):
    """Markdown bullet list: CPU, cores, memory, load, Python and package versions.

    ``loads`` maps a moment ("start", "end") to a 1-minute load average.
    """
    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    loads = loads or {"now": load_average()}
    load = ", ".join(
        f"{when} {value:.1f}" for when, value in loads.items() if value is not None
    )
    lines = [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), "
        f"{_memory_total()} RAM; 1-minute load average: {load}",
        f"- {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}",
        "- " + ", ".join(versions),
    ]
    if repo is not None:
        lines.append(f"- revision: `{_git_revision(repo)}`")
    return "\n".join(lines)


def markdown_table(header, rows, align=None):
    """A GitHub markdown table; ``align`` is a string of 'l'/'r' per column."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(path, name, text, title="# Benchmarks"):
    """Put ``text`` between ``<!-- name:start -->`` and ``<!-- name:end -->``.

    Other sections of the file are left as they are; a missing section is appended,
    a missing file is created with ``title``.
    """
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    if path.exists():
        doc = path.read_text()
        if start in doc and end in doc:
            head, rest = doc.split(start, 1)
            _, tail = rest.split(end, 1)
            doc = head + block + tail
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = f"{title}\n\n{block}\n"
    path.write_text(doc)
