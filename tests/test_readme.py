"""The README as a contract: every command it tells a reader to type exists, with the flags it gives them.

A newcomer types the README's commands as written; a flag renamed or removed in the code but still in the README
ends their first try in argparse's "unrecognized arguments". These read the commands out of the README's code
spans and check them against the parsers themselves (no command is run)."""

import argparse
import contextlib
import importlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
SPANS = re.findall(r"`([^`\n]+)`", README)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _commands() -> dict[str, argparse.ArgumentParser]:
    from eegviz.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **sub.choices}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


def _module_help(module: str) -> str:
    """`python -m MODULE --help`, in process: the flags a module's own parser takes."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    return out.getvalue()


def test_every_eegviz_command_in_the_readme_exists_with_the_flags_it_gives():
    commands = _commands()
    anywhere = _flags(commands[""])
    wrong, seen = [], 0
    for span in SPANS:
        match = re.match(r"(?:torchrun .*?-m )?eegviz (\S+)(.*)", span)
        if not match or match.group(1) in ("CMD", "--version") or match.group(1).startswith("-"):
            continue
        for name in match.group(1).split("|"):  # `eegviz demo|live --init latent`
            seen += 1
            if name not in commands:
                wrong.append(f"{span!r}: no command {name!r}")
                continue
            wrong += [f"{span!r}: {name} has no {flag}" for flag in FLAG.findall(match.group(2))
                      if flag not in _flags(commands[name]) | anywhere]
    assert seen > 20  # the README's command table and its examples were read
    assert not wrong, "\n".join(wrong)


def test_every_python_module_command_in_the_readme_runs_with_the_flags_it_gives():
    modules = {}
    for span in SPANS:
        match = re.match(r"python -m (eegviz[\w.]*)(.*)", span)
        if match:
            modules.setdefault(match.group(1), set()).update(FLAG.findall(match.group(2)))
    assert "eegviz.record.run_report" in modules and "eegviz.bench.soak" in modules
    wrong = []
    for module, flags in modules.items():
        text = _module_help(module)
        wrong += [f"python -m {module} has no {flag}" for flag in flags if flag not in FLAG.findall(text)]
    assert not wrong, "\n".join(wrong)


def test_every_flag_the_readme_names_is_some_commands():
    """A flag named in the prose without its command (`--paired`, `--no-kiosk`) is still one a parser takes."""
    known = set().union(*map(_flags, _commands().values()))
    for module in sorted(set(re.findall(r"python -m (eegviz[\w.]*)", README))):
        known |= set(FLAG.findall(_module_help(module)))
    known.add("--nproc-per-node")  # torchrun's, in `torchrun --nproc-per-node N -m eegviz train`
    unknown = sorted(set(FLAG.findall(README)) - known)
    assert not unknown, unknown


def test_the_files_the_readme_names_are_in_the_repository():
    """Links and paths the README sends a reader to (docs/runs/..., benchmarks/*.json, tests/..., assets/...)."""
    named = set(re.findall(r"\]\(([^)#\s]+)\)", README))
    named |= set(re.findall(r"(?<![\w/.-])((?:assets|benchmarks|docs|eegviz|plugins|tests)/[\w./-]*\.(?:py|json|png|"
                            r"xdf|md|cfg))", README))
    assert len(named) > 20
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, missing


def _layout_bullets() -> list[str]:
    """The bullets of "How the code is laid out", each one string (continuation lines joined)."""
    section = README.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    return [b.replace("\n", " ") for b in re.findall(r"^- .*?(?=^- |^\S|\Z)", section, re.M | re.S)]


def test_every_package_module_is_named_in_the_readme_layout_and_every_module_it_names_exists():
    """A newcomer reads "How the code is laid out" to find where things live. A module added without a line
    there is invisible to them, and one named there after it was deleted or moved sends them looking for it.
    A module counts as named where its file name is a code span in the bullet that names its folder
    (`sources/`, or `app/` for app/presenter/); a top-level module anywhere in the section."""
    bullets = _layout_bullets()
    assert len(bullets) >= 10  # the section was read
    package = ROOT / "eegviz"
    modules = sorted(p.relative_to(package) for p in package.rglob("*.py")
                     if p.name != "__init__.py" or p.parent == package)
    missing = []
    for rel in modules:
        folder = rel.parts[0] + "/" if len(rel.parts) > 1 else None
        where = [b for b in bullets if f"`{folder}`" in b.split(":", 1)[0]] if folder else bullets
        if not any(f"`{rel.name}`" in b or f"`{rel.as_posix()}`" in b or f"`eegviz/{rel.as_posix()}`" in b
                   for b in where):
            missing.append(rel.as_posix())
    assert not missing, f"modules the README's layout does not name in their folder's bullet: {missing}"
    named = {name for b in bullets for name in re.findall(r"`(?:eegviz/)?([\w/]*\w\.py)`", b)}
    files = {p.name for p in package.rglob("*.py")} | {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    assert not sorted(named - files), sorted(named - files)
