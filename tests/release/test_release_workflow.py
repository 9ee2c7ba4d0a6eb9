"""The release workflow (.github/workflows/release.yml) parses and has the jobs a
release needs: maturin's action for every platform, the sdist, the plugins, and
publishing to PyPI on a tag with trusted publishing. CI runs no GitHub Actions, so
this test is what validates the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "release.yml"
MATURIN = "PyO3/maturin-action@v1"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def maturin_steps(job: dict) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses") == MATURIN]


def targets(job: dict) -> set[str]:
    matrix = job["strategy"]["matrix"]
    return set(matrix.get("target", [])) | {entry["target"] for entry in matrix.get("include", [])}


def test_it_runs_on_a_version_tag(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["tags"] == ["v*"]


def test_linux_wheels_are_manylinux2014_for_x86_64_and_aarch64(workflow):
    job = workflow["jobs"]["linux"]
    assert targets(job) == {"x86_64", "aarch64"}
    (step,) = maturin_steps(job)
    assert step["with"]["manylinux"] == "2014"
    assert "--release" in step["with"]["args"]


def test_musllinux_macos_and_windows_wheels(workflow):
    jobs = workflow["jobs"]
    (musl,) = maturin_steps(jobs["musllinux"])
    assert musl["with"]["manylinux"].startswith("musllinux")
    assert "x86_64" in targets(jobs["musllinux"])
    macos = jobs["macos"]
    assert targets(macos) >= {"x86_64", "aarch64"} or "universal2" in str(maturin_steps(macos))
    # Runners of GitHub's that exist (macos-13, the older Intel image, was retired in December 2025).
    runners = {entry["runner"] for entry in macos["strategy"]["matrix"]["include"]}
    assert runners <= {"macos-14", "macos-15", "macos-15-intel", "macos-26", "macos-latest"}, runners
    assert jobs["windows"]["runs-on"].startswith("windows")
    assert maturin_steps(jobs["windows"])


def test_the_sdist_and_the_plugins(workflow):
    jobs = workflow["jobs"]
    (sdist,) = maturin_steps(jobs["sdist"])
    assert sdist["with"]["command"] == "sdist"
    commands = "\n".join(step.get("run", "") for step in jobs["plugins"]["steps"])
    assert "plugins/*/" in commands and "build" in commands
    assert "twine check" in commands


def test_publishing_waits_for_every_build_and_uses_trusted_publishing(workflow):
    jobs = workflow["jobs"]
    publish = jobs["publish"]
    builds = {name for name, job in jobs.items() if name != "publish" and any(
        step.get("uses", "").startswith("actions/upload-artifact") for step in job["steps"])}
    assert builds == {"linux", "musllinux", "macos", "windows", "sdist", "plugins"}
    assert set(publish["needs"]) == builds
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish") for step in publish["steps"])
    # No token: trusted publishing only.
    assert "password" not in str(publish["steps"])
