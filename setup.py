"""carebot: an ament_python package (colcon / ros2 run) that is also pip-installable."""
import os
import runpy
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "carebot"
HERE = os.path.dirname(os.path.abspath(__file__))
# The node set lives in one place; read it without importing the package.
bringup = runpy.run_path(os.path.join(HERE, "carebot", "bringup.py"))


def data_files():
    files = [
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
    ]
    for folder in ("launch", "config", "urdf", "models"):
        for path in glob(os.path.join(folder, "**", "*"), recursive=True):
            if os.path.isfile(path):
                files.append((os.path.join("share", PACKAGE, os.path.dirname(path)), [path]))
    return files


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, PACKAGE + ".*"]),
    package_data={PACKAGE: ["**/*.html", "**/*.js", "**/*.css", "**/*.yaml", "**/*.json"]},
    data_files=data_files(),
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="carebot developers",
    description="Care-home service robot stack (ROS 2)",
    license="Apache-2.0",
    entry_points={"console_scripts": bringup["console_scripts"]()},
)
