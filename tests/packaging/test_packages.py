"""Both packages build (sdist, then a wheel from the sdist), carry their README, and install into a clean
virtual environment at the lowest and the highest dependency versions their metadata allows; the
installed executables run a real pipe against the stand-ins."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from tap_stripe_billing.state import to_iso

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.processes import REPO_ROOT
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.adopt.harness import LAG, delivered_events, expected_events

UV = str(Path(sys.executable).parent / "uv")
PACKAGES = ("tap-stripe-billing", "target-kissmetrics")
KM_KEY = "km_packaging_SECRETCANARY_5e1"


def uv(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # No constraint or index settings from the developer's environment: what a user gets from PyPI.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_CONSTRAINT", "UV_OVERRIDE", "PIP_"))}
    done = subprocess.run(
        [UV, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"uv {' '.join(args)}: {done.stderr[-3000:]}"
    return done


def project(name: str) -> dict[str, str]:
    """Name and version as this checkout's (editable) install declares them."""
    return {"name": name, "version": version(name)}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (sdist, wheel), built the way a release would be: `uv build` (wheel built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    built = {}
    for name in PACKAGES:
        folder = out / name
        uv("build", "--quiet", "--out-dir", str(folder), str(REPO_ROOT / name))
        [sdist] = folder.glob("*.tar.gz")
        [wheel] = folder.glob("*.whl")
        built[name] = (sdist, wheel)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("name", PACKAGES)
def test_sdist_and_wheel_carry_the_package_and_its_readme(
    name: str, dist: dict[str, tuple[Path, Path]]
) -> None:
    sdist, wheel = dist[name]
    module = name.replace("-", "_")
    meta = project(name)
    readme = (REPO_ROOT / name / "README.md").read_text()
    with zipfile.ZipFile(wheel) as whl:
        files = whl.namelist()
        info = email.message_from_string(whl.read(f"{module}-{meta['version']}.dist-info/METADATA").decode())
        entry_points = whl.read(f"{module}-{meta['version']}.dist-info/entry_points.txt").decode()
    assert {f.split("/")[0] for f in files} == {module, f"{module}-{meta['version']}.dist-info"}
    assert f"{module}/tap.py" in files or f"{module}/target.py" in files
    assert info["Name"] == name and info["Version"] == meta["version"]
    assert info["Description-Content-Type"] == "text/markdown"
    assert info.get_payload().strip() == readme.strip(), "the wheel's long description is the README"
    assert f"{name} = " in entry_points
    assert f"{module}-{meta['version']}.dist-info/licenses/LICENSE" in files, "the MIT licence ships"
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"README.md", "LICENSE", "pyproject.toml", "PKG-INFO", f"{module}/__init__.py"} <= names
    assert not any(n.startswith(("tests/", ".venv", ".meltano")) for n in names)


def install(wheel: Path, venv: Path, resolution: str) -> Path:
    with zipfile.ZipFile(wheel) as whl:
        [metadata] = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        requires = email.message_from_string(whl.read(metadata).decode()).get_all("Requires-Dist") or []
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    # The package's own requirements are named on the command line so that `lowest-direct` applies to
    # them (and only them: their dependencies resolve as a user's would).
    uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "--resolution",
        resolution,
        str(wheel),
        *requires,
    )
    installed = dict(
        line.split("==", 1)
        for line in uv("pip", "freeze", "--python", str(python)).stdout.split()
        if "==" in line
    )
    installed = {canonicalize_name(k): v for k, v in installed.items()}
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        got = Version(installed[canonicalize_name(requirement.name)])
        assert got in requirement.specifier, (requirement, got)
        floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
        if resolution == "lowest-direct" and floors:
            # The lowest version allowed (a floor like `>=2.2` is met by 2.2.0, the first 2.2 release).
            assert got.release[: len(max(floors).release)] == max(floors).release, (requirement, got)
    return venv / "bin"


@pytest.fixture(scope="module")
def stripe() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=73, invoices=250, history_days=45, horizon_days=2, change_share=0.3, refund_share=0.12
    )
    with StripeStandIn(generate_account(cfg), port=0) as server:
        yield server


@pytest.mark.slow
@pytest.mark.timeout(900)  # builds and installs packages: minutes on a loaded machine
@pytest.mark.parametrize("resolution", ["lowest-direct", "highest"])
def test_wheels_in_clean_venvs_run_the_pipe(
    resolution: str, dist: dict[str, tuple[Path, Path]], stripe: StripeStandIn, tmp_path: Path
) -> None:
    bins = {name: install(dist[name][1], tmp_path / f"venv-{name}", resolution) for name in PACKAGES}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_STRIPE", "TARGET_KISS", "MELTANO", "PYTHONPATH"))
    }
    for name, bin_dir in bins.items():
        done = subprocess.run(
            [str(bin_dir / name), "--version"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        assert done.returncode == 0 and done.stdout.startswith(f"{name} v{project(name)['version']}"), done
        about = subprocess.run(
            [str(bin_dir / name), "--about", "--format=json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
        )
        assert about.returncode == 0, about.stderr[-2000:]
        assert json.loads(about.stdout)["name"] == name
        # The executable runs the installed copy, not this checkout.
        where = subprocess.run(
            [str(bin_dir / "python"), "-c", f"import {name.replace('-', '_')} as m; print(m.__file__)"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=True,
        )
        assert str(tmp_path) in where.stdout
    account = stripe.account
    start = account.now - 40 * 86_400
    with KissmetricsStandIn(api_key=KM_KEY) as km:
        tap_cfg, target_cfg = tmp_path / "tap.json", tmp_path / "target.json"
        tap_cfg.write_text(
            json.dumps({"api_key": LIVE_KEY, "api_url": stripe.url, "start_date": to_iso(start)})
        )
        target_cfg.write_text(
            json.dumps(
                {"api_key": KM_KEY, "tracking_url": km.url, "journal_path": str(tmp_path / "j.sqlite")}
            )
        )
        tap = subprocess.run(
            [str(bins["tap-stripe-billing"] / "tap-stripe-billing"), "--config", str(tap_cfg)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
            check=False,
        )
        assert tap.returncode == 0, tap.stderr[-3000:]
        target = subprocess.run(
            [str(bins["target-kissmetrics"] / "target-kissmetrics"), "--config", str(target_cfg)],
            input=tap.stdout,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
            check=False,
        )
        assert target.returncode == 0, target.stderr[-3000:]
        assert delivered_events(km) == expected_events(account, start, account.now - LAG)
        assert km.violations() == []
