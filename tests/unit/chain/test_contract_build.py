"""The offline Solidity build: committed artifacts match their sources, and staleness is detected."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
COMPILE = ROOT / "contracts" / "compile.js"
SCRATCH_SETTINGS = '{"evmVersion": "prague", "optimizer": {"enabled": true, "runs": 200}, "viaIR": false}\n'


def _node(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is not installed (make setup)"
    return subprocess.run([node, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_committed_artifacts_are_up_to_date() -> None:
    result = _node(str(COMPILE), "--check")
    assert result.returncode == 0, f"stale contract artifacts, run `make contracts`:\n{result.stderr}"


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build (script, the Counter fixture) in a scratch tree, compiled once per module."""
    tree = tmp_path_factory.mktemp("build")
    (tree / "contracts").mkdir(parents=True)
    shutil.copy(COMPILE, tree / "contracts" / "compile.js")
    # The build mechanism under test, not the project's settings: no viaIR keeps these compiles ~1 s.
    (tree / "contracts" / "solc-settings.json").write_text(SCRATCH_SETTINGS)
    # Outside contracts/test/, so that it builds into the package directory like a product contract.
    shutil.copy(ROOT / "contracts" / "test" / "Counter.sol", tree / "contracts" / "Counter.sol")
    (tree / "node_modules").symlink_to(ROOT / "node_modules")
    built = _node(str(tree / "contracts" / "compile.js"), "--out", str(tree / "artifacts"))
    assert built.returncode == 0, built.stderr
    return tree


@pytest.fixture
def build_tree(built_once: Path, tmp_path: Path) -> Path:
    """A private copy of the compiled scratch tree, with node_modules linked in."""
    tree = tmp_path / "tree"
    shutil.copytree(built_once / "contracts", tree / "contracts")
    shutil.copytree(built_once / "artifacts", tree / "operator" / "flalliance" / "chain" / "artifacts")
    (tree / "node_modules").symlink_to(ROOT / "node_modules")
    return tree


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    return _node(str(tree / "contracts" / "compile.js"), "--check")


def test_fresh_build_passes_the_check(build_tree: Path) -> None:
    artifacts = build_tree / "operator" / "flalliance" / "chain" / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == ["Counter.json"]
    assert _check(build_tree).returncode == 0


def test_edited_source_makes_its_artifact_stale(build_tree: Path) -> None:
    source = build_tree / "contracts" / "Counter.sol"
    source.write_text(source.read_text().replace("uint256 public value;", "uint256 public value; // edited"))
    result = _check(build_tree)
    assert result.returncode == 1
    assert "Counter.json: stale, changed: contracts/Counter.sol" in result.stderr


def test_changed_compiler_settings_make_artifacts_stale(build_tree: Path) -> None:
    settings = build_tree / "contracts" / "solc-settings.json"
    settings.write_text(settings.read_text().replace('"runs": 200', '"runs": 1000'))
    result = _check(build_tree)
    assert result.returncode == 1
    assert "Counter.json: stale, compiler settings changed" in result.stderr


def test_new_source_without_artifact_is_reported(build_tree: Path) -> None:
    (build_tree / "contracts" / "Extra.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.37;\ncontract Extra {}\n"
    )
    result = _check(build_tree)
    assert result.returncode == 1
    assert "contracts/Extra.sol: no artifact is built from it" in result.stderr


def test_verify_detects_a_hand_edited_artifact(build_tree: Path) -> None:
    artifact = build_tree / "operator" / "flalliance" / "chain" / "artifacts" / "Counter.json"
    artifact.write_text(artifact.read_text().replace('"bytecode": "0x6', '"bytecode": "0x7', 1))
    assert _check(build_tree).returncode == 0  # the fast check trusts recorded hashes ...
    result = _node(str(build_tree / "contracts" / "compile.js"), "--verify")
    assert result.returncode == 1  # ... the full one recompiles
    assert "Counter.json: differs from a fresh build" in result.stderr


def test_compile_errors_fail_the_build(build_tree: Path) -> None:
    broken = "pragma solidity 0.8.37;\ncontract Broken { uint x = ; }\n"
    (build_tree / "contracts" / "Broken.sol").write_text(broken)
    result = _node(str(build_tree / "contracts" / "compile.js"))
    assert result.returncode == 1
    assert "compilation failed" in result.stderr


def test_test_contracts_stay_out_of_the_package() -> None:
    """contracts/test/** builds into tests/contracts/artifacts: the package ships only product contracts."""
    packaged = {p.name for p in (ROOT / "operator" / "flalliance" / "chain" / "artifacts").iterdir()}
    tests_only = {p.name for p in (ROOT / "tests" / "contracts" / "artifacts").iterdir()}
    sources = {p.stem + ".json" for p in (ROOT / "contracts" / "test").glob("*.sol")}
    assert sources and tests_only == sources and not packaged & sources
