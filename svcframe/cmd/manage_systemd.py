"""svc-manage systemd: the template unit that runs svc-launch under systemd.

    svc-manage systemd unit        # print it
    svc-manage systemd install     # write /etc/systemd/system/svcframe@.service

The unit runs ``svc-launch`` from the environment ``svc-manage`` itself
runs in (the directory of ``sys.executable``, e.g. /opt/svcframe/bin for
a virtualenv there), so it needs no editing.  etc/systemd/svcframe@.service
is this unit for /opt/svcframe/bin.
"""

import os
import string
import sys

from svcframe.cmd import errors
from svcframe.cmd.groups import add_command, add_group

__all__ = [
    "DEFAULT_BINDIR",
    "DEFAULT_CONFIG",
    "DEFAULT_UNIT_DIR",
    "UNIT_NAME",
    "add_parser",
    "render_unit",
]

UNIT_NAME = "svcframe@.service"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
DEFAULT_CONFIG = "/etc/svcframe/svcframe.conf"
#: Where the documented install puts svcframe: a virtualenv in /opt/svcframe.
DEFAULT_BINDIR = "/opt/svcframe/bin"
DOCUMENTATION = "https://svcframe.readthedocs.io/en/latest/operations.html"

_UNIT = string.Template("""\
# svcframe service, one instance per component: systemctl start svcframe@conductor
# Written by: svc-manage systemd install (see the operations documentation).
[Unit]
Description=svcframe %i service
Documentation=${documentation}
After=network-online.target
Wants=network-online.target

[Service]
# READY=1 comes once every worker consumes, not when the master starts.
Type=notify
# Only the master notifies: workers drop NOTIFY_SOCKET from their environment,
# so nothing in a worker can report a state that the master does not vouch for.
NotifyAccess=main
ExecStart=${bindir}/svc-launch --binary %i --config-file ${config}
# The master re-reads its configuration files and applies them in every worker.
ExecReload=/bin/kill -HUP $$MAINPID
# SIGTERM to the master alone, which drains its workers; SIGKILL to whatever
# is left of the cgroup when TimeoutStopSec runs out.
KillMode=mixed
# Above graceful_shutdown_timeout (60 s by default), so that the master's own
# timeout kills stuck workers and logs which ones, before systemd does.
TimeoutStopSec=90
# The master sends WATCHDOG=1 every 15 s while no worker is hung.
WatchdogSec=30
Restart=on-failure
RestartSec=5
# 2: bad command line or configuration, 3: the workers cannot boot. Restarting
# does not fix either; the journal says why.
RestartPreventExitStatus=2 3

User=svcframe
Group=svcframe
# /var/lib/svcframe, owned by svcframe, private: set state_path to it.
StateDirectory=svcframe
StateDirectoryMode=0700
# /etc/svcframe, read-only to the service.
ConfigurationDirectory=svcframe
UMask=0077

# Hardening: what the service tolerates. It needs the network, its state
# directory, the journal and fork(); nothing else.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
# Not PrivateDevices=: the embedded transport's queues are in the host's
# /dev/shm by default, shared with the other units and with svc-manage. No
# device node is open to the service all the same.
DevicePolicy=closed
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
# Not RemoveIPC=: it would delete the queued messages in /dev/shm whenever
# the service stops or restarts.
KeyringMode=private
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# A refused system call fails with EPERM rather than killing the process.
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
""")


def render_unit(bindir=None, config=DEFAULT_CONFIG):
    """The unit text, running ``bindir``/svc-launch (default: this environment's)."""
    bindir = bindir or os.path.dirname(sys.executable)
    # Not resolved: a virtualenv's bin/python is a link out of the virtualenv.
    return _UNIT.substitute(
        bindir=os.path.abspath(bindir), config=config, documentation=DOCUMENTATION
    )


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "systemd",
        help="print or install the systemd template unit",
        description="The template unit svcframe@.service: one instance per component "
        "(svcframe@conductor), running svc-launch from this environment.",
    )
    unit = add_command(
        commands, "unit", print_unit, help="print the unit", description="Print the unit."
    )
    install = add_command(
        commands,
        "install",
        install_unit,
        help="write the unit",
        description=f"Write {UNIT_NAME} into the unit directory, then run "
        "'systemctl daemon-reload'.",
    )
    install.add_argument(
        "--unit-dir",
        default=DEFAULT_UNIT_DIR,
        metavar="DIR",
        help=f"where to write it ({DEFAULT_UNIT_DIR})",
    )
    for command in (unit, install):
        command.add_argument(
            "--bindir",
            metavar="DIR",
            help=f"directory of svc-launch (this environment's: {os.path.dirname(sys.executable)})",
        )
        command.add_argument(
            "--service-config",
            default=DEFAULT_CONFIG,
            metavar="PATH",
            help=f"the config file the service reads ({DEFAULT_CONFIG})",
        )


def print_unit(conf, args):
    sys.stdout.write(render_unit(args.bindir, args.service_config))


def install_unit(conf, args):
    text = render_unit(args.bindir, args.service_config)
    path = os.path.join(args.unit_dir, UNIT_NAME)
    launcher = os.path.join(
        os.path.abspath(args.bindir or os.path.dirname(sys.executable)), "svc-launch"
    )
    if not os.access(launcher, os.X_OK):
        return _fail(f"{launcher} is not an executable file: give the right --bindir")
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    print(f"Wrote {path} (ExecStart={launcher}); now run: systemctl daemon-reload")
    return 0


def _fail(message):
    return errors.fail("svc-manage", message)
