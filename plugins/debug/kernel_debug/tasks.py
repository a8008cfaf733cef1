"""A text dump of the trio task tree: every task under the root, indented by nursery depth."""

from __future__ import annotations

import trio


def task_tree() -> str:
    """The running tasks, from ``trio.lowlevel.current_root_task()`` down, one a line."""
    lines: list[str] = []

    def walk(task: trio.lowlevel.Task, depth: int) -> None:
        lines.append(f"{'  ' * depth}{task.name}")
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child, depth + 1)

    root = trio.lowlevel.current_root_task()
    if root is not None:
        walk(root, 0)
    lines.append(f"{len(lines)} tasks")
    return "\n".join(lines) + "\n"
