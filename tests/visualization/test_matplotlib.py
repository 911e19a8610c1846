from __future__ import annotations

import subprocess
import sys


def test_without_matplotlib_the_import_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "try:\n"
        "    import tuner.visualization\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'tuner[plot]'" in out.stdout


def test_import_tuner_leaves_matplotlib_unloaded_until_visualization_is_imported() -> None:
    code = (
        "import sys, tuner\n"
        "print('matplotlib' in sys.modules)\n"
        "import tuner.visualization\n"
        "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
