#!/usr/bin/env python3
"""Fault injection for the cache invariant: SIGKILL `unmt run` at random moments.

ARCHITECTURE.md promises that a directory under `cache/objects/` is complete: SIGKILL leaves
only `partial/` attempts, which nothing reads as results. This script checks that promise, and
that a killed run can always be finished, with the same results as a run never interrupted:

1. An uninterrupted reference run in its own cache (or `--reference-cache DIR`), timed (T).
2. On a second, shared cache, N rounds: start the run (or K concurrent runs, `--concurrent K`)
   and SIGKILL it at a uniformly random moment in [0, T] (seeded). With K > 1 a round kills
   all runs at that moment, or a random subset, and the rest at a later moment in [moment, T].
   After every kill: `unmt verify --json` must find nothing, no `objects/<key>/` may lack its
   `record.json`, and nothing may have been moved to `quarantine/` (what a run does with an
   object it cannot read). A run that exits on its own before its kill must exit 0.
3. A rerun without kills must exit 0; `verify` again.
   A round whose run finishes before its kill moment tests nothing more on that cache;
   `--restart-when-complete` empties the shared cache then, so every round kills a run.
4. Every node's output hashes (the key each cache's `unmt plan --json` gives for the node name,
   its `objects/<key>/record.json`) are compared with the reference's, per node and output.

Exit 0 only if nothing was corrupt, every run that ended on its own succeeded, and no output
differs (outputs named by `--allow-mismatch NAME` or `NODE.NAME` are reported but tolerated).
Not part of CI: it runs the recipe many times (the quickstart is ~2-3 minutes a run).

    cargo build --release
    python3 tests/fault_injection.py --kills 20 --seed 1
    python3 tests/fault_injection.py --concurrent 2 --kills 4 --reference-cache /tmp/ref \\
        --allow-mismatch history
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def unmt(args, *rest):
    return ["nice", "-n", "10", args.unmt, *rest]


def say(*parts):
    print(*parts, flush=True)


def tail(path, lines=15):
    text = Path(path).read_text(errors="replace").splitlines()
    return "\n".join("      | " + line for line in text[-lines:])


def run_to_end(args, cache, log):
    """One uninterrupted `unmt run`; returns (exit code, seconds, stderr path)."""
    start = time.monotonic()
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        rc = subprocess.call(unmt(args, "run", args.recipe, "--cache", str(cache)),
                             stdout=out, stderr=err)
    return rc, time.monotonic() - start, f"{log}.err"


def verify(args, cache):
    """`unmt verify --json`: its object, or one made-up finding if it could not be read."""
    p = subprocess.run(unmt(args, "verify", "--cache", str(cache), "--json"),
                       capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {"checked": 0, "busy": [], "findings": [
            {"node": "?", "problem": f"verify exited {p.returncode}: {p.stderr.strip()[-300:]}"}]}


def entries(cache, sub):
    d = Path(cache) / sub
    return sorted(e.name for e in d.iterdir()) if d.is_dir() else []


def without_record(cache):
    return [k for k in entries(cache, "objects")
            if not (Path(cache) / "objects" / k / "record.json").is_file()]


def plan(args, cache):
    """node name -> (action, key) as `unmt plan --json` sees the cache."""
    p = subprocess.run(unmt(args, "plan", args.recipe, "--cache", str(cache), "--json"),
                       capture_output=True, text=True, check=True)
    return {n["node"]: (n["action"], n.get("key")) for n in json.loads(p.stdout)}


def record(cache, key):
    return json.loads((Path(cache) / "objects" / key / "record.json").read_text())


def span_seconds(cache):
    """The wall time of the run that filled a cache, from its records (first start to last end)."""
    recs = [record(cache, k) for k in entries(cache, "objects")]
    return max(r["started_unix"] + r["seconds"] for r in recs) - min(r["started_unix"] for r in recs)


def compare(args, ref, got):
    """[(node, output, what differs)] between the reference and the shared cache."""
    ref_plan, got_plan = plan(args, ref), plan(args, got)
    rows = []
    for node, (action, key) in ref_plan.items():
        g_action, g_key = got_plan.get(node, ("absent", None))
        if action != "reuse":
            rows.append((node, "*", f"not cached in the reference ({action})"))
            continue
        if g_action != "reuse":
            rows.append((node, "*", f"not cached after the rerun ({g_action})"))
            continue
        r_out, g_out = record(ref, key)["outputs"], record(got, g_key)["outputs"]
        same_key = "same key" if key == g_key else f"key {key[:12]} vs {g_key[:12]}"
        for name in sorted(set(r_out) | set(g_out)):
            r, g = r_out.get(name), g_out.get(name)
            if r is None or g is None:
                rows.append((node, name, "only in " + ("the rerun" if r is None else "the reference")))
            elif (r["kind"], r["hash"]) != (g["kind"], g["hash"]):
                rows.append((node, name, f"{r['kind']} {r['hash'][:12]} ({r['bytes']} B) vs "
                             f"{g['kind']} {g['hash'][:12]} ({g['bytes']} B), {same_key}"))
    return rows


def kill_round(args, cache, rng, T, rnd, logs):
    """One round: start K runs, kill them at random moments; a row per kill moment."""
    k = args.concurrent
    moment = rng.uniform(0, T)
    first = set(range(k))
    if k > 1 and rng.random() < 0.5:
        first = set(rng.sample(range(k), rng.randint(1, k - 1)))
    events = [(moment, sorted(first))]
    if first != set(range(k)):
        events.append((rng.uniform(moment, T), sorted(set(range(k)) - first)))
    procs, errs = [], []
    for i in range(k):
        log = logs / f"round{rnd:02}-run{i}"
        errs.append(f"{log}.err")
        procs.append(subprocess.Popen(unmt(args, "run", args.recipe, "--cache", str(cache)),
                                      stdout=open(f"{log}.out", "w"), stderr=open(errs[-1], "w"),
                                      start_new_session=True))
    start = time.monotonic()
    rows = []
    for at, victims in events:
        while time.monotonic() - start < at and any(procs[i].poll() is None for i in victims):
            time.sleep(0.02)
        fates = []
        for i in victims:
            if procs[i].poll() is None:
                os.killpg(procs[i].pid, signal.SIGKILL)  # nice exec'd unmt: its pid leads the group
                procs[i].wait()
                fates.append("killed")
            else:
                fates.append(f"exit {procs[i].returncode}")
        v = verify(args, cache)
        rows.append({"round": rnd, "moment": at, "runs": victims, "fates": fates,
                     "errs": [errs[i] for i in victims], "objects": len(entries(cache, "objects")),
                     "partial": len(entries(cache, "partial")), "findings": v["findings"],
                     "busy": len(v.get("busy", [])), "no_record": without_record(cache),
                     "quarantine": len(entries(cache, "quarantine"))})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unmt", default="target/release/unmt")
    ap.add_argument("--recipe", default="recipes/quickstart.toml")
    ap.add_argument("--kills", type=int, default=20, help="rounds")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--work", type=Path, default=None, help="default: a fresh temporary directory")
    ap.add_argument("--concurrent", type=int, default=1, metavar="K")
    ap.add_argument("--reference-cache", type=Path, default=None,
                    help="an uninterrupted run's cache, reused instead of making one")
    ap.add_argument("--reference-seconds", type=float, default=None,
                    help="T with --reference-cache (default: estimated from its records)")
    ap.add_argument("--restart-when-complete", action="store_true",
                    help="empty the shared cache after a round whose run finished before its kill")
    ap.add_argument("--allow-mismatch", action="append", default=[], metavar="OUTPUT",
                    help="an output name (or NODE.OUTPUT) whose difference is tolerated")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="unmt-fi-"))
    logs, cache = work / "logs", work / "cache"
    if cache.exists():
        sys.exit(f"{cache} exists: pick a fresh --work")
    logs.mkdir(parents=True, exist_ok=True)
    say(f"work {work}  seed {args.seed}  kills {args.kills}  concurrent {args.concurrent}")

    if args.reference_cache:
        ref = args.reference_cache
        T = args.reference_seconds or span_seconds(ref)
        say(f"reference: {ref} (T = {T:.1f} s, {'given' if args.reference_seconds else 'from its records'})")
    else:
        ref = work / "ref-cache"
        rc, T, err = run_to_end(args, ref, logs / "reference")
        say(f"reference: {ref} (T = {T:.1f} s, exit {rc})")
        if rc != 0:
            sys.exit(f"the reference run failed:\n{tail(err)}")

    rows, restarts = [], []
    for rnd in range(1, args.kills + 1):
        fates = []
        for row in kill_round(args, cache, rng, T, rnd, logs):
            rows.append(row)
            fates += row["fates"]
            say(f"round {rnd:2}: at {row['moment']:6.1f} s runs {row['runs']} {row['fates']}: "
                f"{row['objects']} objects, {len(row['findings'])} findings")
        if args.restart_when_complete and "exit 0" in fates and rnd < args.kills:
            shutil.rmtree(cache)
            restarts.append(rnd)
            say(f"round {rnd:2}: the run completed; the shared cache is emptied")

    rc, secs, err = run_to_end(args, cache, logs / "final")
    say(f"final rerun: exit {rc} in {secs:.1f} s")
    final = verify(args, cache)
    mismatches = compare(args, ref, cache) if rc == 0 else []
    allowed = set(args.allow_mismatch)

    # The summary.
    say("\n== kills ==")
    say(f"{'round':>5} {'moment s':>8} {'runs':<7} {'fate':<18} {'objects':>7} {'partial':>7} "
        f"{'corrupt':>7} {'no-rec':>6} {'quarant':>7} {'busy':>4}")
    failed_runs, completed_runs = [], 0
    for r in rows:
        say(f"{r['round']:>5} {r['moment']:>8.1f} {','.join(map(str, r['runs'])):<7} "
            f"{' '.join(f.replace('killed', 'kill') for f in r['fates']):<18} {r['objects']:>7} "
            f"{r['partial']:>7} {len(r['findings']):>7} {len(r['no_record']):>6} "
            f"{r['quarantine']:>7} {r['busy']:>4}")
        for f, e in zip(r["fates"], r["errs"]):
            completed_runs += f == "exit 0"
            if f not in ("killed", "exit 0"):
                failed_runs.append((f"round {r['round']} ({f})", e))
    completed_runs += rc == 0
    if rc != 0:
        failed_runs.append((f"final rerun (exit {rc})", err))
    corrupt = [(r["round"], f) for r in rows for f in r["findings"]]
    corrupt += [("final", f) for f in final["findings"]]
    no_record = [(r["round"], k) for r in rows for k in r["no_record"]] + \
        [("final", k) for k in without_record(cache)]
    quarantined = entries(cache, "quarantine")
    quarantined_at = [r["round"] for r in rows if r["quarantine"]]
    killed = sum(f == "killed" for r in rows for f in r["fates"])
    bad = [m for m in mismatches if m[1] not in allowed and f"{m[0]}.{m[1]}" not in allowed]

    say("\n== summary ==")
    say(f"seed {args.seed}, T {T:.1f} s, {args.kills} rounds x {args.concurrent} run(s), "
        f"{killed} runs killed")
    if args.restart_when_complete:
        say(f"shared cache emptied after rounds: {restarts}")
    say("kill moments (s): " + " ".join(f"{r['moment']:.1f}" for r in rows))
    say("objects after each kill: " + " ".join(str(r["objects"]) for r in rows))
    say(f"corrupt objects (verify findings): {len(corrupt)}")
    for where, f in corrupt:
        say(f"  round {where}: {f.get('node')} {f.get('key', '')[:12]} {f['problem']} "
            f"{f.get('output', '')}")
    say(f"objects without record.json: {len(no_record)}  " +
        " ".join(f"{w}:{k[:12]}" for w, k in no_record))
    say(f"quarantined (moved aside by a run): {len(quarantined)} at the end, "
        f"non-empty after rounds {quarantined_at}  {' '.join(quarantined)}")
    say(f"final verify: {final.get('checked')} checked, {len(final['findings'])} findings")
    say(f"runs that completed (exit 0): {completed_runs} (the final rerun "
        f"{'included' if rc == 0 else 'FAILED'})")
    say(f"runs that failed: {len(failed_runs)}")
    for what, e in failed_runs:
        say(f"  {what}: {e}\n{tail(e)}")
    say(f"mismatching outputs vs the reference: {len(mismatches)} ({len(bad)} not allowed)")
    for node, out, what in mismatches:
        tag = "" if (node, out, what) in bad else " (allowed)"
        say(f"  {node} . {out}: {what}{tag}")
    ok = not (corrupt or no_record or quarantined or quarantined_at or failed_runs or bad)
    say(f"\nresult: {'PASS' if ok else 'FAIL'}  (logs in {logs})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
