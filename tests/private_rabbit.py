"""Private RabbitMQ nodes and clusters for the tests that stop, kill or cluster a broker.

Such tests must never touch the broker other suites share on
127.0.0.1:5672.  A private node is ``rabbitmq-server`` run from a fresh
directory (its own Mnesia, logs, config and Erlang cookie), as the
``rabbitmq`` user when the tests run as root, on node port 5680 + index and
distribution port 25680 + index, with the node name ``<suite><index>@localhost``.
Indexes 1-9 (ports 5681-5689, ``chaos1@localhost`` ...) are the chaos
suite's, index 10 (port 5690, ``restart10@localhost``) the functional
broker-restart test's: one pytest run runs both suites, and the chaos
suite's node runs until the end of the run.  The system rabbitmq.conf pins
the listener to 5672, so the private config sets its own.

    with PrivateCluster(3) as cluster:      # PrivateCluster(1): a single node
        cluster.url(1)                      # rabbit://guest:guest@127.0.0.1:5681/
        cluster.node(1).kill(); cluster.node(1).start()
        cluster.node(2).stop_app(); cluster.node(2).start_app()
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import kombu

__all__ = ["PrivateCluster", "PrivateNode", "rabbit_available"]

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
NODE_PORT_BASE = 5680
DIST_PORT_BASE = 25680
MAX_NODES = 10
START_TIMEOUT = 120
STOP_TIMEOUT = 60
# Writable by the rabbitmq user, unlike root's pytest tmp_path.
BASE_DIR = "/var/tmp"


def rabbit_available():
    """Why private nodes cannot run here, or None when they can."""
    for path in (RABBITMQ_SERVER, RABBITMQCTL):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("rabbitmq")
        except KeyError:
            return "there is no rabbitmq user to run the nodes as"
    return None


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class _Home:
    """The directory the nodes of one cluster share: the Erlang cookie, their data and logs."""

    def __init__(self, suite):
        self.path = tempfile.mkdtemp(prefix=f"svcframe-{suite}-", dir=BASE_DIR)
        os.chmod(self.path, 0o755)
        self.uid = self.gid = None
        if os.geteuid() == 0:
            user = pwd.getpwnam("rabbitmq")
            self.uid, self.gid = user.pw_uid, user.pw_gid
        cookie = os.path.join(self.path, ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(os.urandom(16).hex().upper())
        os.chmod(cookie, 0o400)
        self.chown(self.path)
        self.chown(cookie)

    def chown(self, path):
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)

    def command(self, argv):
        """argv run as the rabbitmq user (when root) with this HOME, hence this cookie."""
        if self.uid is None:
            return argv
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--init-groups",
            "--",
            *argv,
        ]

    def env(self, **extra):
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": self.path,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            # Not the system's env file: it names the shared node.
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.path, "rabbitmq-env.conf"),
        }
        env.update(extra)
        return env

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class PrivateNode:
    """One RabbitMQ node ``<suite><index>@localhost`` on port 5680 + index."""

    def __init__(self, index, home, suite="chaos"):
        if not 1 <= index <= MAX_NODES:
            raise ValueError(f"node index {index} is outside 1..{MAX_NODES}")
        self.index = index
        self.home = home
        self.name = f"{suite}{index}@localhost"
        self.port = NODE_PORT_BASE + index
        self.dist_port = DIST_PORT_BASE + index
        self.dir = os.path.join(home.path, f"{suite}{index}")
        self.proc = None
        self._output = None
        os.makedirs(os.path.join(self.dir, "log"), exist_ok=True)
        self.config = os.path.join(self.dir, "rabbitmq.conf")
        with open(self.config, "w") as f:
            f.write(
                f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                "loopback_users.guest = true\n"
                # A node killed -9 comes back at once; the rest of the cluster
                # must not wait long to notice it.
                "net_ticktime = 10\n"
                "log.console = false\n"
                "log.file.level = warning\n"
            )
        self.plugins = os.path.join(self.dir, "enabled_plugins")
        with open(self.plugins, "w") as f:
            f.write("[].\n")
        open(os.path.join(home.path, "rabbitmq-env.conf"), "a").close()
        for root, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                home.chown(os.path.join(root, name))
        home.chown(self.dir)

    @property
    def url(self):
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/"

    @property
    def amqp_url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self):
        return self.home.env(
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=self.plugins,
            RABBITMQ_CONFIG_FILE=self.config,
            RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )

    def start(self, wait=True):
        """Start the node process (its data survives a kill or stop)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        if _port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: another test run?")
        self._output = open(os.path.join(self.dir, "server.out"), "ab")
        self.proc = subprocess.Popen(
            self.home.command([RABBITMQ_SERVER]),
            env=self._env(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=START_TIMEOUT):
        """Block until the node accepts AMQP connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.tail()}")
            if _port_open(self.port):
                try:
                    with kombu.Connection(self.amqp_url, connect_timeout=2) as conn:
                        conn.connect()
                    return
                except Exception:  # noqa: BLE001 - still booting
                    pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not accept connections in {timeout} s:\n{self.tail()}")

    def wait_port_closed(self, timeout=STOP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while _port_open(self.port):
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.name} still listens on {self.port} after {timeout} s")
            time.sleep(0.1)

    def ctl(self, *args, timeout=STOP_TIMEOUT, check=True):
        """rabbitmqctl -n <this node> ...; its stdout."""
        result = subprocess.run(
            self.home.command([RABBITMQCTL, "-n", self.name, *args]),
            env=self.home.env(),
            cwd=self.home.path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {self.name} {' '.join(args)}: {result.stderr.strip()}"
            )
        return result.stdout

    def stop_app(self):
        self.ctl("stop_app")
        self.wait_port_closed()

    def start_app(self):
        self.ctl("start_app", timeout=START_TIMEOUT)
        self.wait_ready()

    def kill(self):
        """SIGKILL the node, as a crash would."""
        self._kill_group()
        self._close_output()
        self.wait_port_closed()

    def _kill_group(self):
        # rabbitmq-server is a shell that runs the Erlang VM as its child;
        # both are in the session started for them, whose id is the shell's pid.
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(STOP_TIMEOUT)

    def stop(self):
        """Stop the node cleanly (kill it if it does not stop)."""
        if self.running:
            # The shell turns SIGTERM into a clean stop of the VM.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group()
        self._close_output()

    def _close_output(self):
        if self._output is not None:
            self._output.close()
            self._output = None

    def tail(self, lines=30):
        text = []
        for path in (os.path.join(self.dir, "server.out"),):
            try:
                with open(path, errors="replace") as f:
                    text.extend(f.read().splitlines()[-lines:])
            except OSError:
                pass
        return "\n".join(text)

    def __repr__(self):
        return f"<PrivateNode {self.name} port {self.port}>"


class PrivateCluster:
    """``size`` private nodes of ``suite`` numbered from ``first``; the others join the first one.

    Nodes are addressed by their position in the cluster, from 1.
    """

    def __init__(self, size=1, first=1, suite="chaos"):
        if not (1 <= first and first + size - 1 <= MAX_NODES):
            raise ValueError(f"nodes {first}..{first + size - 1} are outside 1..{MAX_NODES}")
        self.home = _Home(suite)
        self.nodes = [PrivateNode(i, self.home, suite) for i in range(first, first + size)]

    def node(self, position):
        return self.nodes[position - 1]

    def url(self, *indexes):
        """A transport URL with the nodes given (all of them by default), in that order."""
        nodes = [self.node(i) for i in indexes] if indexes else self.nodes
        hosts = ",".join(f"guest:guest@127.0.0.1:{n.port}" for n in nodes)
        return f"rabbit://{hosts}/"

    def start(self):
        try:
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                node.wait_ready()
            first = self.nodes[0]
            for node in self.nodes[1:]:
                node.ctl("stop_app")
                node.ctl("join_cluster", first.name, timeout=START_TIMEOUT)
                node.start_app()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for node in self.nodes:
            if node.running:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()
        self.home.remove()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
