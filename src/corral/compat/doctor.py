"""`corral --doctor`: read a fabfile (never run it) and list what it uses that corral does
differently (`differs`) or not at all (`unsupported`), each with the file, the line and what
to do; then notes that apply to every Fabric user switching (host keys, config files).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..transport.target import CONNECT_KWARGS
from .names import (
    ATTRIBUTES,
    EXECUTOR_HOOKS,
    MODULES,
    NAMES,
    PROGRAM_HOOKS,
    STAND_INS,
    SUBMODULES,
    Note,
    Status,
)

__all__ = ["Finding", "examine", "render"]

#: Widest code excerpt shown for a finding.
EXCERPT = 76

DEDUPE = Note(
    "differs",
    "a pre- or post-task runs once, on its own hosts or locally (never per -H host, as in "
    "Fabric); one shared by several tasks runs once, where Fabric runs it each time "
    "(--no-dedupe does too)",
)
SETTING = Note(
    "differs",
    "a setting a task sets on a host's connection stays with that host for the rest of the "
    "run (Fabric makes a new Connection per task); set by a local task, it reaches the hosts "
    "of every later task",
)
CONFIG = Note(
    "differs",
    "config a task changes on a host's connection stays with that host (each host has its "
    "own copy; Fabric's tasks share one); changed by a local task, it reaches the hosts of "
    "every later task",
)
HOST_KEYS = (
    "host keys are checked: a host missing from known_hosts is refused, where Fabric accepts "
    "it; once, run `corral --host-key-policy accept-new ...` (or add it with ssh-keyscan)"
)


@dataclass(frozen=True)
class Finding:
    """One thing a fabfile uses: where, the code, and how corral treats it."""

    path: str
    line: int
    code: str
    status: Status
    text: str


def _excerpt(source: list[str], line: int) -> str:
    text = source[line - 1].strip() if 0 < line <= len(source) else ""
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def _listed(module: str) -> Note | None:
    """The note of the longest listed prefix of `module` (fabric.contrib.files: contrib)."""
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        note = MODULES.get(".".join(parts[:size]))
        if note is not None:
            return note
    return None


def _module_note(module: str) -> Note | None:
    note = _listed(module)
    if note is not None:
        return note
    top, _, rest = module.partition(".")
    if top in SUBMODULES and rest and rest.split(".")[0] not in SUBMODULES[top]:
        return Note("unsupported", f"corral has no twin of {module}")
    return None


def _stand_in_has(module: str, name: str) -> bool:
    """True when corral's stand-in for `module` (fabric.x -> corral.x) has `name`."""
    top, _, rest = module.partition(".")
    target = STAND_INS[top] + (f".{rest}" if rest else "")
    try:
        return hasattr(importlib.import_module(target), name)
    except ImportError:
        return False


class _Reader(ast.NodeVisitor):
    """Walks one file's syntax tree, collecting findings."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.findings: list[Finding] = []
        self.uses_hosts = False

    def add(self, node: ast.AST, note: Note) -> None:
        line = getattr(node, "lineno", 0)
        self.findings.append(
            Finding(self.path, line, _excerpt(self.lines, line), note.status, note.text)
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not module:
            return
        if self._module(node, module):
            return
        if module.partition(".")[0] not in STAND_INS:
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            listed = _listed(f"{module}.{alias.name}")  # from fabric import api
            if listed is not None:
                self.add(node, listed)
            elif alias.name in NAMES:
                self.add(node, NAMES[alias.name])
            elif not _stand_in_has(module, alias.name):
                self.add(node, Note("unsupported", f"corral has no {alias.name} in {module}"))

    def _module(self, node: ast.AST, module: str) -> bool:
        top = module.partition(".")[0]
        if top in STAND_INS or top == "paramiko":
            self.uses_hosts = True
        note = _module_note(module)
        if note is not None:
            self.add(node, note)
            return True
        return False

    def visit_Attribute(self, node: ast.Attribute) -> None:
        note = ATTRIBUTES.get(node.attr)
        if note is not None and not isinstance(node.ctx, ast.Store):
            self.add(node, note)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg == "connect_kwargs":
                self._connect_kwargs(keyword.value)
            if keyword.arg == "hosts":
                self.uses_hosts = True
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ("Connection", "Group", "SerialGroup", "ThreadingGroup"):
            self.uses_hosts = True
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "connect_kwargs":
                self._connect_kwargs(value)
        self.generic_visit(node)

    def _connect_kwargs(self, value: ast.expr) -> None:
        if not isinstance(value, ast.Dict):
            return
        unknown = sorted(
            str(key.value)
            for key in value.keys
            if isinstance(key, ast.Constant) and key.value not in CONNECT_KWARGS
        )
        if unknown:
            self.add(
                value,
                Note(
                    "unsupported",
                    f"connect_kwargs {', '.join(unknown)}: paramiko's, not corral's (it takes "
                    f"{', '.join(sorted(CONNECT_KWARGS))})",
                ),
            )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for decorator in node.decorator_list:
            if self._is_task_with_pre_or_post(decorator):
                self.add(decorator, DEDUPE)
        if any(self._is_task(d) for d in node.decorator_list) and node.args.args:
            context = node.args.args[0].arg
            for child in ast.walk(node):
                if isinstance(child, ast.Assign | ast.AugAssign):
                    targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                    kinds = {self._what_it_sets(target, context) for target in targets}
                    if "config" in kinds:
                        self.add(child, CONFIG)
                    elif "setting" in kinds:
                        self.add(child, SETTING)
        self.generic_visit(node)

    @staticmethod
    def _is_task(decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
        return name == "task"

    def _is_task_with_pre_or_post(self, decorator: ast.expr) -> bool:
        if not (isinstance(decorator, ast.Call) and self._is_task(decorator)):
            return False
        return bool(decorator.args) or any(k.arg in ("pre", "post") for k in decorator.keywords)

    @staticmethod
    def _what_it_sets(target: ast.expr, context: str) -> str | None:
        """ "setting" for `c.user = ...` or `c.connect_kwargs.password = ...`, "config" for
        `c.config.x = ...`, None for anything not set on the task's context."""
        chain: list[str] = []
        node = target
        while isinstance(node, ast.Attribute | ast.Subscript):
            if isinstance(node, ast.Attribute):
                chain.append(node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id == context and chain):
            return None
        return "config" if chain[-1] == "config" else "setting"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        hooks = None
        if bases & {"Program", "Fab"}:
            hooks, kind = PROGRAM_HOOKS, "Program"
        elif "Executor" in bases:
            hooks, kind = EXECUTOR_HOOKS, "Executor"
        if hooks is not None:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name not in hooks:
                    note = ATTRIBUTES.get(item.name) or Note(
                        "unsupported",
                        f"corral's {kind} does not call {item.name}(); it calls "
                        f"{', '.join(sorted(h for h in hooks if h != '__init__'))}",
                    )
                    self.add(item, note)
        self.generic_visit(node)


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    else:
        yield path


def examine(path: Path) -> tuple[list[Finding], list[str]]:
    """Read a fabfile (a file, or a package directory): return its findings, and the notes
    for the whole project. Nothing in it is run."""
    findings: list[Finding] = []
    uses_hosts = False
    base = path.parent
    for file in _files(path):
        source = file.read_text(encoding="utf-8", errors="replace")
        shown = str(file.relative_to(base))
        try:
            tree = ast.parse(source, filename=shown)
        except SyntaxError as exc:
            findings.append(
                Finding(shown, exc.lineno or 0, "", "unsupported", f"not valid Python: {exc.msg}")
            )
            continue
        reader = _Reader(shown, source)
        reader.visit(tree)
        findings += reader.findings
        uses_hosts = uses_hosts or reader.uses_hosts
    notes = []
    for name in ("fabric", "invoke"):
        for suffix in (".yaml", ".yml", ".json", ".py"):
            config = base / f"{name}{suffix}"
            if not config.is_file():
                continue
            if name == "fabric":
                notes.append(
                    f"{config.name} is read (Fabric's project file), below corral.yaml; so "
                    "are ~/.fabric.yaml, /etc/fabric.yaml and FABRIC_* variables"
                )
            else:
                notes.append(
                    f"{config.name} is not read (Invoke's): rename it fabric{suffix} or "
                    f"corral{suffix}"
                )
    if uses_hosts:
        notes.append(HOST_KEYS)
    return findings, notes


def render(path: Path, findings: list[Finding], notes: list[str]) -> str:
    """Return the doctor's report: each finding, the notes, and a count."""
    lines = []
    for finding in sorted(findings, key=lambda f: (f.path, f.line)):
        lines.append(f"{finding.path}:{finding.line}: {finding.code}")
        lines.append(f"    {finding.status}: {finding.text}")
    lines += [f"note: {note}" for note in notes]
    unsupported = sum(1 for f in findings if f.status == "unsupported")
    differs = len(findings) - unsupported
    summary = (
        f"{unsupported} unsupported, {differs} that {'differ' if differs != 1 else 'differs'}"
        if findings
        else "nothing corral does differently"
    )
    lines.append(f"doctor: {path.name}: {summary}")
    return "\n".join(lines)
