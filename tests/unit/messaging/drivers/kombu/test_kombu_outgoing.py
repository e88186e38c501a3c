"""Outgoing: a message on its way to the broker, built by keyword."""

import dataclasses

import kombu
import pytest

from svcframe.messaging.drivers.kombu.outgoing import Outgoing, Settlement, declare_exchange


def test_an_outgoing_message_is_built_by_keyword_only():
    with pytest.raises(TypeError):
        Outgoing("", "reply_q", "{}", True, "reply")


def test_what_an_outgoing_message_leaves_out_is_none():
    outgoing = Outgoing(exchange="", routing_key="q", body="{}", mandatory=False, kind="reply")
    assert (outgoing.expiration, outgoing.msg_id, outgoing.settled) == (None, None, None)
    assert not hasattr(outgoing, "__dict__")  # slots: one is made per publish


def test_two_messages_with_the_same_fields_are_not_the_same_message():
    fields = dict(exchange="", routing_key="q", body="{}", mandatory=True, kind="cast")
    assert Outgoing(**fields) != Outgoing(**fields)


@pytest.mark.parametrize("exchange, name", [("", ""), (kombu.Exchange("nova"), "nova")])
def test_the_exchange_name_is_the_default_exchange_or_the_exchange_s(exchange, name):
    outgoing = Outgoing(exchange=exchange, routing_key="q", body="{}", mandatory=True, kind="cast")
    assert outgoing.exchange_name == name


def test_the_properties_are_persistent_and_carry_a_call_s_timeout_in_milliseconds():
    call = Outgoing(
        exchange="", routing_key="q", body="{}", mandatory=True, kind="call", expiration=2.5
    )
    cast = dataclasses.replace(call, kind="cast", expiration=None)
    assert call.properties() == {"delivery_mode": 2, "expiration": "2500"}
    assert cast.properties() == {"delivery_mode": 2}


def test_each_publish_gets_properties_of_its_own():
    outgoing = Outgoing(exchange="", routing_key="q", body="{}", mandatory=True, kind="cast")
    outgoing.properties()["priority"] = 0
    assert outgoing.properties() == {"delivery_mode": 2}


def test_prepare_hands_the_body_and_properties_to_a_virtual_channel():
    class Channel:
        def prepare_message(self, *args):
            return args

    outgoing = Outgoing(
        exchange="", routing_key="q", body='{"a": 1}', mandatory=True, kind="call", expiration=1
    )
    body, priority, content_type, encoding, headers, properties = outgoing.prepare(Channel())
    assert (body, priority, content_type, encoding, headers) == (
        '{"a": 1}',
        0,
        "application/json",
        "utf-8",
        {},
    )
    assert properties == {"delivery_mode": 2, "expiration": "1000"}


def test_an_exchange_is_declared_once_per_set_and_the_default_one_never():
    declared_on = []

    class Exchange:
        name = "nova"

        def __call__(self, channel):
            declared_on.append(channel)
            return self

        def declare(self):
            pass

    declared = set()
    exchange = Exchange()
    for channel in ("ch1", "ch1"):
        declare_exchange(channel, exchange, declared)
    declare_exchange("ch1", "", declared)
    declare_exchange("ch2", exchange, set())
    assert declared_on == ["ch1", "ch2"]
    assert declared == {"nova"}


def test_a_settlement_is_a_verdict_to_wait_for():
    settled = Settlement()
    assert not settled.wait(0)
    settled.returned = ("nova", "compute", "NO_ROUTE")
    settled.event.set()
    assert settled.wait(0) and settled.returned[2] == "NO_ROUTE"
