import importlib
import subprocess
import sys

import werk.maintenance


def test_every_exported_name_resolves():
    for name in werk.maintenance.__all__:
        assert getattr(werk.maintenance, name) is not None, name


def test_importing_the_package_stays_light():
    # the CLI imports werk.maintenance on every `werk` call; LightGBM, torch and basyx load on
    # use (the deep module too: torch is imported by what fits, predicts or loads)
    code = (
        "import sys, werk.maintenance, werk.maintenance.deep, werk.maintenance.training; "
        "print(*(m in sys.modules for m in ('lightgbm', 'torch', 'basyx')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
    assert importlib.import_module("werk.maintenance.errors").MaintenanceError
