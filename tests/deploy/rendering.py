"""The roles' templates rendered in this process, by Ansible's own templating, with the
variables an operator would give: for the tests that hold the roles to deploy/ and to the
programs (no play is run, so these are fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader
from ansible.template import Templar, trust_as_template

from .play import ANSIBLE

ROLES = ANSIBLE / "roles"
FILTERS = ROLES / "numbat_common" / "filter_plugins"
filter_loader.add_directory(str(FILTERS))
_loader = DataLoader()


def trusted(value: Any) -> Any:
    """Strings from the role's own files are templates, as Ansible takes them."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def load_yaml(path: Path) -> dict[str, Any]:
    return trusted(_loader.load_from_file(str(path))) or {}


def role_variables(role: str, **given: Any) -> dict[str, Any]:
    """The role's defaults, then ``given`` (an inventory's), then its vars, as Ansible ranks them."""
    variables: dict[str, Any] = {}
    for part, more in (("defaults", {}), ("given", given), ("vars", {})):
        if part == "given":
            variables.update(more)
        elif (ROLES / role / part / "main.yml").exists():
            variables.update(load_yaml(ROLES / role / part / "main.yml"))
    return variables


def render(role: str, template: str, variables: dict[str, Any]) -> str:
    text = (ROLES / role / "templates" / template).read_text()
    rendered = Templar(loader=_loader, variables=variables).template(trust_as_template(text))
    assert isinstance(rendered, str)
    return rendered


def render_run_unit(service: dict[str, Any], **given: Any) -> str:
    """One numbat_run service's unit, its command line from argv.j2 as the role takes it."""
    variables = role_variables("numbat_run", **given) | {"item": service}
    variables["numbat_run_argv"] = json.loads(render("numbat_run", "argv.j2", variables))
    return render("numbat_run", "numbat-run.service.j2", variables)


def example_inventory(group: str) -> dict[str, Any]:
    """The example inventory's variables for a host of ``group``."""
    folder = ANSIBLE / "inventory" / "example" / "group_vars"
    return load_yaml(folder / "all.yml") | load_yaml(folder / f"{group}.yml")
