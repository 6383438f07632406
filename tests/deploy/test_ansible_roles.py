"""The roles of deploy/ansible held to the programs and to deploy/, without running a play:
ansible-lint's strictest profile; each role's unit, rendered by Ansible's templating with
the role's defaults (or the example inventory's service), is the unit in deploy/ byte for
byte, so that deploy/'s units, which tests/test_deploy.py verifies, are what the play
installs; numbatd.toml rendered from the defaults and from the example inventory passes
numbatd's own check; the unit check the templates validate with passes a good unit and
refuses a bad one; and the two filters (TOML, systemd command lines) give back what they
were given, read by tomllib and by systemd's rules (property-tested).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.config import parse_config
from collector.sinks import SINK_TYPES

from .play import ANSIBLE, ROOT, outside_env

pytest.importorskip("ansible", reason="ansible-core is not installed: pip install -e '.[dev]'")

from .rendering import FILTERS, Templar, _loader, example_inventory, render, render_run_unit, role_variables

DEPLOY = ROOT / "deploy"
LINT = Path(sys.executable).parent / "ansible-lint"

_spec = importlib.util.spec_from_file_location("numbat_filters", FILTERS / "numbat.py")
assert _spec is not None
assert _spec.loader is not None
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)


@pytest.mark.slow
@pytest.mark.skipif(not LINT.exists(), reason="ansible-lint is not installed: pip install -e '.[dev]'")
def test_ansible_lint_is_clean_at_its_production_profile(tmp_path) -> None:
    result = subprocess.run(
        [str(LINT), "--offline", "--profile", "production", "--nocolor"],
        cwd=ANSIBLE,
        env=outside_env(ANSIBLE_HOME=str(tmp_path), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed: 0 failure(s), 0 warning(s)" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        ("numbatd", "numbatd.service"),
        ("numbat_logs_live", "numbat-logs-live.service"),
        ("numbat_logs_serve", "numbat-logs-api.service"),
    ],
)
def test_the_role_installs_the_unit_of_deploy(role: str, unit: str) -> None:
    assert render(role, f"{unit}.j2", role_variables(role)) == (DEPLOY / unit).read_text()


def test_the_numbat_run_role_installs_the_example_unit_of_deploy() -> None:
    given_vars = example_inventory("api_hosts") | {"inventory_hostname": "registry-1.example.net"}
    [service] = Templar(loader=_loader, variables=given_vars).template(given_vars["numbat_run_services"])
    assert render_run_unit(service, **given_vars) == (DEPLOY / "numbat-run-registry.service").read_text()


@pytest.mark.parametrize(
    ("inventory", "listeners"),
    [
        ("defaults", ["udp://127.0.0.1:3333", "tcp://127.0.0.1:3333"]),
        ("example", ["udp://0.0.0.0:3333", "tcp://0.0.0.0:3333", "udp://0.0.0.0:8125"]),
    ],
)
def test_the_rendered_numbatd_toml_is_a_configuration_numbatd_takes(inventory: str, listeners: list[str]) -> None:
    given_vars = example_inventory("collectors") if inventory == "example" else {}
    variables = role_variables("numbatd", **given_vars) | {"ansible_managed": "Ansible managed"}
    config = parse_config(tomllib.loads(render("numbatd", "numbatd.toml.j2", variables)), SINK_TYPES)
    assert [listener.url for listener in config.listeners] == listeners
    assert [sink.name for sink in config.sinks] == [sink["name"] for sink in variables["numbatd_sinks"]]


def test_numbatd_config_extra_is_merged_over_the_tables() -> None:
    extra = {"limits": {"max_line_bytes": 4096}, "log": {"flood_rate": 2.0}, "state_dir": "/srv/numbat"}
    variables = role_variables("numbatd", numbatd_config_extra=extra) | {"ansible_managed": "Ansible managed"}
    table = tomllib.loads(render("numbatd", "numbatd.toml.j2", variables))
    assert (table["limits"], table["log"], table["state_dir"]) == (
        {"max_line_bytes": 4096},
        {"level": "info", "flood_rate": 2.0},
        "/srv/numbat",
    )
    parse_config(table, SINK_TYPES)


needs_verify = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


@needs_verify
@pytest.mark.parametrize(("setting", "passes"), [("ProtectSystem=strict", True), ("ProtectSystem=stricter", False)])
def test_the_unit_check_passes_a_good_unit_and_refuses_a_bad_one(tmp_path, setting: str, passes: bool) -> None:
    """The command the unit templates validate with (numbat_common's vars), run as Ansible
    runs it: split as a shell would, %s the new text (under a name that is no unit's)."""
    script = str(role_variables("numbat_common")["numbat_common_verify_script"])
    unit = (DEPLOY / "numbatd.service").read_text().replace("/opt/numbat/bin/", f"{Path(sys.executable).parent}/")
    source = tmp_path / "source"
    source.write_text(unit.replace("ProtectSystem=strict", setting))
    command = script.replace("%s", str(source)) + f" {shutil.which('systemd-analyze')} numbatd.service"
    result = subprocess.run(
        ["/bin/sh", "-c", f"exec {command}"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode == 0) == passes, result.stderr
    assert ("stricter" in result.stderr) == (not passes)


# --- the filters -------------------------------------------------------------------------

#: Characters that systemd and TOML give a meaning to, drawn often; and any other.
SPECIAL = st.sampled_from(list(" \t\n\r\x01\x7f\"'\\%$;=:-é"))
characters = SPECIAL | st.characters(exclude_categories=["Cs"])
keys = st.text(characters, min_size=1, max_size=12)
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(characters, max_size=30)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
documents = st.dictionaries(
    keys, values | st.lists(st.dictionaries(keys, values, min_size=1, max_size=3), min_size=1, max_size=3), max_size=6
)


@given(documents)
def test_numbat_toml_is_read_back_as_it_was_given(document: dict[str, Any]) -> None:
    assert tomllib.loads(filters.numbat_toml(document)) == document


def test_numbat_toml_leaves_out_nulls_and_refuses_what_toml_cannot_hold() -> None:
    assert tomllib.loads(filters.numbat_toml({"a": None, "b": {"c": None, "d": 1}})) == {"b": {"d": 1}}
    with pytest.raises(filters.TomlError, match=r"sinks\[0\]\.max_bytes"):
        filters.numbat_toml({"sinks": [{"max_bytes": 2**64}]})
    with pytest.raises(filters.TomlError, match="surrogate"):
        filters.numbat_toml({"a": "\udc80"})


ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def systemd_split(line: str) -> list[str]:
    """A command line's words as systemd reads them (systemd.syntax(7), systemd.service(5):
    "Command lines"): words split on whitespace, quoted in "..." or '...', C escapes in and
    out of quotes, %% a %, $$ a $ (no specifiers or variables are used here, so any other %
    or $ is an error), a continuation line joined."""
    line = line.replace("\\\n", " ")
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i] in " \t":
            i += 1
            continue
        word, quote = [], None
        if line[i] in "\"'":
            quote, i = line[i], i + 1
        while i < len(line) and (quote or line[i] not in " \t"):
            char = line[i]
            if quote and char == quote:
                i += 1
                assert i == len(line) or line[i] in " \t", "a closing quote must end the word"
                quote = None
                break
            if char == "\\":
                following = line[i + 1]
                if following == "x":
                    word.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 4
                elif following == ";":
                    word.append(";")
                    i += 2
                else:
                    word.append(ESCAPES[following])
                    i += 2
                continue
            if char in "%$":
                assert line[i + 1] == char, f"a lone {char} would be a specifier or a variable"
                i += 1
            word.append(char)
            i += 1
        assert quote is None, "an unclosed quote"
        words.append("".join(word))
    return words


arguments = st.lists(st.text(characters, max_size=20), min_size=1, max_size=6)


@given(arguments, st.booleans())
def test_numbat_systemd_args_are_the_arguments_systemd_hands_the_program(argv: list[str], breaks: bool) -> None:
    assert systemd_split(filters.numbat_systemd_args(argv, break_before_options=breaks)) == argv


def test_numbat_systemd_args_quotes_only_what_needs_it() -> None:
    argv = ["live", "--syslog", "tcp://0.0.0.0:6514", "--json-field", "time=when", "a b", "50%", "$HOME", ";", ""]
    assert filters.numbat_systemd_args(argv) == (
        'live --syslog tcp://0.0.0.0:6514 --json-field time=when "a b" "50%%" "$$HOME" \\; ""'
    )


@needs_verify
def test_a_quoted_command_line_passes_systemd_analyze_verify(tmp_path) -> None:
    """systemd itself reads what the filter writes, with no complaint of a bad escape or quote."""
    argv = ["--app", "svc", "--", "/bin/sh", "-c", 'echo "50% of $HOME" \\ done;', "tab\there", "\x01"]
    text = (DEPLOY / "numbat-run-registry.service").read_text()
    start = text.index("ExecStart=")
    end = text.index("\n# numbat-run passes")
    line = f"ExecStart={Path(sys.executable).parent}/numbat-run {filters.numbat_systemd_args(argv, True)}"
    unit = tmp_path / "numbat-run-svc.service"
    unit.write_text(text[:start] + line + text[end:])
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    ours = [line for line in (result.stdout + result.stderr).splitlines() if str(unit) in line or "svc" in line]
    assert (result.returncode, ours) == (0, [])
