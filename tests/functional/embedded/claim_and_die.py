"""Claims one message on the embedded transport, never acks it, and waits to be killed."""

import sys

import kombu

from svcframe.messaging.drivers.embedded.channel import Transport


def main():
    data_dir, queue = sys.argv[1], sys.argv[2]
    conn = kombu.Connection(transport=Transport, transport_options={"data_dir": data_dir})
    got = []
    consumer = kombu.Consumer(
        conn.channel(), queues=[kombu.Queue(queue)], on_message=got.append, no_ack=False
    )
    consumer.consume()
    while not got:
        try:
            conn.drain_events(timeout=1)
        except TimeoutError:
            pass
    print("CLAIMED", got[0].body, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
