"""A site's World (carebot.world) generated into a MuJoCo model (MjSpec / MJCF).

Walls become static boxes along their segments (doors are the gaps), furniture
upright boxes, people mocap bodies holding a textured cut-out. The result is an
``mujoco.MjSpec``; ``world_mjcf_xml`` writes it as MJCF text for inspection or
other tools. The robot is attached by ``carebot.sim.robot``.
"""
from __future__ import annotations

import math

import mujoco

from carebot.sim.actors import Actor
from carebot.sim.assets import person_texture
from carebot.world import World

FLOOR_THICKNESS_M = 0.05
ACTOR_PREFIX = "actor_"
WORLD_GEOM_GROUP = 0     # walls, floor, furniture: the lidar sees group 0 and 2
ACTOR_GEOM_GROUP = 2     # people: lidar and camera see them

# Muted indoor colours (RGBA); furniture colours cycle so neighbours differ.
WALL_RGBA = (0.86, 0.84, 0.78, 1.0)
FURNITURE_RGBA = ((0.55, 0.38, 0.24, 1.0), (0.35, 0.45, 0.55, 1.0), (0.60, 0.60, 0.62, 1.0),
                  (0.45, 0.55, 0.35, 1.0))


def _quat_yaw(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


def build_world_spec(world: World, actors: list[Actor] = ()) -> mujoco.MjSpec:
    """MjSpec of the site: floor, walls, furniture, lights, and one mocap body per actor."""
    spec = mujoco.MjSpec()
    spec.modelname = world.name
    spec.compiler.degree = False
    spec.option.timestep = 0.01
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    spec.visual.quality.shadowsize = 0     # no shadow maps: software rendering stays fast
    spec.visual.headlight.ambient = [0.45, 0.45, 0.45]
    spec.visual.headlight.diffuse = [0.35, 0.35, 0.35]

    spec.add_texture(name="floor_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.72, 0.68, 0.60], rgb2=[0.66, 0.62, 0.55])
    floor_mat = spec.add_material(name="floor_mat", texrepeat=[world.width, world.height])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "floor_tex"
    spec.add_material(name="wall_mat", rgba=list(WALL_RGBA))

    body = spec.worldbody
    body.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_BOX, material="floor_mat",
                  pos=[world.width / 2, world.height / 2, -FLOOR_THICKNESS_M / 2],
                  size=[world.width / 2 + 1.0, world.height / 2 + 1.0, FLOOR_THICKNESS_M / 2],
                  group=WORLD_GEOM_GROUP)
    half_t = world.wall_thickness / 2
    for i, wall in enumerate(world.walls):
        yaw = math.atan2(wall.y1 - wall.y0, wall.x1 - wall.x0)
        body.add_geom(name=f"wall_{i}", type=mujoco.mjtGeom.mjGEOM_BOX, material="wall_mat",
                      pos=[(wall.x0 + wall.x1) / 2, (wall.y0 + wall.y1) / 2, world.wall_height / 2],
                      quat=_quat_yaw(yaw), size=[wall.length / 2 + half_t, half_t, world.wall_height / 2],
                      group=WORLD_GEOM_GROUP)
    for i, box in enumerate(world.furniture):
        body.add_geom(name=f"furniture_{box.name}", type=mujoco.mjtGeom.mjGEOM_BOX,
                      pos=[box.cx, box.cy, box.sz / 2], quat=_quat_yaw(box.yaw),
                      size=[box.sx / 2, box.sy / 2, box.sz / 2],
                      rgba=list(FURNITURE_RGBA[i % len(FURNITURE_RGBA)]), group=WORLD_GEOM_GROUP)
    # Ceiling lights spread over the site (software rendering: few, no shadows).
    for lx in (world.width * 0.25, world.width * 0.75):
        for ly in (world.height * 0.25, world.height * 0.75):
            light = body.add_light(pos=[lx, ly, world.wall_height + 1.0], dir=[0, 0, -1],
                                   diffuse=[0.35, 0.35, 0.35], castshadow=False)
            light.attenuation = [1.0, 0.0, 0.0]
    for actor in actors:
        add_actor(spec, actor)
    return spec


def add_actor(spec: mujoco.MjSpec, actor: Actor) -> None:
    """A mocap body with the person's photo on a thin box (pose set every step)."""
    tex_name = f"tex_{actor.photo}"
    if spec.texture(tex_name) is None:
        spec.add_texture(name=tex_name, type=mujoco.mjtTexture.mjTEXTURE_2D, file=str(person_texture(actor.photo)))
        mat = spec.add_material(name=f"mat_{actor.photo}")
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex_name
    centre, quat = actor.pose()
    body = spec.worldbody.add_body(name=ACTOR_PREFIX + actor.name, mocap=True, pos=list(centre), quat=list(quat))
    # No collisions: actors are kinematic; the robot's bumper check sees them by ray and contact filter.
    body.add_geom(name=f"{ACTOR_PREFIX}{actor.name}_cutout", type=mujoco.mjtGeom.mjGEOM_BOX,
                  size=list(actor.half_size()), material=f"mat_{actor.photo}", group=ACTOR_GEOM_GROUP)


def world_mjcf_xml(world: World, actors: list[Actor] = ()) -> str:
    """MJCF text of the site world (compiles on its own)."""
    spec = build_world_spec(world, actors)
    spec.compile()
    return spec.to_xml()
