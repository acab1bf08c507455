"""protected-paths: flags every changed file that matches a configured glob.

componentize-py builds this module into a typed agenthost component. The world
(`world.wit`) exports two interfaces, and componentize-py looks for one class per
exported interface, named after it: `Review` and `Config`.
"""

import json
import re
from typing import Any, List, Optional

from wit_world import exports
from wit_world.imports.types import ChangeKind, Finding, RunResult, Severity, Spec

RULE = "protected-paths/changed"
KEYS = ("patterns", "severity")
SEVERITIES = {"info": Severity.INFO, "warning": Severity.WARNING, "error": Severity.ERROR}


def glob_to_regex(pattern: str) -> "re.Pattern[str]":
    """Compiles a glob: `**` is any run of characters, `*` any run without `/`,
    `?` one character other than `/`; everything else matches itself."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    # DOTALL: `**` and `*` also cross a newline, should a path ever hold one.
    return re.compile("".join(out), re.DOTALL)


def first_match(candidate: str, globs: List["re.Pattern[str]"], patterns: List[str]) -> Optional[str]:
    """The first pattern (in configured order) that matches the whole of `candidate`."""
    for glob, pattern in zip(globs, patterns):
        if glob.fullmatch(candidate):
            return pattern
    return None


class Review(exports.Review):
    def review_run(self, config: str, spec: Spec, run: RunResult) -> List[Finding]:
        # The host ran `validate` when it loaded the policy, so the config is valid.
        table = json.loads(config)
        patterns: List[str] = table["patterns"]
        severity = SEVERITIES[table.get("severity", "warning")]
        globs = [glob_to_regex(p) for p in patterns]

        findings = []
        for changed in run.changed_files:
            candidates = [changed.path]
            if changed.kind == ChangeKind.RENAMED and changed.old_path is not None:
                candidates.append(changed.old_path)
            for candidate in candidates:
                pattern = first_match(candidate, globs, patterns)
                if pattern is not None:
                    findings.append(
                        Finding(
                            rule=RULE,
                            severity=severity,
                            message=f"`{candidate}` matches the protected pattern `{pattern}`",
                            path=candidate,
                            line=None,
                        )
                    )
                    break  # at most one finding per file
        return findings


class Config(exports.Config):
    def validate(self, config: str) -> List[str]:
        table: Any = json.loads(config)
        if not isinstance(table, dict):
            table = {}
        errors = []
        patterns = table.get("patterns")
        if "patterns" not in table:
            errors.append('`patterns` is required: a list of globs such as ["migrations/**"]')
        elif not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            errors.append("`patterns` must be a list of strings")
        severity = table.get("severity", "warning")
        if not isinstance(severity, str) or severity not in SEVERITIES:
            errors.append('`severity` must be "info", "warning" or "error"')
        # Python compares strings by code point, which is UTF-8 byte order.
        for key in sorted(k for k in table if k not in KEYS):
            errors.append(f"unknown key `{key}`: the keys are `patterns` and `severity`")
        return errors
