import os

from svcframe.launcher import _channel


def test_messages_cross_a_pipe_whole():
    rfd, wfd = os.pipe()
    try:
        _channel.send(wfd, _channel.HEARTBEAT)
        _channel.send(wfd, _channel.BOOT_ERROR, "ValueError: bad\nvalue")
        _channel.send(wfd, _channel.READY)
        data = os.read(rfd, 4096)
    finally:
        os.close(rfd)
        os.close(wfd)
    reader = _channel.Reader()
    assert reader.feed(data[:5]) == [(_channel.HEARTBEAT, "")]
    assert reader.feed(data[5:]) == [
        (_channel.BOOT_ERROR, "ValueError: bad value"),
        (_channel.READY, ""),
    ]


def test_long_messages_fit_in_one_atomic_write():
    rfd, wfd = os.pipe()
    try:
        _channel.send(wfd, _channel.BOOT_ERROR, "é" * 5000)
        data = os.read(rfd, 65536)
    finally:
        os.close(rfd)
        os.close(wfd)
    assert len(data) <= 512
    [(kind, text)] = _channel.Reader().feed(data)
    assert kind == _channel.BOOT_ERROR
    assert text.startswith("éé")
