#!/usr/bin/env python3
"""Checks the rules ledger (docs/rules.md) against the tests.

Each ledger row is `| ID | section | rule | where | status |`. A rule whose status is `tested`
must be named (by its id) in at least one test: a `#[test]`/`#[tokio::test]` function's comments
or body, in tests/, shared/*/tests/ or a `#[cfg(test)]` module. A test may not name an id the
ledger does not have. Other statuses say why a rule has no test yet: `open #N` (an issue takes
it) or `differs: …` (the code does otherwise, on purpose, with the reason).

Prints, per document, how many rules are tested, open and different, and exits 1 on a problem.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LEDGER = ROOT / "docs" / "rules.md"
PREFIXES = ("FJ2", "FZ21", "PT22", "XM", "YF", "OURS")
ID = re.compile(r"\b(?:%s)-[A-Z0-9]+(?:-[A-Z0-9]+)*\b" % "|".join(PREFIXES))
ROW = re.compile(r"^\|\s*((?:%s)-[A-Z0-9-]+)\s*\|(.*)\|\s*$" % "|".join(PREFIXES))


def ledger():
    rules, problems, document = {}, [], None
    for n, line in enumerate(LEDGER.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("## "):
            document = line[3:].strip()
        m = ROW.match(line)
        if not m:
            continue
        rid, rest = m.group(1), [c.strip() for c in m.group(2).split("|")]
        if len(rest) != 4:
            problems.append(f"docs/rules.md:{n}: {rid} needs section | rule | where | status")
            continue
        status = rest[3]
        if rid in rules:
            problems.append(f"docs/rules.md:{n}: {rid} is listed twice")
        if not (status == "tested" or re.match(r"open #\d+", status) or status.startswith("differs:")):
            problems.append(f"docs/rules.md:{n}: {rid} status {status!r}: tested, open #N or differs: why")
        rules[rid] = (document, status, n)
    return rules, problems


def test_sources():
    globs = ["tests/**/*.rs", "shared/*/tests/**/*.rs", "shared/*/src/**/*.rs", "src/**/*.rs", "bench/src/**/*.rs"]
    for g in globs:
        for path in ROOT.glob(g):
            text = path.read_text(encoding="utf-8")
            if "/tests/" in str(path) or str(path.relative_to(ROOT)).startswith("tests/"):
                yield path, text
            elif "#[cfg(test)]" in text:
                yield path, text[text.index("#[cfg(test)]"):]


def main():
    rules, problems = ledger()
    named = {}
    for path, text in test_sources():
        for m in ID.finditer(text):
            rid = m.group(0)
            line = text.count("\n", 0, m.start()) + 1
            named.setdefault(rid, []).append(f"{path.relative_to(ROOT)}:{line}")
    for rid, places in sorted(named.items()):
        if rid not in rules:
            problems.append(f"{places[0]}: names {rid}, which docs/rules.md does not list")
    for rid, (_, status, n) in sorted(rules.items()):
        if status == "tested" and rid not in named:
            problems.append(f"docs/rules.md:{n}: {rid} is marked tested but no test names it")
    per_doc = {}
    for rid, (doc, status, _) in rules.items():
        kind = "tested" if status == "tested" else status.split()[0].rstrip(":")
        per_doc.setdefault(doc, {}).setdefault(kind, 0)
        per_doc[doc][kind] += 1
    for doc, counts in per_doc.items():
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        print(f"  {doc}: {summary}")
    print(f"rules ledger: {len(rules)} rules, {sum(1 for r in rules.values() if r[1] == 'tested')} tested")
    for p in problems:
        print(f"  problem: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
