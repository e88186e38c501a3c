"""Calls a service's ``baseapi`` the way nova does, and prints one JSON line.

    nova_baseapi_peer.py --config-file F --host H [--ping-deadline SECONDS]

Uses nova's own ``nova.baserpc.BaseAPI`` when nova is importable; otherwise
an oslo.messaging client built as nova's is: topic ``conductor``, namespace
``baseapi``, version 1.0 (1.1 for ``get_backdoor_port``, to one host),
``[upgrade_levels] baseapi`` as the version cap, ``arg`` sent as a JSON
primitive.  Pings until the first answer or the deadline (the service may
still be starting), then asks for the backdoor port.
"""

import argparse
import json
import sys
import time
import warnings

warnings.simplefilter("ignore")

import oslo_messaging as messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_serialization import jsonutils  # noqa: E402

TOPIC = "conductor"


class NovaShapedBaseAPI:
    """nova.baserpc.BaseAPI, line for line, for environments without nova."""

    def __init__(self, conf, transport, topic):
        target = messaging.Target(topic=topic, namespace="baseapi", version="1.0")
        conf.register_opts([cfg.StrOpt("baseapi")], group="upgrade_levels")
        version_cap = conf.upgrade_levels.baseapi
        self.client = messaging.get_rpc_client(transport, target, version_cap=version_cap)

    def ping(self, context, arg, timeout=None):
        arg_p = jsonutils.to_primitive(arg)
        cctxt = self.client.prepare(timeout=timeout)
        return cctxt.call(context, "ping", arg=arg_p)

    def get_backdoor_port(self, context, host):
        cctxt = self.client.prepare(server=host, version="1.1")
        return cctxt.call(context, "get_backdoor_port")


def nova_client(conf):
    """(client, context, which): nova's own BaseAPI and context when nova is installed."""
    try:
        from nova import baserpc, rpc
        from nova import context as nova_context
    except ImportError:
        transport = messaging.get_rpc_transport(conf)
        context = {"user_id": "nova-peer", "project_id": "interop"}
        return (
            NovaShapedBaseAPI(conf, transport, TOPIC),
            context,
            "oslo.messaging client shaped as nova's",
        )
    rpc.init(conf)
    context = nova_context.RequestContext(user_id="nova-peer", project_id="interop")
    return baserpc.BaseAPI(TOPIC), context, "nova.baserpc.BaseAPI"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--ping-deadline", type=float, default=60.0)
    args = parser.parse_args()

    conf = cfg.CONF
    conf(args=["--config-file", args.config_file], project="nova", default_config_dirs=[])
    client, context, which = nova_client(conf)

    deadline = time.monotonic() + args.ping_deadline
    while True:
        try:
            pong = client.ping(context, {"hello": "svcframe"}, timeout=5)
            break
        except messaging.MessagingTimeout:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    port = client.get_backdoor_port(context, args.host)
    print(json.dumps({"client": which, "ping": pong, "backdoor_port": port}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
