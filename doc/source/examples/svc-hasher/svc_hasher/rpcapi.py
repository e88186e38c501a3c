"""The hasher's client side: the stubs other components call.

API versions are listed in the component's changelog.
"""

from svcframe.rpcapi import RPCAPI


class HasherAPI(RPCAPI):
    RPC_TOPIC = "hasher"
    RPC_API_VERSION = "1.0"
    #: Release names accepted in [upgrade_levels] hasher.
    VERSION_ALIASES = {"2026.1": "1.0"}
    #: Exceptions from these modules are re-raised as themselves.
    ALLOWED_REMOTE_EXMODS = ["svc_hasher.manager"]

    def digest(self, context, data, algorithm=None):
        # topic: any hasher service may answer.
        return self.prepare("digest").call(context, "digest", data=data, algorithm=algorithm)

    def stats(self, context, host):
        # topic.host: only the service on ``host`` answers.
        return self.prepare("stats", host=host).call(context, "stats")

    def reset_stats(self, context):
        # fanout: every process of every hasher service gets it; no reply.
        self.prepare("reset_stats", fanout=True).cast(context, "reset_stats")
