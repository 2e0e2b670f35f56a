"""Run the attack suite against a real node process: `python -m tests.security.run [--all] [NAME ...]`.

Each attack is judged by what the node did meanwhile: still running, `chain_status` answered within a second on the
watcher's connection, blocks still committed, a member's attest admitted within 2 s (one a second during the attack
on the member's open connection, and one from a new client right after it), the attack's own checks passed. The
last line is `attacks=N survived=M max_status_s=S peak_rss_mb=R max_member_admit_s=A`; the exit code is 0 only if
every attack was survived and the peak memory stayed under the bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tests.security.attacks import ATTACKS, Attack
from tests.security.target import (
    MEMBER_ADMIT_BOUND_S,
    RSS_BOUND_MB,
    STATUS_BOUND_S,
    Target,
    Watch,
    peak_rss_mb,
    write_target,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the node fared under one attack."""

    name: str
    survived: bool
    max_status_s: float
    max_member_admit_s: float
    seconds: float
    detail: str


def judge(watch: Watch, alive: bool) -> str:
    """Why the node did not hold through the attack `watch` recorded, or "" when it did."""
    if not alive:
        return "the node exited"
    if watch.failures:
        return watch.failures[0]
    if watch.max_status_s > STATUS_BOUND_S:
        return f"chain_status took {watch.max_status_s:.2f} s"
    if watch.member_failures:
        return watch.member_failures[0]
    if watch.admissions == 0:
        return "no member's transaction was sent"
    if watch.max_member_admit_s > MEMBER_ADMIT_BOUND_S:
        return f"a member's transaction took {watch.max_member_admit_s:.2f} s to be admitted"
    if watch.first_height is None or watch.last_height is None or watch.last_height <= watch.first_height:
        return "no block was committed during the attack"
    return ""


def run_attack(target: Target, attack: Attack) -> Outcome:
    """Run one attack and judge the node."""
    watch = target.begin()
    started = time.monotonic()
    detail = ""
    try:
        attack.run(target)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    if target.alive:
        with suppress(Exception):  # recorded in the watch
            target.check_member_admission()
    # consensus kept going: a block past the one seen when the attack began (blocks come every 0.5 s at most)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and target.alive:
        if watch.first_height is not None and (watch.last_height or 0) > watch.first_height:
            break
        time.sleep(0.2)
    detail = detail or judge(watch, target.alive)
    seconds = time.monotonic() - started
    return Outcome(attack.name, not detail, watch.max_status_s, watch.max_member_admit_s, seconds, detail)


def select(names: list[str], include_heavy: bool) -> list[Attack]:
    """The attacks to run: the named ones, else all (heavy ones only with --all)."""
    if names:
        known = {a.name: a for a in ATTACKS}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown attack(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return [known[n] for n in names]
    return [a for a in ATTACKS if include_heavy or not a.heavy]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="include the heavy attacks")
    parser.add_argument("names", nargs="*", help="attacks to run (default: all)")
    args = parser.parse_args(argv)
    attacks = select(args.names, args.all)
    with tempfile.TemporaryDirectory(prefix="vaxchain-attack-") as tmp:
        target = Target(write_target(Path(tmp))).start()
        outcomes = []
        try:
            for attack in attacks:
                outcome = run_attack(target, attack)
                outcomes.append(outcome)
                verdict = "survived" if outcome.survived else f"FAILED ({outcome.detail})"
                print(
                    f"{outcome.name}: {verdict} max_status_s={outcome.max_status_s:.3f} "
                    f"max_member_admit_s={outcome.max_member_admit_s:.3f} seconds={outcome.seconds:.1f}",
                    flush=True,
                )
            rss = peak_rss_mb(target.pid) if target.alive else float("nan")
        finally:
            target.stop()
    survived = sum(o.survived for o in outcomes)
    max_status = max((o.max_status_s for o in outcomes), default=0.0)
    max_admit = max((o.max_member_admit_s for o in outcomes), default=0.0)
    print(
        f"attacks={len(outcomes)} survived={survived} max_status_s={max_status:.3f} peak_rss_mb={rss:.0f} "
        f"max_member_admit_s={max_admit:.3f}"
    )
    return 0 if survived == len(outcomes) and rss <= RSS_BOUND_MB else 1


if __name__ == "__main__":
    sys.exit(main())
