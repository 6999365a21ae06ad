"""The one ``main()`` body every carebot node shares.

It inits rclpy, builds the node, spins it (multi-threaded where the node has
callback groups that must not wait for each other, with carebot.executors'
pool, not rclpy's busy-looping MultiThreadedExecutor), and always shuts down:
Ctrl-C and an external shutdown end it quietly; a start-up error (a bad
parameter, a port in use) prints one line naming the reason and returns a
non-zero exit code instead of a traceback. ``kill -USR1 <pid>`` writes the stack of
every thread to stderr (the node's log) without stopping it: how a hung node is diagnosed.
"""
from __future__ import annotations

import faulthandler
import signal
import sys
from typing import Callable, TypeVar

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

from carebot.executors import PooledExecutor

NodeT = TypeVar("NodeT", bound=Node)
EXIT_BAD_CONFIG = 2


def run_node(make_node: Callable[[], NodeT], *, name: str, threads: int = 1,
             on_exit: Callable[[NodeT], None] | None = None,
             start_errors: tuple[type[BaseException], ...] = (ValueError,),
             start_error_code: int = EXIT_BAD_CONFIG, args: list[str] | None = None) -> int:
    """Run one node until shutdown; returns the process exit code.

    on_exit runs before the node is destroyed (stop the base, close a server);
    its own failure is reported but never hides the shutdown.
    """
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    rclpy.init(args=args)
    node: NodeT | None = None
    code = 0
    try:
        node = make_node()
        executor = PooledExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except _rclpy.RCLError:
        # SIGINT shut the context down while the executor was building its wait set (rclpy
        # raises "context is not valid" then, not ExternalShutdownException): still a shutdown.
        if rclpy.ok():
            raise
    except start_errors as exc:
        print(f"[{name}] cannot start: {exc}", file=sys.stderr, flush=True)
        code = start_error_code
    finally:
        if node is not None:
            if on_exit is not None:
                try:
                    on_exit(node)
                except Exception as exc:  # the context may already be gone at shutdown
                    print(f"[{name}] during shutdown: {exc}", file=sys.stderr, flush=True)
            node.destroy_node()
        rclpy.try_shutdown()
    return code
