"""environment.yml (conda) and pyproject.toml (pip) list the same packages with the same bounds."""

import re
import tomllib

import yaml

from analysis import config

ROOT = config.PROJECT_ROOT


def _split(req: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req.strip()).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and d not in ("pip",)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    have = [d for d in conda if not d.startswith("python>")] + [p for p in pip if not p.startswith("-e")]
    assert dict(map(_split, have)) == dict(map(_split, wanted))
    assert any(p.startswith("-e .") for p in pip)
