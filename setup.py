"""Package list only; all metadata lives in pyproject.toml.

The apps are developed in the top-level ``apps/`` folder but installed under the
specific import name ``gmmkit_apps`` (never a bare ``apps``), so their
subpackages are found there and renamed.
"""
from setuptools import find_packages, setup

core = find_packages(include=["gmmkit", "gmmkit.*"])
apps = ["gmmkit_apps"] + ["gmmkit_apps." + p for p in find_packages("apps")]

setup(packages=core + apps, package_data={"gmmkit_apps": ["*/*.json"]})
