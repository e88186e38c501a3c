"""Serve a generated component from its source directory, without installing it.

    python scaffold_server.py PROJECT_DIR PACKAGE NAME --config-file F

Two versions of one component, in two directories, can then run side by
side: ``svc-launch`` would find only the one installed.
"""

import importlib
import sys

from oslo_config import cfg

from svcframe import log, service


def main(argv):
    project, package, name, *args = argv
    sys.path.insert(0, project)
    manager = importlib.import_module(f"{package}.manager")
    manager_class = next(
        value
        for key, value in vars(manager).items()
        if key.endswith("Manager") and key != "Manager"
    )
    conf = cfg.CONF
    log.register_options(conf)
    service.register_opts(conf)
    conf(args, project="svcframe", default_config_files=[])
    server = service.Service.create(
        binary=f"svc-{name}", topic=name, manager=manager_class, conf=conf
    )
    log.setup(conf, "svcframe")
    service.serve(server, workers=1)
    return service.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
