"""The component guide's example project passes its own tests.

The guide shows ``doc/source/examples/svc-hasher/tests`` as what a
component's tests look like and what they print; they run here in a pytest
of their own, as a component's project would run them, with the example's
entry point registered by a dist-info directory instead of an install.
"""

import os
import subprocess
import sys

EXAMPLE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    *[os.pardir] * 3,
    "doc",
    "source",
    "examples",
    "svc-hasher",
)


def register_example(directory):
    info = os.path.join(directory, "svc_hasher-0.1.0.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as stream:
        stream.write("Metadata-Version: 2.1\nName: svc-hasher\nVersion: 0.1.0\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as stream:
        stream.write("[svcframe.components]\nhasher = svc_hasher.manager:HasherManager\n")


def test_the_hasher_example_passes_its_tests(tmp_path):
    register_example(str(tmp_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.path.abspath(EXAMPLE)]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout
