"""Prints, as JSON, how svcframe's options compare with the installed oslo.messaging's.

Run as a subprocess: importing oslo.messaging must not happen in the test
process (see interop_harness).  Output keys:

* ``different``: [group, option, fields that differ] for every option both
  define and oslo.config would call a duplicate (``Opt.__eq__``, what
  ``register_opt`` decides with).
* ``shared``: how many options both define.
* ``registration``: the error (or "ok") of registering both libraries on one
  ConfigOpts in each order, and on ``cfg.CONF`` in the order given as the
  first argument (``svcframe-first`` or ``oslo-first``).
* ``defaults``: the error (or "ok") of registering oslo.messaging's options
  after svcframe's ``set_transport_defaults("nova")``, and the exchange read.
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

from oslo_config import cfg  # noqa: E402
from oslo_messaging import conffixture, opts  # noqa: E402

from svcframe import conf as svc_conf  # noqa: E402
from svcframe import messaging  # noqa: E402
from svcframe.conf import messaging as messaging_conf  # noqa: E402
from svcframe.conf import notifications, rabbit  # noqa: E402


def _by_group(pairs):
    groups = {}
    for group, optlist in pairs:
        name = getattr(group, "name", group) or "DEFAULT"
        groups.setdefault(name, {}).update({opt.name: opt for opt in optlist})
    return groups


def compare():
    theirs = _by_group(opts.list_opts())
    ours = _by_group(messaging_conf.list_opts() + rabbit.list_opts() + notifications.list_opts())
    different, shared = [], 0
    for group, options in ours.items():
        for name, opt in options.items():
            other = theirs.get(group, {}).get(name)
            if other is None:
                continue
            shared += 1
            if opt != other:
                fields = sorted(k for k in vars(opt) if vars(opt)[k] != vars(other).get(k))
                different.append([group, name, fields])
    return shared, different


def register_svcframe(conf):
    svc_conf.register_messaging_opts(conf)
    notifications.register_opts(conf)


def register_oslo(conf):
    # What a process using oslo.messaging registers: the fixture covers every group.
    fixture = conffixture.ConfFixture(conf)
    fixture.setUp()


def _try(*steps):
    try:
        for step in steps:
            step()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def registration(cfg_conf_order):
    """Both orders on new ConfigOpts; on cfg.CONF, the order given (it is registered once)."""
    results = {}
    c1, c2 = cfg.ConfigOpts(), cfg.ConfigOpts()
    results["svcframe then oslo"] = _try(lambda: register_svcframe(c1), lambda: register_oslo(c1))
    results["oslo then svcframe"] = _try(lambda: register_oslo(c2), lambda: register_svcframe(c2))
    first, second = (register_svcframe, register_oslo)
    if cfg_conf_order == "oslo-first":
        first, second = second, first
    results[f"cfg.CONF, {cfg_conf_order}"] = _try(lambda: first(cfg.CONF), lambda: second(cfg.CONF))
    return results


def defaults():
    messaging.set_transport_defaults("nova")
    conf = cfg.ConfigOpts()
    outcome = _try(lambda: register_svcframe(conf), lambda: register_oslo(conf))
    conf([])
    return {"registration": outcome, "control_exchange": conf.control_exchange}


if __name__ == "__main__":
    shared, different = compare()
    order = sys.argv[1] if len(sys.argv) > 1 else "svcframe-first"
    print(
        json.dumps(
            {
                "shared": shared,
                "different": different,
                "registration": registration(order),
                "defaults": defaults(),
            }
        )
    )
