"""Review precision on a replay set: what the validation pass buys.

The set: pull requests built from real modules of packages installed here (httpx, click, rich). Half carry
one injected defect of a known kind at a known new-side line (inverted condition, flipped comparison,
off-by-one, swallowed error, early return, shell injection, eval of input, hard-coded secret, blocking
sleep) on top of a small refactor; half are clean refactors only (a comment, a renamed local variable).
Each PR is reviewed by the real engine (packing, three reviewer passes through the real router, validation)
with scripted model outputs that mix the true finding (sometimes missed, under-confident or misnumbered),
duplicates from other reviewers, findings on unchanged code or files outside the diff, low-confidence and
info-level noise, and plausible false positives on changed lines.

Printed: precision, recall, F1 and comments per clean PR before and after validation, and why findings
were dropped. A comment is a true positive when its line range covers the defect's line; a second comment on
the same defect counts as noise, since posting it twice is. Prints figures; asserts nothing.

    uv run python bench/review_eval.py [--prs 32] [--seed 12]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import difflib
import importlib.util
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.llm.providers.pool import ProviderPool  # noqa: E402
from app.llm.registry import ModelRegistry  # noqa: E402
from app.llm.router import LLMRouter  # noqa: E402
from app.review.conversation import REPORT_TOOL, ReviewContext, ReviewModel  # noqa: E402
from app.review.diff import parse_unified_diff  # noqa: E402
from app.review.engine import review_diff  # noqa: E402
from app.review.findings import Finding, ReportedFinding  # noqa: E402
from app.review.reviewers import CORRECTNESS, PERFORMANCE, SECURITY  # noqa: E402
from app.review.rules import load_rules  # noqa: E402
from app.review.validation import reason_kind  # noqa: E402
from app.runtime.config_loader import load_settings  # noqa: E402

SOURCES = {
    "httpx": ["_urls.py", "_utils.py", "_config.py", "_models.py", "_auth.py"],
    "click": ["utils.py", "formatting.py", "types.py", "parser.py", "termui.py"],
    "rich": ["cells.py", "color.py", "filesize.py", "text.py", "align.py"],
}
REVIEWERS = [SECURITY, CORRECTNESS, PERFORMANCE]
RULES = '[review]\nseverity_floor = "low"\n'
COMMENTS = [
    "Keep the common case first; the rest is rare.",
    "Callers rely on this order; see the tests.",
    "Normalise once here instead of at every caller.",
    "This mirrors the behaviour of the standard library.",
]


@dataclass
class Defect:
    kind: str
    path: str
    line: int  # new side
    text: str


@dataclass
class Case:
    name: str
    diff: str
    main_path: str
    new_lines: list[str]
    changed: list[int]  # new-side numbers of added lines in the main file
    renamed_line: int | None
    comment_line: int
    defect: Defect | None = None
    traits: set[str] = field(default_factory=set)


# --- building the pull requests ---------------------------------------------------------------------------


def package_files() -> list[tuple[str, str]]:
    found = []
    for package, names in SOURCES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        base = Path(next(iter(spec.submodule_search_locations)))
        found += [(f"{package}/{name}", (base / name).read_text()) for name in names if (base / name).is_file()]
    return found


def candidate_functions(source: str) -> list[ast.FunctionDef]:
    tree = ast.parse(source)
    chosen = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or node.end_lineno is None:
            continue
        body = node.body[1:] if _has_docstring(node) else node.body
        params = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
        if len(body) >= 2 and node.end_lineno - node.lineno >= 6 and params and body[0].lineno > node.lineno:
            chosen.append(node)
    return chosen


def _has_docstring(node: ast.FunctionDef) -> bool:
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def local_names(node: ast.FunctionDef) -> list[str]:
    params = {a.arg for a in node.args.args}
    names = {
        target.id
        for stmt in ast.walk(node)
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    return sorted(n for n in names - params if len(n) >= 3 and not n.startswith("_"))


def refactor(lines: list[str], node: ast.FunctionDef, rng: random.Random) -> tuple[list[str], int | None, int]:
    """A behaviour-preserving edit of one function: a local renamed, a comment added. Returns the new lines,
    the (0-based) index of one renamed line and of the comment."""
    new = list(lines)
    renamed_at = None
    names = local_names(node)
    body = node.body[1:] if _has_docstring(node) else node.body
    if names:
        name = rng.choice(names)
        pattern = re.compile(rf"(?<![.\w'\"]){re.escape(name)}\b")
        for index in range(body[0].lineno - 1, node.end_lineno or node.lineno):  # code only, not the docstring
            replaced = pattern.sub(f"{name}_value", new[index])
            if replaced != new[index]:
                new[index] = replaced
                renamed_at = renamed_at if renamed_at is not None else index
    start = body[0].lineno - 1
    indent = re.match(r"\s*", new[start]).group(0)
    new.insert(start, f"{indent}# {rng.choice(COMMENTS)}")
    if renamed_at is not None and renamed_at >= start:
        renamed_at += 1
    return new, renamed_at, start


INJECTIONS = [
    ("inverted_condition", "correctness"),
    ("shell_injection", "security"),
    ("comparison_flip", "correctness"),
    ("eval_input", "security"),
    ("off_by_one", "correctness"),
    ("blocking_sleep", "performance"),
    ("swallowed_error", "correctness"),
    ("hardcoded_secret", "security"),
    ("early_return", "correctness"),
]
FALLBACKS = ["shell_injection", "eval_input", "early_return", "hardcoded_secret", "blocking_sleep"]


def inject(new: list[str], node: ast.FunctionDef, comment_at: int, kind: str) -> tuple[list[str], int] | None:
    """The defect of `kind` in the edited function: (lines, 0-based index of the defect line), or None when
    the function has nothing that kind can change."""
    first, last = comment_at + 1, comment_at + 1 + (node.end_lineno or 0) - (node.body[0].lineno)
    last = min(last, len(new) - 1)
    indent = re.match(r"\s*", new[first]).group(0)
    param = next(a.arg for a in node.args.args if a.arg not in ("self", "cls"))
    lines = list(new)

    def first_match(pattern: str) -> int | None:
        return next((i for i in range(first, last + 1) if re.search(pattern, lines[i])), None)

    if kind == "inverted_condition" and (at := first_match(r"^\s*(if|elif) (?!not )(.+):\s*$")) is not None:
        lines[at] = re.sub(r"^(\s*)(if|elif) (.+):\s*$", r"\1\2 not (\3):", lines[at])
        return lines, at
    if kind == "comparison_flip" and (at := first_match(r" == ")) is not None:
        lines[at] = lines[at].replace(" == ", " != ", 1)
        return lines, at
    if kind == "off_by_one" and (at := first_match(r"\[1:\]|\+ 1\b|- 1\b")) is not None:
        lines[at] = re.sub(
            r"\[1:\]|\+ 1\b|- 1\b", lambda m: {"[1:]": "[2:]", "+ 1": "+ 2"}.get(m[0], "- 2"), lines[at], count=1
        )
        return lines, at
    if kind == "swallowed_error" and (at := first_match(r"^\s*raise \w")) is not None:
        lines[at] = re.match(r"\s*", lines[at]).group(0) + "return None"
        return lines, at
    inserted = {
        "shell_injection": f'{indent}os.system("echo " + str({param}))',
        "eval_input": f"{indent}{param} = eval(str({param}))",
        "hardcoded_secret": f'{indent}api_key = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"',
        "blocking_sleep": f"{indent}time.sleep(0.5)",
        "early_return": f"{indent}return None",
    }.get(kind)
    if inserted is None:
        return None
    lines.insert(first, inserted)
    return lines, first


def unified(path: str, before: list[str], after: list[str]) -> str:
    body = difflib.unified_diff(
        [line + "\n" for line in before], [line + "\n" for line in after], f"a/{path}", f"b/{path}", n=3
    )
    return f"diff --git a/{path} b/{path}\n" + "".join(body)


def build_cases(count: int, rng: random.Random) -> list[Case]:
    files = package_files()
    pool = [(path, source, node) for path, source in files for node in candidate_functions(source)]
    rng.shuffle(pool)
    by_path: dict[str, list[tuple[str, str, ast.FunctionDef]]] = {}
    for item in pool:
        by_path.setdefault(item[0], []).append(item)
    groups = list(by_path.values())
    longest = max(len(g) for g in groups)
    order = [g[i] for i in range(longest) for g in groups if i < len(g)]  # round-robin over the files
    cases: list[Case] = []
    used: set[str] = set()
    for number, (path, source, node) in enumerate(order):
        if len(cases) >= count:
            break
        if f"{path}:{node.name}" in used:
            continue
        used.add(f"{path}:{node.name}")
        lines = source.splitlines()
        new, renamed_at, comment_at = refactor(lines, node, rng)
        defect = None
        if len(cases) % 2 == 0:  # every other PR carries a defect
            wanted = INJECTIONS[(len(cases) // 2) % len(INJECTIONS)][0]
            for kind in [wanted, *FALLBACKS]:
                injected = inject(new, node, comment_at, kind)
                if injected is not None:
                    new, at = injected
                    if renamed_at is not None and renamed_at >= at and len(new) > len(lines) + 1:
                        renamed_at += 1
                    defect = Defect(kind, path, at + 1, new[at].strip())
                    break
        diff = unified(path, lines, new)
        (parsed,) = parse_unified_diff(diff)
        other = files[(number * 7 + 3) % len(files)]
        if other[0] != path and rng.random() < 0.5:  # a second, comment-only file in some PRs
            other_lines = other[1].splitlines()
            other_new = [*other_lines[:1], "# Reviewed for the new release.", *other_lines[1:]]
            diff += unified(other[0], other_lines, other_new)
        cases.append(
            Case(
                name=f"{path}:{node.name}" + (f" [{defect.kind}]" if defect else " [clean]"),
                diff=diff,
                main_path=path,
                new_lines=new,
                changed=sorted(parsed.changed_lines()),
                renamed_line=None if renamed_at is None else renamed_at + 1,
                comment_line=comment_at + 1,
                defect=defect,
            )
        )
    return cases


# --- what the scripted reviewers say ------------------------------------------------------------------------

TRUE_TEXT = {
    "inverted_condition": (
        "Condition inverted",
        "The branch now runs exactly when it should not: the condition was negated.",
    ),
    "comparison_flip": (
        "Comparison flipped from == to !=",
        "The equality test was flipped, so the branch takes the wrong path.",
    ),
    "off_by_one": (
        "Off-by-one in the index arithmetic",
        "The offset changed by one, so one element is skipped or repeated.",
    ),
    "swallowed_error": (
        "Error silently swallowed",
        "The raise became a return of None, so callers never see the failure.",
    ),
    "shell_injection": (
        "Shell command built from caller input",
        "The argument is concatenated into an os.system command, so a caller can run arbitrary shell commands.",
    ),
    "eval_input": (
        "eval() on caller-supplied input",
        "The argument is passed to eval, so any caller can execute arbitrary code.",
    ),
    "hardcoded_secret": (
        "Hard-coded live API key",
        "A live secret key is committed in the source and will leak with it.",
    ),
    "blocking_sleep": (
        "Blocking sleep on every call",
        "time.sleep adds half a second to every call of a hot function.",
    ),
    "early_return": (
        "Early return makes the function a no-op",
        "The unconditional return None skips the whole body, so the function no longer works.",
    ),
}
DUPLICATE_TEXT = {
    "inverted_condition": (
        "Negated if-condition reverses the branch",
        "The condition is negated now, so the branch runs when it should not.",
    ),
    "comparison_flip": (
        "Equality check inverted (!= instead of ==)",
        "The comparison was flipped from == to !=, so the wrong path is taken.",
    ),
    "off_by_one": ("Index offset changed by one", "Changing the offset by one skips or repeats an element."),
    "swallowed_error": (
        "Exception replaced by return None",
        "Returning None instead of raising hides the failure from callers.",
    ),
    "shell_injection": (
        "Command injection via os.system",
        "os.system receives a command concatenated from the argument; arbitrary shell commands can run.",
    ),
    "eval_input": (
        "Arbitrary code execution through eval",
        "eval executes the caller's argument as code: arbitrary code execution.",
    ),
    "hardcoded_secret": (
        "Secret key committed to the repository",
        "The live API key in the source leaks with the code.",
    ),
    "blocking_sleep": ("time.sleep slows every call", "Every call now blocks half a second in time.sleep."),
    "early_return": (
        "Unconditional return None skips the function body",
        "The body after the return never runs; the function does nothing.",
    ),
}
KIND_CATEGORY = dict(INJECTIONS)
NOISE = [
    ("Consider adding type hints", "Type hints would make this easier to read.", "maintainability"),
    ("Comment could be more specific", "The comment restates the code.", "maintainability"),
    ("Consider a more descriptive name", "The new name could say more.", "maintainability"),
]
FALSE_POSITIVES = [
    ("Renamed variable may break callers", "Code elsewhere may still use the old name and now fail.", "correctness"),
    (
        "Possible None dereference after rename",
        "The renamed value may be None here and the next access would fail.",
        "correctness",
    ),
]


def entry(path: str, line: int, title: str, explanation: str, evidence: str, **fields: Any) -> dict[str, Any]:
    return {
        "path": path,
        "line": line,
        "severity": fields.pop("severity", "high"),
        "category": fields.pop("category", "correctness"),
        "confidence": round(fields.pop("confidence", 0.85), 2),
        "title": title,
        "explanation": explanation,
        "evidence": evidence,
        **fields,
    }


# Share of PRs in which the scripted reviewers make each kind of report (exact quotas, placed at random).
DEFECT_TRAITS = {"missed": 0.12, "under_confident": 0.08, "misnumbered": 0.08, "duplicate": 0.5, "false_positive": 0.12}
CLEAN_TRAITS = {"false_positive": 0.25, "false_positive_twice": 0.12}
COMMON_TRAITS = {"unchanged_code": 0.6, "nit": 0.7, "info": 0.3, "other_file": 0.12}


def assign_traits(cases: list[Case], rng: random.Random) -> None:
    def place(group: list[Case], quotas: dict[str, float]) -> None:
        for trait, share in quotas.items():
            for case in rng.sample(group, round(len(group) * share)):
                case.traits.add(trait)

    defective = [c for c in cases if c.defect]
    clean = [c for c in cases if not c.defect]
    place(defective, DEFECT_TRAITS)
    place(clean, CLEAN_TRAITS)
    place(cases, COMMON_TRAITS)
    for case in defective:  # a missed defect cannot also be under-confident or misnumbered
        if "missed" in case.traits:
            case.traits -= {"under_confident", "misnumbered", "duplicate"}


def script_for(case: Case, rng: random.Random) -> list[dict[str, Any]]:
    """One report per reviewer (security, correctness, performance), in that order."""
    reports: dict[str, list[dict[str, Any]]] = {r.key: [] for r in REVIEWERS}
    keys = list(reports)
    path, lines, traits = case.main_path, case.new_lines, case.traits
    if case.defect is not None:
        kind, line, text = case.defect.kind, case.defect.line, case.defect.text
        owner = KIND_CATEGORY[kind]
        title, explanation = TRUE_TEXT[kind]
        severity = "critical" if owner == "security" else "high"
        if "missed" not in traits:
            confidence = 0.55 if "under_confident" in traits else rng.uniform(0.78, 0.96)
            reported_line = line + 12 if "misnumbered" in traits else line
            reports[owner].append(
                entry(
                    path,
                    reported_line,
                    title,
                    explanation,
                    text,
                    severity=severity,
                    category=owner,
                    confidence=confidence,
                )
            )
            if "duplicate" in traits:
                other = rng.choice([k for k in keys if k != owner])
                dup_title, dup_explanation = DUPLICATE_TEXT[kind]
                reports[other].append(
                    entry(
                        path,
                        line,
                        dup_title,
                        dup_explanation,
                        text,
                        severity="high",
                        category=owner,
                        confidence=rng.uniform(0.7, 0.9),
                    )
                )
    far = [
        i
        for i in range(1, len(lines) + 1)
        if all(abs(i - c) > 12 for c in case.changed) and len(lines[i - 1].strip()) > 12
    ]
    if far and "unchanged_code" in traits:  # a confident finding about code the PR did not touch
        at = rng.choice(far)
        reports[rng.choice(keys)].append(
            entry(
                path,
                at,
                "Unvalidated input reaches this call",
                "The value is not checked before use.",
                lines[at - 1].strip(),
                confidence=rng.uniform(0.75, 0.9),
            )
        )
    if "nit" in traits:  # low-confidence nit on a changed line
        title, explanation, category = rng.choice(NOISE)
        reports[rng.choice(keys)].append(
            entry(
                path,
                case.comment_line,
                title,
                explanation,
                lines[case.comment_line - 1].strip(),
                severity="low",
                category=category,
                confidence=rng.uniform(0.3, 0.6),
            )
        )
    if "info" in traits:  # an info-level remark, below the repository's floor
        reports[rng.choice(keys)].append(
            entry(
                path,
                case.comment_line,
                "Comment style",
                "Comments usually end with a period here.",
                lines[case.comment_line - 1].strip(),
                severity="info",
                category="style",
                confidence=0.8,
            )
        )
    if traits & {"false_positive", "false_positive_twice"}:  # a plausible false positive on a changed line
        at = case.renamed_line or case.comment_line
        title, explanation, category = rng.choice(FALSE_POSITIVES)
        reporter = rng.choice(keys)
        reports[reporter].append(
            entry(
                path,
                at,
                title,
                explanation,
                lines[at - 1].strip(),
                severity="medium",
                category=category,
                confidence=0.8,
            )
        )
        if "false_positive_twice" in traits:
            reports[rng.choice([k for k in keys if k != reporter])].append(
                entry(
                    path,
                    at,
                    title.replace("may", "might"),
                    explanation,
                    lines[at - 1].strip(),
                    severity="medium",
                    category=category,
                    confidence=0.75,
                )
            )
    if "other_file" in traits:  # a file the PR does not change
        reports[rng.choice(keys)].append(
            entry(
                "src/settings.py",
                14,
                "Debug mode left on",
                "DEBUG is true in production settings.",
                "DEBUG = True",
                category="security",
            )
        )
    return [
        {"tool_calls": [{"name": REPORT_TOOL, "id": f"report_{key}", "input": {"findings": reports[key]}}]}
        for key in keys
    ]


def reported(responses: list[dict[str, Any]]) -> list[Finding]:
    """Every finding the scripted reviewers report, as they report it (what an unvalidated bot would post)."""
    return [
        ReportedFinding.model_validate(item).to_finding(call["id"])
        for response in responses
        for call in response["tool_calls"]
        for item in call["input"]["findings"]
    ]


# --- running and scoring ------------------------------------------------------------------------------------


@dataclass
class Score:
    comments: int = 0
    true_positives: int = 0
    defects_found: int = 0
    clean_comments: int = 0

    def add(self, case: Case, findings: list[Finding]) -> None:
        self.comments += len(findings)
        if case.defect is None:
            self.clean_comments += len(findings)
            return
        d = case.defect
        hits = [f for f in findings if f.path == d.path and f.line <= d.line <= f.end_line]
        if hits:
            self.true_positives += 1  # the first hit; further ones are the same comment posted again
            self.defects_found += 1

    def figures(self, defects: int, clean: int) -> tuple[float, float, float, float]:
        precision = self.true_positives / self.comments if self.comments else 1.0
        recall = self.defects_found / defects if defects else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, self.clean_comments / clean if clean else 0.0


async def evaluate(cases: list[Case], rng: random.Random) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="review-eval-"))
    script = workdir / "script.json"
    route = {"provider": "scripted", "script_path": str(script)}
    model_spec = {
        "id": 1,
        "name": "bench-reviewer",
        "display_name": "Bench reviewer",
        "input_token_limit": 200_000,
        "output_token_limit": 8_000,
        "routes": [route],
    }
    settings = load_settings(
        environ={},
        include_config_file=False,
        overrides={
            ("llm", "models"): [model_spec],
            ("llm", "code_gen_models"): ["bench-reviewer"],
            ("llm", "default_model"): "bench-reviewer",
            ("llm", "router", "max_retries"): 0,
            ("review", "critic"): False,
            ("review", "parallel_passes"): 1,  # the script answers the reviewers in order
        },
    )
    registry = ModelRegistry(settings.llm, settings.providers)
    pool = ProviderPool(settings.providers, settings.llm.router)
    model = ReviewModel(
        LLMRouter(registry, pool, settings.llm.router), "bench-reviewer", timeout_s=60, max_output_tokens=4000
    )
    rules = load_rules(RULES)
    before, after = Score(), Score()
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    for case in cases:
        responses = script_for(case, rng)
        script.write_text(json.dumps({"mode": "sequence", "responses": responses}))
        Path(str(script) + ".cursor").unlink(missing_ok=True)
        result = await review_diff(
            parse_unified_diff(case.diff),
            ReviewContext(title=f"Refactor {case.main_path}", rules=rules),
            model=model,
            reviewers=REVIEWERS,
            settings=settings,
        )
        before.add(case, reported(responses))
        after.add(case, result.findings)
        reasons.update(reason_kind(reason) for _, reason in result.dropped)
    elapsed = time.perf_counter() - started
    await pool.aclose()
    defects = sum(1 for c in cases if c.defect)
    clean = len(cases) - defects
    kinds = Counter(c.defect.kind for c in cases if c.defect)
    packages = sorted({c.main_path.split("/")[0] for c in cases})
    print(
        f"review_eval: {len(cases)} PRs from {', '.join(packages)} ({defects} with one injected defect, {clean} clean)"
    )
    print("defect kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"{'':20} {'precision':>9} {'recall':>7} {'F1':>6} {'comments/clean PR':>18} {'comments':>9}")
    for label, score in (("before validation", before), ("after validation", after)):
        precision, recall, f1, per_clean = score.figures(defects, clean)
        print(f"{label:20} {precision:9.2f} {recall:7.2f} {f1:6.2f} {per_clean:18.2f} {score.comments:9d}")
    print("dropped by reason: " + ", ".join(f"{k} {n}" for k, n in reasons.most_common()))
    print(
        f"{len(cases) * len(REVIEWERS)} reviewer passes in {elapsed:.2f} s ({elapsed / len(cases) * 1000:.0f} ms per PR)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prs", type=int, default=32, help="pull requests in the set (at least 30)")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = build_cases(max(args.prs, 2), rng)
    assign_traits(cases, rng)
    asyncio.run(evaluate(cases, rng))


if __name__ == "__main__":
    main()
