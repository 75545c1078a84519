"""Packaging for flubber: cooperative I/O for lab slow control and data acquisition."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    """Return ``__version__`` from flubber/__init__.py without importing it."""
    with open(os.path.join(HERE, "flubber", "__init__.py"), encoding="utf-8") as handle:
        return re.search(r'^__version__ = "([^"]+)"', handle.read(), re.M).group(1)


def read_readme():
    """Return the README for the long description."""
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as handle:
        return handle.read()


EXTRAS = {
    "mysql": ["mysqlclient>=2.1"],
    "serial": ["pyserial>=3.5"],
    "amqp": ["pika>=1.3"],
    "docs": ["sphinx>=7"],
    "test": ["pytest>=7", "pytest-timeout>=2.1", "hypothesis>=6", "freezegun>=1.2", "pyvisa>=1.13", "pyvisa-py>=0.7",
             "aiosmtpd>=1.4", "selenium>=4.10"],
    "bench": ["uvloop>=0.17", "cython>=3"],
    "plot": ["matplotlib>=3.6"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="flubber",
    version=read_version(),
    description="Cooperative I/O toolkit on gevent for laboratory slow control and data acquisition",
    long_description=read_readme(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["flubber", "flubber.*"]),
    package_data={"flubber.web": ["static/*"]},
    install_requires=[
        "gevent>=22.10",
        "greenlet>=2.0",
        "PyYAML>=6",
        "simpleeval>=0.9.13",
        "rich>=13",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["flubber = flubber.cli:main"]},
    classifiers=[
        "Framework :: gevent",
        "Intended Audience :: Science/Research",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering",
    ],
)
