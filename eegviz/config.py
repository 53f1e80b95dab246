"""Session config files: `--config FILE.toml`, whose keys are the command line's own option names.

A kiosk or a lab protocol is then one file instead of a long command line. Keys at the top level apply to
whichever command runs; a table named after a command applies to that command only, so one file can hold a
whole protocol:

    model = "models/synthetic-default"   # any command that has --model
    [demo]
    headless = true
    out = "/data/kiosk"
    [live]
    stream = "actiCHamp-123"
    markers = "eegviz-presenter"
    sink = ["osc:127.0.0.1:9000"]

Keys are spelled as the options are (`sd-model` or `sd_model`). The file only sets defaults: a flag given on the
command line always wins (for a repeatable option such as --sink, the command line's values replace the file's list,
and a note names the file's entries left out;
a session's switches set in the file are undone with --no-headless, --no-kiosk, ...). A value that starts with ~ is
expanded as the shell expands it on a command line (`out = "~/kiosk"`), and so are environment variables (`out =
"$DATA/kiosk"`; one not set, or set empty, is an error, not the empty text a shell makes of it; `$$` is a literal `$`); a relative path is read from the
working directory, as on the command line, not from the file's folder: a value is read as the option reads it, and
--model, --sd-model or a --sink spec cannot be told from a path by their text ("org/model" is a Hugging Face id).
`plugins` cannot be set from a file: importing a plugin folder runs its code. A key that names no option of the
command, or a value of the wrong type, is an error that names the key - a typo in a protocol file must not be
silently ignored. A top-level key that only other commands have (`duration` while `demo` runs) is not used, and a
note names it and the commands it belongs to.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tomllib
from pathlib import Path

from eegviz.checks import read_at_most
from eegviz.errors import EegvizError

# A settings file is a few KB: anything larger is the wrong file, and would be read whole into memory.
CONFIG_MAX_BYTES = 1 << 20
OTHER_FORMATS = {".json": "JSON", ".yaml": "YAML", ".yml": "YAML"}


def read_config(path: str | Path) -> dict:
    """The parsed TOML file; EegvizError (one line) when it cannot be read or parsed, or holds more than
    CONFIG_MAX_BYTES. Read up to that bound, not whole: /dev/zero was read forever. A pipe is read like a file,
    so `--config <(generate-settings)` works; a named FIFO waits for its writer, as `cat` would. A UTF-8 byte
    order mark is skipped: Windows editors (Notepad's "UTF-8 with BOM", PowerShell 5's `-Encoding utf8`) write
    one, and tomllib read it as "Invalid statement (at line 1, column 1)" on a file that looked right."""
    path = Path(path)
    if path.is_dir():
        raise EegvizError(f"config file {path} is a folder")
    try:
        data = read_at_most(path, CONFIG_MAX_BYTES, f"config file {path}", "a config file")
        return tomllib.loads(data.decode("utf-8-sig"))
    except FileNotFoundError:
        raise EegvizError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        # a newcomer's JSON or YAML file was told only "Invalid statement (at line 1, column 1)"
        other = OTHER_FORMATS.get(path.suffix.lower())
        hint = (f"; it is named as {other}, and a config file is TOML: `key = value` lines and [COMMAND] tables "
                "(`headless = true`)" if other else "")
        raise EegvizError(f"config file {path} is not valid TOML: {e}{hint}") from None
    except UnicodeDecodeError as e:
        raise EegvizError(f"config file {path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise EegvizError(f"config file {path} cannot be read ({e.strerror or e})") from None


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Option name (without dashes, '-' and '_' alike) -> its action, for every --long option of `parser`. An
    option hidden from --help is kept for its refusal, not for a file: sweep's --class-snr-db, set by a top-level
    `class_snr_db` meant for live --simulate and simulate, refused the sweep with "--class-snr-db is not a sweep
    option", a flag nobody had given."""
    found = {}
    for action in parser._actions:  # argparse has no public listing of its actions
        if action.help == argparse.SUPPRESS:
            continue
        for opt in action.option_strings:
            if opt.startswith("--"):
                found[opt[2:].replace("_", "-")] = action
    return found


def _coerce(key: str, value, action: argparse.Action, path: Path):
    """A TOML value as the option's parsed value (type, choices, flags and repeated options checked)."""
    if isinstance(action, (argparse.BooleanOptionalAction, argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise EegvizError(f"config file {path}: '{key}' is a switch; give true or false")
        # a store_false option, or the no- name of a --x / --no-x pair (one action under both names), inverts
        inverted = (isinstance(action, argparse._StoreFalseAction)
                    or (isinstance(action, argparse.BooleanOptionalAction) and key.replace("_", "-").startswith("no-")))
        return not value if inverted else value
    if isinstance(action, argparse._AppendAction):
        values = value if isinstance(value, list) else [value]
        return [_coerce_one(key, v, action, path) for v in values]
    if isinstance(value, list) and "[," in str(action.metavar or ""):
        # --subjects N[,N...], --streams, --classes, --snr-db, --reference: "takes one value" read as "one subject
        # only", where the option takes several, as one text joined by commas (the command line's form)
        joined = ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
        raise EegvizError(f"config file {path}: '{key}' takes its values as one text separated by commas, not a "
                          f"list: {key} = \"{joined}\"")
    if isinstance(value, (list, dict)):
        raise EegvizError(f"config file {path}: '{key}' takes one value, not a {type(value).__name__}")
    return _coerce_one(key, value, action, path)


def _coerce_one(key: str, value, action: argparse.Action, path: Path):
    """One plain TOML value through the option's type. Numbers are checked by their TOML type first, because
    int(2.9) == 2 and int(True) == 1 would silently turn a mistyped `images = 2.9` or `threads = true` into a
    different setting; a quoted number ("3") is refused too, as the value of the wrong type it is."""
    if isinstance(value, (list, dict)):
        raise EegvizError(f"config file {path}: '{key}' takes plain values, not a {type(value).__name__}")
    if action.type in (int, float):
        allowed = (int,) if action.type is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as TOML spells true/false
            what = "an integer (a whole number, no decimal point)" if action.type is int else "a number"
            raise EegvizError(f"config file {path}: '{key}' = {shown} is not {what}")
    elif not isinstance(value, str):  # a text option: `out = 5` wrote into a folder named 5 (found by review)
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        raise EegvizError(f"config file {path}: '{key}' = {shown} is not text; quote it (\"{shown}\") if that "
                          "is what you mean")
    if isinstance(value, str) and "$" in value:
        value = _expand_variables(key, value, path)
    if isinstance(value, str) and value.startswith("~"):
        # a path: the shell expands ~ on a command line, never in a file; `out = "~/kiosk"` made a folder named ~
        # in the working directory for every command that does not expand it itself (simulate, train, eval, ...)
        value = os.path.expanduser(value)
    try:
        out = action.type(value) if action.type is not None else value
    except (TypeError, ValueError):
        raise EegvizError(f"config file {path}: '{key}' = {value!r} is not a valid value") from None
    if action.choices is not None and out not in action.choices:
        raise EegvizError(f"config file {path}: '{key}' = {value!r}; one of {', '.join(map(str, action.choices))}")
    return out


# the last form is a ${...} that names no variable: a shell's ${DATA:-/data}, or a brace left open
_VARIABLE = re.compile(r"\$\$|\$(\w+)|\$\{(\w+)\}|\$\{[^}]*\}?")


def _expand_variables(key: str, value: str, path: Path) -> str:
    """$NAME and ${NAME} replaced by the environment's values, as a shell does on a command line: `out =
    "$HOME/kiosk"` wrote into a folder literally named $HOME in the working directory. A variable that is not set
    is an error naming it, where a shell would make it empty (and "$DATA/session" the root's /session), and so is one
    set to the empty text. "$$" is one literal "$" (as in docker-compose files and Python's string.Template), so a
    path or an OSC address that holds a dollar sign can still be written."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name is None:
            # `${DATA:-/data}` was said to name "$DATA:-/data, which is not set" while DATA was set, and an open
            # `${HOME/kiosk` became a folder of that name
            raise EegvizError(f"config file {path}: '{key}' = {value!r}: {match.group(0)} is not a variable eegviz "
                              "expands; write $NAME or ${NAME} (a shell's ${NAME:-default} and other forms are not "
                              "read), and $$ for a literal $")
        if name not in os.environ:
            raise EegvizError(f"config file {path}: '{key}' = {value!r} names ${name}, which is not set in the "
                              "environment (write $$ for a literal $)")
        if not os.environ[name]:
            # set, but empty (`DATA= eegviz ...`, an unfilled line in a service's environment file): "$DATA/kiosk"
            # became the root's /kiosk, as for a variable not set
            raise EegvizError(f"config file {path}: '{key}' = {value!r} names ${name}, which is empty in the "
                              "environment")
        return os.environ[name]

    return _VARIABLE.sub(one, value)


FILE_CANNOT_SET = ("config", "help", "version", "plugins")  # options a file may not set (plugins: it runs code)


def config_defaults(path: str | Path, command: str, parsers: list[argparse.ArgumentParser],
                    others: dict[str, argparse.ArgumentParser], notes: list[str] | None = None,
                    origins: dict[str, str] | None = None) -> dict:
    """Defaults from the file at `path` for `command`: {dest: value}.

    parsers: the parsers whose options the file may set (the main parser's global options and the
    command's); others: every other command's parser by name, so that a table for another command is
    skipped and a top-level key meant for another command (`model` while `simulate` runs) is left alone,
    while a key no command knows is an error. Options the file sets stop being required on the command line.

    A top-level key left alone that way is named in one line appended to `notes` (when given), with the commands
    it belongs to: one file may serve several commands, so it is no error, but `duration = 60` at the top of a
    demo's file (only live has --duration) ran the demo without end, and not a word said the key was not used.

    origins (when given) gets, for each dest returned, where the file set it, as an error about its value is to
    name it: "config file PATH: 'key' = VALUE" (with "[command]" for a key of the command's table).
    """
    path = Path(path)
    data = read_config(path)
    section = data.get(command, {})
    if command in FILE_CANNOT_SET and not isinstance(section, dict):
        # `plugins = "DIR"` read by `eegviz plugins` was taken for its table, and "must be a table ([plugins])"
        # sent the user to write one, where every other command said that plugins cannot come from a file
        raise EegvizError(f"config file {path}: '{command}' cannot be set from a config file")
    if not isinstance(section, dict):
        raise EegvizError(f"config file {path}: '{command}' must be a table ([{command}])")
    opts = {name: action for parser in parsers for name, action in _options(parser).items()}
    owners: dict[str, list[str]] = {}  # option name -> the other commands that have it
    for other, parser in others.items():
        for name in _options(parser):
            owners.setdefault(name, []).append(other)
    out, unused = {}, []
    # (in a table?, dest) -> the key that set it: `headless = true` and `no_headless = true`, or `sd-model` and
    # `sd_model` (two keys to TOML), in one place set one option twice and the later key won without a word
    set_by: dict[tuple[bool, str], str] = {}
    top = [(k, v, False) for k, v in data.items() if not (isinstance(v, dict) and (k in others or k == command))]
    for key, value, in_section in top + [(k, v, True) for k, v in section.items()]:
        name = key.replace("_", "-")
        if name in FILE_CANNOT_SET:
            # plugins: importing a folder runs its code, so only the person at the command line names one
            raise EegvizError(f"config file {path}: '{key}' cannot be set from a config file")
        action = opts.get(name)
        if action is None:
            if not in_section and name in owners:
                if (argument := _positional(name, parsers)) is not None and notes is not None:
                    # present's IMAGES_DIR: "present has no such option" read as if present took no images folder
                    meta = argument.metavar or argument.dest.upper()
                    notes.append(f"config file {path}: '{key}' is not used by `eegviz {command}`, where it is the "
                                 f"{meta} argument, which a file does not set: give it on the command line "
                                 f"(`eegviz {command} {meta}`)")
                else:
                    unused.append(f"'{key}' ({', '.join(owners[name])})")  # meant for another command
                continue
            if in_section and isinstance(value, dict):
                # `[live.brainflow]` (settings grouped under a heading) was told "[brainflow] is no command's
                # table", naming a table the file does not have
                raise EegvizError(f"config file {path}: [{command}.{key}] is a table inside [{command}]; a command's "
                                  f"table holds its options as `key = value` lines, with no tables inside")
            raise EegvizError(f"config file {path}: {_not_an_option(key, value, command, parsers, owners, others)}")
        if (earlier := set_by.get((in_section, action.dest))) is not None:
            where = f"the [{command}] table" if in_section else "the top level"
            option = next(o for o in action.option_strings if o.startswith("--"))
            raise EegvizError(f"config file {path}: '{earlier}' and '{key}' both set {option} (in {where}); keep one")
        set_by[(in_section, action.dest)] = key
        try:
            out[action.dest] = _coerce(key, value, action, path)
            if origins is not None:
                where = f" [{command}]" if in_section else ""
                origins[action.dest] = f"config file {path}{where}: '{key}' = {toml_text(value)}"
        except EegvizError as e:
            # a top-level key shared with commands that read it otherwise: `stream = "amp"` for live, replay,
            # train and eval is simulate's --stream switch, and "'stream' is a switch" alone read as if the
            # stream's name were wrong for live too
            fits = [] if in_section else [c for c in owners.get(name, ()) if _fits(key, value, others[c], path)]
            if not fits:
                raise
            raise EegvizError(f"{e}, as `eegviz {command}` reads it; a top-level key is read by every command that "
                              "has the option: move it into the table of each command it is for "
                              f"({', '.join(f'[{c}]' for c in fits)})") from None
        action.required = False
    if unused and notes is not None:
        notes.append(f"config file {path}: not used by `eegviz {command}`, which has no such option: "
                     f"{', '.join(unused)}; a key in a [COMMAND] table is read by that command alone")
    return out


def toml_text(value) -> str:
    """A parsed TOML value as the file spells it (true, "text", [1, 2]), for messages that quote a key's value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string escapes as JSON does
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_text, value)) + "]"
    return str(value)


def _positional(name: str, parsers: list[argparse.ArgumentParser]) -> argparse.Action | None:
    """The positional argument (replay's FILE, present's IMAGES_DIR) named `name` ('-' and '_' alike), if any."""
    for parser in parsers:
        for action in parser._actions:  # argparse has no public listing of its actions
            if (not action.option_strings and not isinstance(action, argparse._SubParsersAction)
                    and action.dest.replace("_", "-") == name):
                return action
    return None


def _fits(key: str, value, parser: argparse.ArgumentParser, path: Path) -> bool:
    """Whether `value` is a valid value of the option `key` of another command's parser."""
    try:
        _coerce(key, value, _options(parser)[key.replace("_", "-")], path)
    except EegvizError:
        return False
    return True


def _not_an_option(key: str, value, command: str, parsers: list[argparse.ArgumentParser],
                   owners: dict[str, list[str]], others: dict[str, argparse.ArgumentParser]) -> str:
    """Why `key` is refused, in words that point at the fix. "'file' is not an option of `eegviz replay`" was
    said of replay's own FILE argument, of a misspelt table ([dmeo]) and of a command's settings written as
    one value (`live = true`), and a key in a table for the wrong command did not say whose option it is."""
    name = key.replace("_", "-")
    if (argument := _positional(name, parsers)) is not None:
        meta = argument.metavar or argument.dest.upper()
        return (f"'{key}' is {command}'s {meta} argument, not an option; give it on the command line "
                f"(`eegviz {command} {meta}`)")
    # `"--model" = ...` (the flag as typed on a command line, quoted in TOML) or `Speed = 2` was told it "is not an
    # option of `eegviz demo`", of the very option demo has
    plain = name.lstrip("-").lower()
    if plain != name and (plain in owners or any(plain in _options(parser) for parser in parsers)):
        return (f"'{key}' is not how a key is spelt: write the option's name without its dashes, in lower case "
                f"({plain.replace('-', '_') if '_' in key else plain} = ...)")
    if isinstance(value, dict):
        return (f"[{key}] is no command's table; a table is named after the command it is for "
                f"({', '.join(sorted([command, *others]))})")
    if name in others:
        return f"'{key}' is a command: the settings of `eegviz {key}` go in a [{key}] table"
    if name in owners:
        return f"'{key}' is not an option of `eegviz {command}` (it is an option of {', '.join(owners[name])})"
    return f"'{key}' is not an option of `eegviz {command}`"
