"""The floor of the RPC benchmark: the same workloads on plain kombu, no framework.

A single-threaded server consumes one request queue bound to a topic
exchange (as a framework's topic queue is), acks each message after
handling it and replies through the default exchange to the caller's
reply queue with the request's correlation id.  The client publishes JSON
requests with ``reply_to``/``correlation_id`` and drains its exclusive
reply queue.  Messages are transient, queues not durable, and there are
no publisher confirms: this is what the broker and py-amqp can do, not a
fair framework.  Each of the 8 caller threads has its own connection and
reply queue (a kombu connection is not thread-safe).
"""

import os
import time
import uuid

import _common


def _entities(topic):
    import kombu

    exchange = kombu.Exchange(f"{topic}_x", type="topic", durable=False, auto_delete=False)
    queue = kombu.Queue(topic, exchange, routing_key=topic, durable=False, auto_delete=False)
    return exchange, queue


def server_main(args):
    import kombu

    _, queue = _entities(args.topic)
    state = {"count": 0, "stop": False, "pending": []}
    with kombu.Connection(_common.kombu_url(args.url)) as conn:
        conn.connect()
        producer = conn.Producer(serializer="json")

        def reply(props, result):
            producer.publish(
                {"r": result},
                exchange="",
                routing_key=props["reply_to"],
                correlation_id=props["correlation_id"],
                delivery_mode=1,
            )

        def flush_waiters():
            keep = []
            for n, props in state["pending"]:
                if state["count"] >= n:
                    reply(props, state["count"])
                else:
                    keep.append((n, props))
            state["pending"] = keep

        def on_message(body, message):
            m = body.get("m")
            props = message.properties
            if m == "echo":
                reply(props, body["x"])
            elif m == "noop":
                state["count"] += 1
                if state["pending"]:
                    flush_waiters()
            elif m == "reset":
                state["count"] = 0
                reply(props, 0)
            elif m == "wait_count":
                state["pending"].append((body["n"], props))
                flush_waiters()
            elif m == "shutdown":
                state["stop"] = True
            message.ack()

        with conn.Consumer([queue], callbacks=[on_message], accept=["json"]):
            print(f"{_common.READY_MARK}pid={os.getpid()} queues={args.topic}", flush=True)
            deadline = time.monotonic() + args.server_max_s
            while not state["stop"] and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except (TimeoutError, OSError):
                    pass


class FloorClient:
    """One connection, one exclusive reply queue, synchronous calls."""

    def __init__(self, url, topic):
        import kombu

        self.topic = topic
        self.conn = kombu.Connection(_common.kombu_url(url))
        self.conn.connect()
        self.exchange, _ = _entities(topic)
        self.reply_name = f"{topic}_reply_{uuid.uuid4().hex}"
        reply_q = kombu.Queue(self.reply_name, exclusive=True, auto_delete=True, durable=False)
        self.producer = self.conn.Producer(serializer="json")
        self.results = {}
        self.consumer = self.conn.Consumer(
            [reply_q], callbacks=[self._on_reply], accept=["json"], no_ack=True
        )
        self.consumer.consume()

    def _on_reply(self, body, message):
        self.results[message.properties["correlation_id"]] = body["r"]

    def call(self, m, timeout=120, **kw):
        corr = uuid.uuid4().hex
        kw["m"] = m
        self.producer.publish(
            kw,
            exchange=self.exchange,
            routing_key=self.topic,
            reply_to=self.reply_name,
            correlation_id=corr,
            delivery_mode=1,
        )
        deadline = time.monotonic() + timeout
        while corr not in self.results:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {m}")
            self.conn.drain_events(timeout=left)
        return self.results.pop(corr)

    def cast(self, m, **kw):
        kw["m"] = m
        self.producer.publish(kw, exchange=self.exchange, routing_key=self.topic, delivery_mode=1)

    def close(self):
        try:
            self.consumer.cancel()
        finally:
            self.conn.release()


def client_main(args):
    server, ready = _common.start_server(os.path.abspath(__file__), args)
    try:
        client = FloorClient(args.url, args.topic)

        def per_thread():
            clients = [FloorClient(args.url, args.topic) for _ in range(args.params["threads"])]

            def teardown():
                for c in clients:
                    c.close()

            return [c.call for c in clients], teardown

        res = {
            "system": "kombu",
            "kombu": _common.version_of("kombu"),
            "amqp": _common.version_of("amqp"),
            "server_ready": ready,
            "publisher_confirms": "off",
        }
        _common.run_workloads(
            client.call,
            client.cast,
            args.params,
            res,
            [("conc", per_thread)],
            args.params.get("only"),
        )
        client.cast("shutdown")
        _common.stop_server(server)
        client.close()
        res["queues"] = [args.topic]
        res["exchanges"] = [f"{args.topic}_x"]
        _common.emit_result(res)
    finally:
        if server.poll() is None:
            _common.stop_server(server, timeout=0)


def main():
    args = _common.parse_role_args()
    if args.role == "server":
        server_main(args)
    else:
        client_main(args)


if __name__ == "__main__":
    main()
