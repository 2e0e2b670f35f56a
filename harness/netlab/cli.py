"""``scripts/netlab``: build, shape, break and remove a lab of real hosts (see ``harness.netlab.lab``).

  up --validators N --observers M --profile lan|wan|bad --out DIR
  partition A,B / C,D      heal      skew NODE SECONDS      kill NODE      start NODE      status      down
  soak --minutes 30 [--seed S] [--validators 4 --observers 2 --profile wan]

Every command but ``up`` and ``soak`` acts on the lab in ``--out`` (default ``netlab-data``). ``soak`` builds
its own lab when none is up there and removes it at the end, failure or not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.netlab.lab import PROFILES, Lab, LabError, sweep_dead_labs
from harness.netlab.observe import heads
from harness.netlab.soak import describe, run_soak


def parse_groups(words: list[str]) -> list[list[str]]:
    """``["0,1", "/", "2,3"]`` or ``["0,1/2,3"]`` -> ``[["0", "1"], ["2", "3"]]``."""
    groups = [[name for name in part.replace(",", " ").split()] for part in " ".join(words).split("/")]
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/netlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("netlab-data"), help="the lab's directory")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the lab and start every node")
    soak = sub.add_parser(
        "soak", help="random faults under load; last line faults=… forks=… lost_txs=… max_stall_s=…"
    )
    for p in (up, soak):
        p.add_argument("--validators", type=int, default=4)
        p.add_argument("--observers", type=int, default=2 if p is soak else 0)
        p.add_argument("--profile", choices=sorted(PROFILES), default="wan" if p is soak else "lan")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--out", type=Path, default=argparse.SUPPRESS)
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--rate", type=float, default=20.0, help="load in tx/s")
    part = sub.add_parser("partition", help="cut every link between groups: A,B / C,D")
    part.add_argument("groups", nargs="+")
    skew = sub.add_parser("skew", help="restart NODE with its wall clock off by SECONDS")
    skew.add_argument("node")
    skew.add_argument("seconds", type=float)
    for name in ("kill", "start"):
        sub.add_parser(name).add_argument("node")
    for name in ("heal", "down", "status"):
        sub.add_parser(name)
    sub.add_parser("sweep", help="delete the namespaces of every lab with no process left (killed runs)")
    for p in (part, skew, *[sub.choices[n] for n in ("kill", "start", "heal", "down", "status")]):
        p.add_argument("--out", type=Path, default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lab = Lab(args.out)
    try:
        if args.command == "up":
            state = lab.up(args.validators, args.observers, args.profile, seed=args.seed)
            print(f"lab {state.lab_id} up ({state.profile}, subnet {state.subnet}/24): {describe(state)}")
            for node in state.nodes:
                print(f"{node.name} rpc={lab.rpc_url(node)} netns={node.netns}")
        elif args.command == "soak":
            built = not lab.state_path.exists()
            if built:
                lab.up(args.validators, args.observers, args.profile, seed=args.seed)
            try:
                report = run_soak(lab, args.minutes, args.seed, rate=args.rate)
            finally:
                if built:
                    lab.down()
            agreed = "no" if report.disagreeing else "yes"
            print(f"sent={report.sent} rejected={report.rejected} all_nodes_agree={agreed}")
            print(report.last_line())
        elif args.command == "partition":
            lab.partition(parse_groups(args.groups))
        elif args.command == "heal":
            lab.heal()
        elif args.command == "skew":
            lab.skew(args.node, args.seconds)
        elif args.command == "kill":
            lab.kill(args.node)
        elif args.command == "start":
            lab.start(args.node)
        elif args.command == "status":
            state = lab.load()
            for name, top in heads(lab, state.nodes).items():
                print(f"{name} {top if top is not None else 'down'}")
        elif args.command == "down":
            for item in lab.down():
                print(f"removed {item}")
        elif args.command == "sweep":
            for ns in sweep_dead_labs():
                print(f"removed netns {ns}")
    except LabError as exc:
        print(f"netlab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
