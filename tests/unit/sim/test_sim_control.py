"""sim/control commands parse into typed commands; bad ones name what is wrong."""
import math

import pytest

from carebot.sim.control import (ActorCommand, ControlError, LockstepCommand, RobotCommand, SayCommand, Tool,
                                 parse_command)
from carebot.world import load_world

WORLD = load_world("care_home")
ACTORS = {"resident", "nurse"}


def test_actor_commands():
    assert parse_command("fall", {"actor": "resident"}, WORLD, ACTORS) == ActorCommand(Tool.FALL, "resident")
    walk = parse_command("walk", {"actor": "nurse", "to": "kitchen"}, WORLD, ACTORS)
    kitchen = WORLD.places["kitchen"]
    assert walk.path == ((kitchen.x, kitchen.y),)
    walk = parse_command("WALK", {"actor": "nurse", "path": "1,2; 3,4"}, WORLD, ACTORS)
    assert walk.path == ((1.0, 2.0), (3.0, 4.0))
    place = parse_command("place", {"actor": "nurse", "x": "2", "y": "3", "yaw": "90"}, WORLD, ACTORS)
    assert place.pose == pytest.approx((2.0, 3.0, math.pi / 2))


def test_say_and_robot():
    say = parse_command("say", {"text": " help me ", "language": "zh"}, WORLD, ACTORS)
    assert say == SayCommand("help me", "zh", "", 130.0)
    robot = parse_command("robot", {"x": "5", "y": "3.6", "yaw": "180"}, WORLD, ACTORS)
    assert isinstance(robot, RobotCommand) and robot.pose == pytest.approx((5.0, 3.6, math.pi))
    assert parse_command("lockstep", {"on": "false"}, WORLD, ACTORS) == LockstepCommand(False)
    assert parse_command("lockstep", {"on": "On"}, WORLD, ACTORS) == LockstepCommand(True)


@pytest.mark.parametrize("tool, args, words", [
    ("dance", {}, "unknown tool"),
    ("fall", {"actor": "ghost"}, "unknown actor"),
    ("walk", {"actor": "nurse"}, "needs 'to'"),
    ("walk", {"actor": "nurse", "to": "moon"}, "unknown place"),
    ("walk", {"actor": "nurse", "path": "1;2"}, "not 'x,y'"),
    ("walk", {"actor": "nurse", "path": "100,2"}, "outside"),
    ("place", {"actor": "nurse", "x": "a", "y": "1"}, "not a number"),
    ("place", {"actor": "nurse", "x": "nan", "y": "1"}, "not finite"),
    ("robot", {"x": "1"}, "'y' is missing"),
    ("say", {"text": "  "}, "non-empty"),
    ("say", {"text": "x" * 600}, "longer than"),
    ("lockstep", {"on": "maybe"}, "on=true or on=false"),
])
def test_bad_commands(tool, args, words):
    with pytest.raises(ControlError, match=words):
        parse_command(tool, args, WORLD, ACTORS)
