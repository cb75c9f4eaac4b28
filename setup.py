"""Maps the top-level envs/, wrappers/ and baselines/ folders into the selfplay_gym package.

All metadata lives in pyproject.toml; this file only computes the package list so that a new
family folder (envs/<family>/ with an __init__.py) is packaged without editing any list.
"""

from setuptools import find_packages, setup

MAPPED = {"selfplay_gym.envs": "envs", "selfplay_gym.wrappers": "wrappers",
          "selfplay_gym.baselines": "baselines"}

packages = find_packages("src")
for name, folder in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir={"": "src", **MAPPED})
