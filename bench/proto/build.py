"""Build the C line-stream prototype in place: ``python bench/proto/build.py``.

Compiles ``bench/proto/_cstream.pyx`` with Cython and the C compiler into a
``_cstream*.so`` next to it (temporary files under ``bench/proto/build/``)
and prints the path of the module. Idempotent: an up-to-date module is left
as it is. Exits with status 2 and a message saying what to install when
Cython or a C compiler is missing. The flubber package never uses it; only
the ``flubber_c`` kind of ``bench/io_servers.py`` does.
"""
import glob
import os
import shutil
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "_cstream.pyx")


def built_module():
    """The path of the built extension for this interpreter, or None."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    path = os.path.join(HERE, "_cstream" + suffix)
    return path if os.path.exists(path) else None


def missing_tools():
    """A sentence naming what the build needs and is missing, or None."""
    problems = []
    try:
        import Cython  # noqa: F401
    except ImportError:
        problems.append("Cython (pip install cython)")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None and shutil.which("cc") is None and shutil.which("gcc") is None:
        problems.append("a C compiler (%s, gcc or cc on PATH)" % compiler)
    if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        problems.append("the Python headers (Python.h)")
    return ("missing: " + ", ".join(problems)) if problems else None


def build(quiet=True):
    """Build the extension if it is missing or older than its source; return its path.

    :raises RuntimeError: a tool is missing or the build failed.
    """
    existing = built_module()
    if existing and os.path.getmtime(existing) >= os.path.getmtime(SOURCE):
        return existing
    problem = missing_tools()
    if problem:
        raise RuntimeError("cannot build the C stream prototype: " + problem)
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    extension = Extension("_cstream", [SOURCE])
    try:
        modules = cythonize([extension], quiet=quiet, compiler_directives={"language_level": 3},
                            build_dir=os.path.join(HERE, "build"))
    except Exception as exc:
        raise RuntimeError("Cython could not compile %s: %s" % (SOURCE, exc)) from None
    dist = Distribution({"name": "flubber-cstream-proto", "ext_modules": modules})
    dist.script_args = (["--quiet"] if quiet else []) + [
        "build_ext", "--inplace", "--build-temp", os.path.join(HERE, "build", "tmp"),
        "--build-lib", os.path.join(HERE, "build", "lib")]
    dist.parse_command_line()
    here = os.getcwd()
    os.chdir(HERE)  # --inplace puts the module in the current folder for a top-level name
    try:
        dist.run_commands()
    except (Exception, SystemExit) as exc:
        raise RuntimeError("building the C stream prototype failed: %s" % (exc,)) from None
    finally:
        os.chdir(here)
    path = built_module()
    if path is None:
        raise RuntimeError("the build ran but no _cstream module appeared in %s (found: %s)"
                           % (HERE, ", ".join(glob.glob(os.path.join(HERE, "_cstream*"))) or "nothing"))
    return path


def main():
    """Build, print where the module is; exit 2 with a message on failure."""
    try:
        path = build(quiet="-v" not in sys.argv[1:])
    except RuntimeError as exc:
        sys.stderr.write("bench/proto/build.py: %s\n" % exc)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
